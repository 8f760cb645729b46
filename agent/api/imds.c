/* IMDSv2 client. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cjson/cJSON.h>

#include "nodetrail/api/imds.h"
#include "nodetrail/base/clock.h"
#include "nodetrail/base/http.h"
#include "nodetrail/base/log.h"
#include "nodetrail/base/loop.h"
#include "nodetrail/base/rng.h"

#define TOKEN_TTL_S 21600
#define BODY_MAX 65536
#define BACKOFF_MAX_S 30

/* libcurl's codes for "nobody answers there" (curl/curl.h, not included here) */
#define CURL_CANT_RESOLVE 6
#define CURL_CANT_CONNECT 7
#define CURL_TIMED_OUT 28

enum imds_query {
	Q_TOKEN = 0,
	Q_INSTANCE_ID,
	Q_INSTANCE_TYPE,
	Q_ZONE,
	Q_LIFE_CYCLE,
	Q_SPOT_ACTION,
	Q_REBALANCE,
	Q_MAINTENANCE,
	Q_COUNT,
};

static const char *const query_paths[Q_COUNT] = {
	"/latest/api/token",
	"/latest/meta-data/instance-id",
	"/latest/meta-data/instance-type",
	"/latest/meta-data/placement/availability-zone",
	"/latest/meta-data/instance-life-cycle",
	"/latest/meta-data/spot/instance-action",
	"/latest/meta-data/events/recommendations/rebalance",
	"/latest/meta-data/events/maintenance/scheduled",
};

struct imds_request {
	struct imds *m;
	enum imds_query q;
	struct http_transfer *t;
	char body[BODY_MAX];
	size_t len;
};

struct imds {
	struct imds_options opts;
	char token[256];
	int64_t token_expires_ns;
	bool token_pending;
	int64_t next_poll_ns;
	int64_t retry_at_ns;
	uint64_t timer;           /* the next step, 0 if none is due (a request is in flight) */
	bool found_again;         /* off, then found: tell once the identity is known */
	unsigned failures;
	int64_t action_gone_since_ns; /* CLOCK_MONOTONIC: instance-action answers 404 since; 0: it does not */
	struct imds_request req[Q_COUNT];
	struct imds_stats stats;
};

static void start_query(struct imds *m, enum imds_query q);
static void schedule(struct imds *m);

static int on_data(void *ctx, long status, const char *data, size_t len)
{
	struct imds_request *r = ctx;

	if (r->len + len >= BODY_MAX)
		return -1;
	memcpy(r->body + r->len, data, len);
	r->len += len;
	r->body[r->len] = '\0';
	return 0;
}

static void changed(struct imds *m)
{
	if (m->opts.changed)
		m->opts.changed(m->opts.ctx);
}

/* --imds auto, and the token request was refused, timed out or got a 403:
 * not on EC2 (or IMDS is disabled, or out of this pod's hop limit). Off,
 * but asked again every recheck_s: an instance's metadata options change. */
static void absent(struct imds *m, const char *why)
{
	m->failures = 0;
	m->retry_at_ns = clock_ns(CLOCK_MONOTONIC) + (int64_t)m->opts.recheck_s * 1000000000LL;
	if (!m->stats.on)
		return;
	m->stats.on = false;
	m->stats.rechecks = 0;
	snprintf(m->stats.reason, sizeof(m->stats.reason), "%s", why);
	log_info("IMDS off: %s; asking again every %u s", why, m->opts.recheck_s);
	changed(m);
}

/* Anything else (5xx, 429, a slow answer, a broken connection) is
 * transient: back off, 1 s doubling to 30 s with jitter, and retry. */
static void failed(struct imds *m, const char *what, const char *err)
{
	int64_t delay_ms;

	m->stats.errors++;
	m->failures++;
	delay_ms = 1000LL << (m->failures < 6 ? m->failures - 1 : 5);
	if (delay_ms > BACKOFF_MAX_S * 1000)
		delay_ms = BACKOFF_MAX_S * 1000;
	delay_ms = delay_ms * 4 / 5 + rng_below((uint32_t)(delay_ms * 2 / 5 + 1)); /* +-20% */
	if (m->failures == 1 || m->failures % 10 == 0)
		log_warn("IMDS %s failed: %s, retrying in %.1f s (%u failures in a row)", what, err,
			 (double)delay_ms / 1000.0, m->failures);
	m->retry_at_ns = clock_ns(CLOCK_MONOTONIC) + delay_ms * 1000000LL;
}

/* copy an IMDS answer into a fixed field, cut to fit */
static void set_field(char *dst, size_t len, const char *v)
{
	size_t n = strnlen(v, len - 1);

	memcpy(dst, v, n);
	dst[n] = '\0';
}

static void apply_identity(struct imds *m, enum imds_query q, const char *v)
{
	struct record_node *n = m->opts.node;

	switch (q) {
	case Q_INSTANCE_ID: set_field(n->instance_id, sizeof(n->instance_id), v); break;
	case Q_INSTANCE_TYPE: set_field(n->instance_type, sizeof(n->instance_type), v); break;
	case Q_ZONE: set_field(n->availability_zone, sizeof(n->availability_zone), v); break;
	case Q_LIFE_CYCLE:
		/* the ground truth for spot, whatever the labels say */
		snprintf(n->capacity_type, sizeof(n->capacity_type), "%s", strcmp(v, "spot") == 0 ? "SPOT" : "ON_DEMAND");
		break;
	default: break;
	}
	if (n->instance_id[0] && n->instance_type[0] && n->availability_zone[0] && !m->stats.identity) {
		m->stats.identity = true;
		log_info("IMDS: instance %s, %s in %s, %s", n->instance_id, n->instance_type, n->availability_zone,
			 n->capacity_type[0] ? n->capacity_type : "capacity type unknown");
		if (m->found_again) {
			m->found_again = false;
			changed(m);
		}
	}
}

int imds_parse_spot_action(const char *body, struct imds_notice *ret)
{
	cJSON *o = cJSON_Parse(body);
	const char *action = cJSON_GetStringValue(cJSON_GetObjectItem(o, "action"));
	const char *when = cJSON_GetStringValue(cJSON_GetObjectItem(o, "time"));
	int r = -EINVAL;

	memset(ret, 0, sizeof(*ret));
	if (action && *action && when) {
		set_field(ret->what, sizeof(ret->what), action);
		ret->time_ns = clock_parse(when);
		r = 0;
	}
	cJSON_Delete(o);
	return r;
}

int imds_parse_rebalance(const char *body, struct imds_notice *ret)
{
	cJSON *o = cJSON_Parse(body);
	const char *when = cJSON_GetStringValue(cJSON_GetObjectItem(o, "noticeTime"));
	int r = -EINVAL;

	memset(ret, 0, sizeof(*ret));
	if (when && (ret->time_ns = clock_parse(when))) {
		set_field(ret->what, sizeof(ret->what), "rebalance");
		r = 0;
	}
	cJSON_Delete(o);
	return r;
}

/* "21 Jan 2019 09:00:43 GMT", the format IMDS uses for maintenance windows */
static int64_t parse_imds_time(const char *s)
{
	struct tm tm = { 0 };

	time_t t;

	if (!s || !strptime(s, "%d %b %Y %H:%M:%S", &tm))
		return 0;
	t = timegm(&tm);
	/* found by fuzz_imds: a year past 2262 overflowed the ns */
	return t < 0 || t > 9000000000LL ? 0 : (int64_t)t * 1000000000LL;
}

int imds_parse_maintenance(const char *body, struct imds_notice *ret)
{
	cJSON *list = cJSON_Parse(body), *e, *events;
	int r = cJSON_IsArray(list) ? 0 : -EINVAL;

	memset(ret, 0, sizeof(*ret));
	events = r == 0 ? list : NULL;
	cJSON_ArrayForEach(e, events) {
		const char *state = cJSON_GetStringValue(cJSON_GetObjectItem(e, "State"));
		const char *code = cJSON_GetStringValue(cJSON_GetObjectItem(e, "Code"));

		if (!cJSON_IsObject(e) || (state && (!strcmp(state, "canceled") || !strcmp(state, "completed"))))
			continue;
		set_field(ret->what, sizeof(ret->what), code ? code : "scheduled maintenance");
		ret->time_ns = parse_imds_time(cJSON_GetStringValue(cJSON_GetObjectItem(e, "NotBefore")));
		r = 1;
		break;
	}
	cJSON_Delete(list);
	return r;
}

/* instance-action gone this long: withdrawn, not a flap between two polls */
#define ACTION_WITHDRAWN_NS (60LL * 1000000000LL)

static uint32_t pods_on_node(const struct imds *m)
{
	return m->opts.state ? node_state_pod_count(m->opts.state) : 0;
}

static void apply_spot_action(struct imds *m, const char *body)
{
	struct imds_notice n;

	if (imds_parse_spot_action(body, &n) < 0) {
		m->stats.errors++;
		return;
	}
	m->action_gone_since_ns = 0;
	set_field(m->stats.spot_action, sizeof(m->stats.spot_action), n.what);
	if (m->opts.interruption)
		interruption_claim(m->opts.interruption,
				   &(struct interruption_notice){ .src = ISRC_IMDS_ACTION, .kind = INTERRUPTION_SPOT,
								  .deadline_ns = n.time_ns, .exact = true, .detail = n.what },
				   pods_on_node(m));
}

/* 404: nothing pending; a notice that was is withdrawn once it stays away */
static void spot_action_gone(struct imds *m)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC);

	m->stats.spot_action[0] = '\0';
	if (!m->action_gone_since_ns)
		m->action_gone_since_ns = now;
	if (now - m->action_gone_since_ns >= ACTION_WITHDRAWN_NS && m->opts.interruption)
		interruption_withdraw(m->opts.interruption, ISRC_IMDS_ACTION);
}

static void apply_maintenance(struct imds *m, const char *body)
{
	struct imds_notice n;
	int r = imds_parse_maintenance(body, &n);

	if (r < 0) {
		m->stats.errors++;
		return;
	}
	if (!m->opts.interruption)
		return;
	if (r == 0) /* none active: completed, canceled, or never was */
		interruption_withdraw(m->opts.interruption, ISRC_IMDS_MAINTENANCE);
	else
		interruption_claim(m->opts.interruption,
				   &(struct interruption_notice){ .src = ISRC_IMDS_MAINTENANCE, .kind = INTERRUPTION_MAINTENANCE,
								  .deadline_ns = n.time_ns, .exact = true, .detail = n.what },
				   pods_on_node(m));
}

static void apply_rebalance(struct imds *m, const char *body)
{
	struct imds_notice n;
	char when[CLOCK_TEXT_LEN];

	if (imds_parse_rebalance(body, &n) < 0) {
		m->stats.errors++;
		return;
	}
	clock_format(n.time_ns, when);
	if (strcmp(m->stats.rebalance_notice, when) != 0) {
		log_warn("IMDS: rebalance recommendation at %s: a spot interruption is more likely soon", when);
		if (m->opts.interruption)
			interruption_risk(m->opts.interruption, "imds", "rebalance recommendation", n.time_ns);
	}
	snprintf(m->stats.rebalance_notice, sizeof(m->stats.rebalance_notice), "%s", when);
}

static void handle_done(struct imds_request *r, int curl_code, long status, const char *err)
{
	struct imds *m = r->m;
	char *body = r->body;

	r->t = NULL;
	body[r->len] = '\0';
	/* plain-text answers (token, identity) end at their first line */
	if (r->q <= Q_LIFE_CYCLE)
		body[strcspn(body, "\r\n")] = '\0';
	if (r->q == Q_TOKEN)
		m->token_pending = false;
	if (r->q == Q_TOKEN && m->opts.mode == CONFIG_AUTO && !m->stats.identity &&
	    ((curl_code == CURL_CANT_CONNECT || curl_code == CURL_CANT_RESOLVE || curl_code == CURL_TIMED_OUT) ||
	     (!curl_code && status == 403))) {
		char why[256];

		snprintf(why, sizeof(why), "not on EC2, or IMDS unreachable: %s%s %s", m->opts.endpoint, query_paths[Q_TOKEN],
			 curl_code ? err : "403 (IMDS disabled, or the hop limit too low for this pod)");
		absent(m, why);
		return;
	}
	if (curl_code) {
		failed(m, query_paths[r->q], err);
		return;
	}
	if (status == 401) {
		/* expired or revoked: a new token, then the next poll asks again */
		m->stats.unauthorized++;
		m->token_expires_ns = 0;
		return;
	}
	if (status == 404) {
		/* nothing pending (instance-action, rebalance): the normal answer */
		if (r->q == Q_SPOT_ACTION)
			spot_action_gone(m);
		if (r->q == Q_MAINTENANCE && m->opts.interruption)
			interruption_withdraw(m->opts.interruption, ISRC_IMDS_MAINTENANCE);
		return;
	}
	if (status != 200) {
		char what[64];

		snprintf(what, sizeof(what), "HTTP %ld", status);
		failed(m, query_paths[r->q], status == 403 ? "403 (IMDS disabled, or the hop limit too low for this pod)" : what);
		return;
	}
	m->failures = 0;
	if (!m->stats.on) {
		/* asked again, and there it is */
		m->stats.on = true;
		m->stats.reason[0] = '\0';
		log_info("IMDS answers at %s now", m->opts.endpoint);
		m->found_again = true; /* said once the identity is known */
	}
	switch (r->q) {
	case Q_TOKEN:
		if (strlen(body) >= sizeof(m->token)) {
			failed(m, "token", "token longer than expected");
			return;
		}
		memcpy(m->token, body, strlen(body) + 1);
		m->token_expires_ns = clock_ns(CLOCK_MONOTONIC) + (TOKEN_TTL_S - 60) * 1000000000LL;
		m->stats.token_refreshes++;
		if (!m->stats.identity)
			for (int q = Q_INSTANCE_ID; q <= Q_LIFE_CYCLE; q++)
				start_query(m, (enum imds_query)q);
		break;
	case Q_INSTANCE_ID:
	case Q_INSTANCE_TYPE:
	case Q_ZONE:
	case Q_LIFE_CYCLE:
		apply_identity(m, r->q, body);
		break;
	case Q_SPOT_ACTION:
		apply_spot_action(m, body);
		break;
	case Q_REBALANCE:
		apply_rebalance(m, body);
		break;
	case Q_MAINTENANCE:
		apply_maintenance(m, body);
		break;
	default:
		break;
	}
}

static void on_done(void *ctx, int curl_code, long status, const char *err)
{
	struct imds_request *r = ctx;

	handle_done(r, curl_code, status, err);
	schedule(r->m);
}

static void start_query(struct imds *m, enum imds_query q)
{
	struct imds_request *r = &m->req[q];
	char url[512], token_hdr[320], ttl_hdr[64];
	const char *headers[2] = { NULL, NULL };
	struct http_request req = { .url = url, .headers = headers, .timeout_ms = 2000,
				    .connect_timeout_ms = 1000, .on_data = on_data, .on_done = on_done, .ctx = r };

	if (r->t)
		return; /* still in flight */
	snprintf(url, sizeof(url), "%s%s", m->opts.endpoint, query_paths[q]);
	if (q == Q_TOKEN) {
		snprintf(ttl_hdr, sizeof(ttl_hdr), "X-aws-ec2-metadata-token-ttl-seconds: %d", TOKEN_TTL_S);
		headers[0] = ttl_hdr;
		req.method = "PUT";
		m->token_pending = true;
	} else {
		snprintf(token_hdr, sizeof(token_hdr), "X-aws-ec2-metadata-token: %s", m->token);
		headers[0] = token_hdr;
	}
	r->m = m;
	r->q = q;
	r->len = 0;
	r->t = http_start(m->opts.http, &req);
	if (r->t)
		m->stats.requests++;
	else if (q == Q_TOKEN)
		m->token_pending = false;
}

/* What is due now: a token, the identity, or the poll. */
static void step(struct imds *m)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC);

	if (now < m->retry_at_ns)
		return;
	if (!m->stats.on) {
		m->stats.rechecks++;
		start_query(m, Q_TOKEN);
		return;
	}
	if (now >= m->token_expires_ns) {
		if (!m->token_pending)
			start_query(m, Q_TOKEN);
		return;
	}
	if (!m->stats.identity) {
		for (int q = Q_INSTANCE_ID; q <= Q_LIFE_CYCLE; q++)
			start_query(m, (enum imds_query)q);
		return;
	}
	if (now < m->next_poll_ns)
		return;
	m->next_poll_ns = now + (int64_t)m->opts.poll_s * 1000000000LL;
	start_query(m, Q_SPOT_ACTION);
	start_query(m, Q_REBALANCE);
	start_query(m, Q_MAINTENANCE);
}

static void on_timer(struct loop *loop, uint64_t id, void *data)
{
	struct imds *m = data;

	m->timer = 0;
	step(m);
	schedule(m);
}

static bool in_flight(const struct imds *m)
{
	for (int q = 0; q < Q_COUNT; q++)
		if (m->req[q].t)
			return true;
	return false;
}

/* Arm the timer for the next step: after a failure's backoff, at the next
 * poll, or a second from now while the token or the identity is awaited.
 * Nothing while a request is in flight: its end schedules again. */
static void schedule(struct imds *m)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC), at;

	loop_timer_del(m->opts.loop, m->timer);
	m->timer = 0;
	if (in_flight(m))
		return;
	if (now < m->retry_at_ns || !m->stats.on)
		at = m->retry_at_ns;
	else if (now >= m->token_expires_ns || !m->stats.identity)
		at = now + 1000000000LL;
	else
		at = m->next_poll_ns < m->token_expires_ns ? m->next_poll_ns : m->token_expires_ns;
	m->timer = loop_timer_add(m->opts.loop, at > now ? (uint64_t)((at - now + 999999) / 1000000) : 0, on_timer, m);
}

int imds_new(const struct imds_options *opts, struct imds **ret)
{
	struct imds *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->opts = *opts;
	if (m->opts.poll_s < 1)
		m->opts.poll_s = 2;
	if (m->opts.recheck_s < 1)
		m->opts.recheck_s = 300;
	m->stats.on = true;
	start_query(m, Q_TOKEN);
	schedule(m);
	*ret = m;
	return 0;
}

void imds_free(struct imds *m)
{
	if (!m)
		return;
	loop_timer_del(m->opts.loop, m->timer);
	for (int q = 0; q < Q_COUNT; q++)
		http_cancel(m->opts.http, m->req[q].t);
	explicit_bzero(m->token, sizeof(m->token));
	free(m);
}

void imds_get_stats(const struct imds *m, struct imds_stats *ret)
{
	*ret = m->stats;
}

/* The node-scoped list+watch streams. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nodetrail/api/kube_client.h"
#include "nodetrail/api/kube_watch.h"
#include "nodetrail/base/clock.h"
#include "nodetrail/base/http.h"
#include "nodetrail/base/log.h"
#include "nodetrail/base/loop.h"
#include "nodetrail/base/rng.h"

#define BACKOFF_MIN_MS 800
#define BACKOFF_MAX_MS 30000
/* a 410 this soon after its watch began means the server cannot serve the list's version */
#define FAST_410_NS (10 * 1000000000LL)
#define TOKEN_RELOAD_S 60

enum stream_state { ST_IDLE, ST_LISTING, ST_WATCHING, ST_BACKOFF };

struct kube_stream {
	struct kube_client *kc;
	enum kube_resource res;
	const char *path;
	char selector[600];        /* url-encoded fieldSelector */
	enum stream_state st;
	char rv[32];               /* last resourceVersion seen */
	bool fresh_list;           /* after a 410: list with resourceVersion="" */
	bool synced;               /* first list done */
	bool got_410;              /* in-stream ERROR 410 on this watch */
	bool warned_malformed;
	struct http_transfer *t;
	struct kube_list_splitter list; /* a list response, item by item */
	bool relist_begun;         /* node_state told of the list (at its first item) */
	struct kube_framer framer;
	int64_t last_byte_ns;
	uint64_t retry_timer;      /* a retry after backoff, 0 if none */
	uint64_t dead_timer;       /* the silence check of a watch, 0 if none */
	unsigned backoff_ms;
	int64_t watch_start_ns;    /* when the current watch was asked for */
	unsigned fast_410s;        /* 410s in a row, each soon after its watch began */
	struct kube_stream_stats stats;
};

struct kube_fetch {
	struct kube_client *kc;
	struct http_transfer *t;
	struct buf body;
	bool too_big;
	kube_fetch_done done;
	void *ctx;
};

struct kube_client {
	struct kube_client_options opts;
	struct kube_fetch *fetches[KUBE_MAX_FETCHES]; /* in flight, NULL slots free */
	uint64_t nfetches, fetch_errors, fetches_refused;
	char server[512];
	char auth[8192];           /* "Authorization: Bearer ..." never logged */
	uint64_t token_timer;
	struct kube_stream streams[KUBE_NRESOURCES];
	uint64_t token_reloads;
	bool told_synced;
	struct kube_slim_stats slim; /* every object the streams decoded */
};

static void url_encode(const char *in, char *out, size_t len)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in && o + 4 < len; in++) {
		unsigned char c = (unsigned char)*in;

		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		    c == '.' || c == '_' || c == '~') {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	out[o] = '\0';
}

static int read_token(struct kube_client *kc, char *err, size_t errlen)
{
	char token[8000];
	size_t n;
	FILE *f = fopen(kc->opts.token_file, "re");

	if (!f) {
		snprintf(err, errlen, "cannot read the service-account token %s: %s", kc->opts.token_file,
			 strerror(errno));
		return -errno;
	}
	n = fread(token, 1, sizeof(token) - 1, f);
	fclose(f);
	token[n] = '\0';
	token[strcspn(token, "\r\n")] = '\0';
	if (!token[0]) {
		snprintf(err, errlen, "the service-account token %s is empty", kc->opts.token_file);
		return -EINVAL;
	}
	snprintf(kc->auth, sizeof(kc->auth), "Authorization: Bearer %s", token);
	explicit_bzero(token, sizeof(token));
	kc->token_reloads++;
	return 0;
}

static void reload_token(struct kube_client *kc)
{
	char err[512];

	if (read_token(kc, err, sizeof(err)) < 0)
		log_warn("%s, keeping the previous token", err);
}

/* projected tokens rotate: read it again every minute */
static void on_token_timer(struct loop *loop, uint64_t id, void *data)
{
	struct kube_client *kc = data;

	kc->token_timer = loop_timer_add(loop, TOKEN_RELOAD_S * 1000, on_token_timer, kc);
	reload_token(kc);
}

static void start_list(struct kube_stream *s);
static void start_watch(struct kube_stream *s);
static void retry(struct kube_stream *s);

static void on_retry(struct loop *loop, uint64_t id, void *data)
{
	struct kube_stream *s = data;

	s->retry_timer = 0;
	retry(s);
}

static void schedule_retry(struct kube_stream *s)
{
	struct loop *loop = s->kc->opts.loop;
	unsigned jitter;

	s->st = ST_BACKOFF;
	loop_timer_del(loop, s->dead_timer);
	s->dead_timer = 0;
	s->backoff_ms = s->backoff_ms ? s->backoff_ms * 2 : BACKOFF_MIN_MS;
	if (s->backoff_ms > BACKOFF_MAX_MS)
		s->backoff_ms = BACKOFF_MAX_MS;
	/* +-20% so that nodes that lost the API together do not return together */
	jitter = rng_below((uint32_t)(s->backoff_ms * 2 / 5 + 1));
	loop_timer_del(loop, s->retry_timer);
	s->retry_timer = loop_timer_add(loop, s->backoff_ms * 4 / 5 + jitter, on_retry, s);
}

static int start(struct kube_stream *s, const char *url, http_data_cb on_data, http_done_cb on_done)
{
	const char *headers[] = { s->kc->auth, "Accept: application/json", "User-Agent: nodetrail/" NODETRAIL_VERSION,
				  NULL };
	struct http_request req = { .url = url, .headers = headers, .ca_file = s->kc->opts.ca_file,
				    .on_data = on_data, .on_done = on_done, .ctx = s };

	/* a list has a deadline; a watch ends by its own timeoutSeconds or is
	 * cut by the dead-stream check */
	if (s->st == ST_LISTING)
		req.timeout_ms = 60000;
	s->t = http_start(s->kc->opts.http, &req);
	s->last_byte_ns = clock_ns(CLOCK_MONOTONIC);
	if (!s->t) {
		schedule_retry(s);
		return -ENOMEM;
	}
	return 0;
}

/* ---- list ---- */

/* a response body, kept whole up to cap bytes; past it, *too_big and the transfer is aborted */
static int body_append(struct buf *body, bool *too_big, size_t cap, const char *data, size_t len)
{
	if (*too_big || body->len + len + 1 > cap) {
		*too_big = true;
		return -1;
	}
	if (buf_reserve(body, len + 1, 16384) < 0)
		return -1;
	memcpy(body->data + body->len, data, len);
	body->len += len;
	return 0;
}

/* an object's text slimmed (kube_slim), then parsed; NULL if it is not JSON */
static cJSON *parse_slim(struct kube_client *kc, const char *text, size_t len)
{
	char *slim = malloc(len + 1);
	long n = slim ? kube_slim(text, len, slim, &kc->slim) : -1;
	cJSON *o = n < 0 ? NULL : cJSON_ParseWithLength(slim, (size_t)n);

	free(slim);
	return o;
}

/* one item of a list, as soon as it has arrived: slimmed, parsed, applied */
static void on_list_item(void *ctx, const char *text, size_t len)
{
	struct kube_stream *s = ctx;
	cJSON *item = parse_slim(s->kc, text, len);

	if (!item) {
		s->stats.malformed++;
		return;
	}
	if (!s->relist_begun) {
		node_state_relist_begin(s->kc->opts.state, s->res);
		s->relist_begun = true;
	}
	node_state_apply(s->kc->opts.state, s->res, KUBE_EV_ADDED, item);
	cJSON_Delete(item);
}

static int on_list_data(void *ctx, long status, const char *data, size_t len)
{
	struct kube_stream *s = ctx;

	s->last_byte_ns = clock_ns(CLOCK_MONOTONIC);
	if (status != 200)
		return 0; /* a Status, not a list: the answer's code says what to do */
	return kube_list_splitter_feed(&s->list, data, len, on_list_item, s) < 0 ? -1 : 0;
}

static void handle_status(struct kube_stream *s, long status, int curl_code, const char *err, const char *what)
{
	if (status == 401) {
		s->stats.unauthorized++;
		log_warn("%s %s: 401 Unauthorized, re-reading the token", what, kube_resource_name(s->res));
		reload_token(s->kc);
	} else if (status) {
		s->stats.http_errors++;
		log_warn("%s %s: HTTP %ld, retrying", what, kube_resource_name(s->res), status);
	} else if (curl_code == 60 /* CURLE_PEER_FAILED_VERIFICATION */ || curl_code == 77 /* CACERT_BADFILE */) {
		s->stats.tls_failures++;
		log_error("%s %s: TLS verification of the API server failed (%s): refusing to talk to it; check --ca-file",
			  what, kube_resource_name(s->res), err && *err ? err : "untrusted certificate");
	} else {
		log_warn("%s %s: %s, retrying", what, kube_resource_name(s->res), err && *err ? err : "failed");
	}
	schedule_retry(s);
}

/* every stream has its first list: tell once */
static void tell_synced(struct kube_client *kc)
{
	for (int i = 0; i < KUBE_NRESOURCES; i++)
		if (!kc->streams[i].synced)
			return;
	if (!kc->told_synced && kc->opts.synced) {
		kc->told_synced = true;
		kc->opts.synced(kc->opts.ctx);
	}
}

/* the splitter emptied for the next list (its memory freed: lists are rare) */
static void list_reset(struct kube_stream *s)
{
	s->stats.oversized += s->list.oversized;
	kube_list_splitter_free(&s->list);
	kube_list_splitter_init(&s->list, 0);
	s->relist_begun = false;
}

static void on_list_done(void *ctx, int curl_code, long status, const char *err)
{
	struct kube_stream *s = ctx;
	struct node_state *ns = s->kc->opts.state;
	uint64_t items = s->list.items;
	char rv[sizeof(s->rv)];

	s->t = NULL;
	if (curl_code || status != 200) {
		list_reset(s);
		handle_status(s, status, curl_code, err, "list");
		return;
	}
	if (kube_list_splitter_finish(&s->list, rv, sizeof(rv)) < 0) {
		s->stats.malformed++;
		log_warn("list %s: not a list or cut short (%llu items read), retrying", kube_resource_name(s->res),
			 (unsigned long long)items);
		list_reset(s);
		schedule_retry(s);
		return;
	}
	if (s->list.oversized)
		log_warn("list %s: %llu objects over %u MiB skipped", kube_resource_name(s->res),
			 (unsigned long long)s->list.oversized, KUBE_MAX_OBJECT >> 20);
	if (!s->relist_begun)
		node_state_relist_begin(ns, s->res);
	node_state_relist_end(ns, s->res);
	list_reset(s);
	snprintf(s->rv, sizeof(s->rv), "%s", rv);
	if (!s->synced)
		log_info("listed %s: %llu objects at resourceVersion %s", kube_resource_name(s->res),
			 (unsigned long long)items, s->rv);
	s->fresh_list = false;
	s->backoff_ms = 0;
	if (!s->synced && s->res == KUBE_NODES) {
		/* the Node first: its labels give every later record its identity */
		start_list(&s->kc->streams[KUBE_PODS]);
		start_list(&s->kc->streams[KUBE_EVENTS]);
	}
	s->synced = true;
	start_watch(s);
	tell_synced(s->kc);
}

static void start_list(struct kube_stream *s)
{
	char url[2048];

	snprintf(url, sizeof(url), "%s%s?fieldSelector=%s&resourceVersion=%s", s->kc->server, s->path, s->selector,
		 s->fresh_list ? "" : "0");
	s->st = ST_LISTING;
	list_reset(s);
	s->stats.lists++;
	start(s, url, on_list_data, on_list_done);
}

/* ---- watch ---- */

static void on_line(void *ctx, const char *line, size_t len)
{
	struct kube_stream *s = ctx;
	struct kube_event ev;

	if (kube_event_decode(line, len, &ev, &s->kc->slim) < 0) {
		s->stats.malformed++;
		if (!s->warned_malformed)
			log_warn("watch %s: skipping a line that is not a watch event (%zu bytes: %.60s...)",
				 kube_resource_name(s->res), len, line);
		s->warned_malformed = true;
		return;
	}
	switch (ev.type) {
	case KUBE_EV_ADDED:
	case KUBE_EV_MODIFIED:
	case KUBE_EV_DELETED:
		node_state_apply(s->kc->opts.state, s->res, ev.type, ev.object);
		s->stats.events++;
		/* fallthrough */
	case KUBE_EV_BOOKMARK:
		if (ev.resource_version[0])
			snprintf(s->rv, sizeof(s->rv), "%s", ev.resource_version);
		break;
	case KUBE_EV_ERROR:
		if (ev.code == 410)
			s->got_410 = true;
		else
			log_warn("watch %s: in-stream error %d", kube_resource_name(s->res), ev.code);
		break;
	default:
		break;
	}
	kube_event_free(&ev);
}

static int on_watch_data(void *ctx, long status, const char *data, size_t len)
{
	struct kube_stream *s = ctx;
	uint64_t before = s->framer.oversized;

	s->last_byte_ns = clock_ns(CLOCK_MONOTONIC);
	if (status != 200)
		return 0; /* an error body: judged by on_watch_done */
	s->backoff_ms = 0;
	if (kube_framer_feed(&s->framer, data, len, on_line, s) < 0)
		return -1;
	if (s->framer.oversized != before) {
		log_warn("watch %s: skipped an object over %u MiB", kube_resource_name(s->res), KUBE_MAX_OBJECT >> 20);
	}
	/* an expired resourceVersion ends this watch: relist */
	return s->got_410 ? -1 : 0;
}

static void on_watch_done(void *ctx, int curl_code, long status, const char *err)
{
	struct kube_stream *s = ctx;

	s->t = NULL;
	if (s->got_410 || status == 410) {
		s->got_410 = false;
		s->stats.relists_410++;
		s->fresh_list = true;
		/* a version expired as soon as it was watched, again: the server cannot follow (a
		 * restarting API server, a proxy). Relist after a growing delay, not in a loop. */
		if (clock_ns(CLOCK_MONOTONIC) - s->watch_start_ns < FAST_410_NS)
			s->fast_410s++;
		else
			s->fast_410s = 0;
		if (s->fast_410s > 1) {
			unsigned delay = BACKOFF_MIN_MS << (s->fast_410s < 7 ? s->fast_410s - 2 : 5);

			if (delay > BACKOFF_MAX_MS)
				delay = BACKOFF_MAX_MS;
			delay = delay * 4 / 5 + rng_below(delay * 2 / 5 + 1);
			log_warn("watch %s: resourceVersion expired again at once (%u in a row), relisting in %.1f s",
				 kube_resource_name(s->res), s->fast_410s, delay / 1000.0);
			s->st = ST_BACKOFF;
			loop_timer_del(s->kc->opts.loop, s->dead_timer);
			s->dead_timer = 0;
			loop_timer_del(s->kc->opts.loop, s->retry_timer);
			s->retry_timer = loop_timer_add(s->kc->opts.loop, delay, on_retry, s);
			return;
		}
		log_info("watch %s: resourceVersion %s expired, relisting", kube_resource_name(s->res), s->rv);
		start_list(s);
		return;
	}
	if (curl_code == 0 && status == 200) {
		/* the server ended the watch at timeoutSeconds: resume */
		start_watch(s);
		return;
	}
	s->stats.reconnects++;
	handle_status(s, status, curl_code, err, "watch");
}

/* A watch silent for dead_after (not even a bookmark) is cut and retried. */
static void on_dead_check(struct loop *loop, uint64_t id, void *data)
{
	struct kube_stream *s = data;
	struct kube_client *kc = s->kc;
	int64_t idle = clock_ns(CLOCK_MONOTONIC) - s->last_byte_ns, limit = (int64_t)kc->opts.dead_after_s * 1000000000LL;

	s->dead_timer = 0;
	if (s->st != ST_WATCHING || !s->t)
		return;
	if (idle < limit) {
		s->dead_timer = loop_timer_add(loop, (uint64_t)((limit - idle) / 1000000LL) + 1, on_dead_check, s);
		return;
	}
	log_warn("watch %s: nothing received for %u s, reconnecting", kube_resource_name(s->res), kc->opts.dead_after_s);
	http_cancel(kc->opts.http, s->t);
	s->t = NULL;
	s->stats.dead_streams++;
	s->stats.reconnects++;
	schedule_retry(s);
}

static void start_watch(struct kube_stream *s)
{
	struct kube_client_options *o = &s->kc->opts;
	unsigned span = o->watch_timeout_max_s - o->watch_timeout_min_s;
	unsigned timeout = o->watch_timeout_min_s + rng_below(span + 1);
	char url[2048];

	snprintf(url, sizeof(url),
		 "%s%s?watch=1&allowWatchBookmarks=true&timeoutSeconds=%u&resourceVersion=%s&fieldSelector=%s",
		 s->kc->server, s->path, timeout, s->rv, s->selector);
	s->st = ST_WATCHING;
	s->got_410 = false;
	s->watch_start_ns = clock_ns(CLOCK_MONOTONIC);
	kube_framer_reset(&s->framer);
	s->stats.watches++;
	if (start(s, url, on_watch_data, on_watch_done) == 0 && !s->dead_timer)
		s->dead_timer = loop_timer_add(s->kc->opts.loop, (uint64_t)s->kc->opts.dead_after_s * 1000, on_dead_check, s);
}

/* ---- lifecycle ---- */

static void retry(struct kube_stream *s)
{
	if (s->res != KUBE_NODES && !s->kc->streams[KUBE_NODES].synced) {
		schedule_retry(s); /* wait for the Node's first list */
		return;
	}
	if (s->rv[0] && s->synced && !s->fresh_list)
		start_watch(s);
	else
		start_list(s);
}

int kube_client_new(const struct kube_client_options *opts, struct kube_client **ret, char *err, size_t errlen)
{
	/* node events live in `default`: watching them there, not in every namespace, keeps any other
	 * namespace's Event writers from speaking for the node */
	static const char *const paths[KUBE_NRESOURCES] = { "/api/v1/pods", "/api/v1/nodes",
							    "/api/v1/namespaces/default/events" };
	struct kube_client *kc = calloc(1, sizeof(*kc));
	char sel[512];
	int r;

	if (!kc)
		return -ENOMEM;
	kc->opts = *opts;
	if (!kc->opts.dead_after_s)
		kc->opts.dead_after_s = 120;
	if (!kc->opts.watch_timeout_min_s)
		kc->opts.watch_timeout_min_s = 300;
	if (kc->opts.watch_timeout_max_s < kc->opts.watch_timeout_min_s)
		kc->opts.watch_timeout_max_s = kc->opts.watch_timeout_min_s + 300;
	snprintf(kc->server, sizeof(kc->server), "%s", opts->server);
	kc->server[strcspn(kc->server, "\n")] = '\0';
	if (kc->server[0] && kc->server[strlen(kc->server) - 1] == '/')
		kc->server[strlen(kc->server) - 1] = '\0';
	if (strncmp(kc->server, "https://", 8) != 0) {
		snprintf(err, errlen, "API server %s: only https:// is accepted (the token must not travel in clear)",
			 kc->server);
		free(kc);
		return -EINVAL;
	}
	r = read_token(kc, err, errlen);
	if (r < 0) {
		free(kc);
		return r;
	}
	if (opts->ca_file && access(opts->ca_file, R_OK) != 0) {
		snprintf(err, errlen, "cannot read the API server's CA %s: %s", opts->ca_file, strerror(errno));
		free(kc);
		return -errno;
	}
	for (int i = 0; i < KUBE_NRESOURCES; i++) {
		struct kube_stream *s = &kc->streams[i];

		s->kc = kc;
		s->res = (enum kube_resource)i;
		s->path = paths[i];
		kube_framer_init(&s->framer, 0);
		kube_list_splitter_init(&s->list, 0);
		if (i == KUBE_PODS)
			snprintf(sel, sizeof(sel), "spec.nodeName=%s", opts->node_name);
		else if (i == KUBE_NODES)
			snprintf(sel, sizeof(sel), "metadata.name=%s", opts->node_name);
		else
			snprintf(sel, sizeof(sel), "involvedObject.kind=Node,involvedObject.name=%s", opts->node_name);
		url_encode(sel, s->selector, sizeof(s->selector));
	}
	kc->token_timer = loop_timer_add(kc->opts.loop, TOKEN_RELOAD_S * 1000, on_token_timer, kc);
	start_list(&kc->streams[KUBE_NODES]);
	*ret = kc;
	return 0;
}

/* ---- one-shot lists ---- */

static int on_fetch_data(void *ctx, long status, const char *data, size_t len)
{
	struct kube_fetch *f = ctx;

	return body_append(&f->body, &f->too_big, KUBE_FETCH_MAX_BYTES, data, len);
}

static void fetch_free(struct kube_fetch *f)
{
	for (int i = 0; i < KUBE_MAX_FETCHES; i++)
		if (f->kc->fetches[i] == f)
			f->kc->fetches[i] = NULL;
	buf_free(&f->body);
	free(f);
}

static void on_fetch_done(void *ctx, int curl_code, long status, const char *err)
{
	struct kube_fetch *f = ctx;
	cJSON *root = NULL;
	char why[160] = "";

	if (f->too_big)
		snprintf(why, sizeof(why), "response over %u KiB", KUBE_FETCH_MAX_BYTES >> 10);
	else if (curl_code)
		snprintf(why, sizeof(why), "%s", err && *err ? err : "failed");
	else if (status != 200)
		snprintf(why, sizeof(why), "HTTP %ld", status);
	else if (!(root = parse_slim(f->kc, f->body.data, f->body.len)))
		snprintf(why, sizeof(why), "not JSON (%zu bytes)", f->body.len);
	if (status == 401)
		reload_token(f->kc);
	if (why[0])
		f->kc->fetch_errors++;
	f->done(f->ctx, root, status, why);
	cJSON_Delete(root);
	fetch_free(f);
}

int kube_client_fetch(struct kube_client *kc, const char *ns, const char *resource, const char *field_selector,
		      kube_fetch_done done, void *ctx)
{
	const char *headers[] = { kc->auth, "Accept: application/json", "User-Agent: nodetrail/" NODETRAIL_VERSION,
				  NULL };
	char url[2048], sel[1024], ens[256];
	struct http_request req = { .url = url, .headers = headers, .ca_file = kc->opts.ca_file, .timeout_ms = 30000,
				    .on_data = on_fetch_data, .on_done = on_fetch_done };
	struct kube_fetch *f;
	int slot = -1;

	for (int i = 0; i < KUBE_MAX_FETCHES && slot < 0; i++)
		if (!kc->fetches[i])
			slot = i;
	if (slot < 0) {
		kc->fetches_refused++;
		return -EBUSY;
	}
	f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	url_encode(ns, ens, sizeof(ens));
	url_encode(field_selector, sel, sizeof(sel));
	/* resourceVersion=0: the API server's watch cache answers, not etcd */
	snprintf(url, sizeof(url), "%s/api/v1/namespaces/%s/%s?fieldSelector=%s&resourceVersion=0", kc->server, ens,
		 resource, sel);
	f->kc = kc;
	f->done = done;
	f->ctx = ctx;
	req.ctx = f;
	kc->fetches[slot] = f;
	f->t = http_start(kc->opts.http, &req);
	if (!f->t) {
		fetch_free(f);
		return -ENOMEM;
	}
	kc->nfetches++;
	return 0;
}

void kube_client_free(struct kube_client *kc)
{
	if (!kc)
		return;
	for (int i = 0; i < KUBE_MAX_FETCHES; i++) {
		struct kube_fetch *f = kc->fetches[i];

		if (f) {
			http_cancel(kc->opts.http, f->t);
			fetch_free(f);
		}
	}
	loop_timer_del(kc->opts.loop, kc->token_timer);
	for (int i = 0; i < KUBE_NRESOURCES; i++) {
		loop_timer_del(kc->opts.loop, kc->streams[i].retry_timer);
		loop_timer_del(kc->opts.loop, kc->streams[i].dead_timer);
		http_cancel(kc->opts.http, kc->streams[i].t);
		kube_framer_free(&kc->streams[i].framer);
		kube_list_splitter_free(&kc->streams[i].list);
	}
	explicit_bzero(kc->auth, sizeof(kc->auth));
	free(kc);
}

void kube_client_get_stats(const struct kube_client *kc, struct kube_client_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->synced = 1;
	for (int i = 0; i < KUBE_NRESOURCES; i++) {
		ret->stream[i] = kc->streams[i].stats;
		ret->stream[i].oversized += kc->streams[i].framer.oversized;
		if (!kc->streams[i].synced)
			ret->synced = 0;
	}
	ret->token_reloads = kc->token_reloads;
	ret->fetches = kc->nfetches;
	ret->fetch_errors = kc->fetch_errors;
	ret->fetches_refused = kc->fetches_refused;
	ret->slim = kc->slim;
}

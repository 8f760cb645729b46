/* The node's interruption: claims of its sources, transitions, records. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/api/interruption.h"
#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/json.h"

#define EVENT_CLAIM_TTL_NS (60LL * 60 * 1000000000LL) /* an Event's word lasts as long as the Event */
#define UPDATE_ID_PART 0x100                          /* updated records' ids: never the opening's (0) or end's (0xe) */
#define SLEPT_NS (30LL * 1000000000LL)                /* suspended this long: the node slept */

struct claim {
	bool active;
	bool spent;               /* it ended an interruption: it opens nothing until taken back */
	bool risk_told;           /* a maintenance not yet due: its risk record is out */
	enum interruption_kind kind;
	int64_t deadline_ns;
	bool exact;
	int64_t since_ns;         /* CLOCK_REALTIME */
	char detail[96];
	char reporter[64];
};

struct interruption {
	struct interruption_options opts;
	struct interruption_info info;
	struct claim claims[ISRC_COUNT];
	bool drain_pending;       /* the report before the deadline is owed */
	bool final_pending;       /* the final one, at the deadline, is owed */
	bool counted;             /* its metric (Interruptions or Disruptions) is counted */
	enum interruption_kind counted_kind;
	uint32_t updates;         /* updated records of this one (their ids) */
	uint32_t pods;            /* pods on the node at the last claim */
	uint64_t stale;           /* notices ignored as history */
	char withdrawn[256];      /* what the last withdrawal was, for the record that ends it */
	int64_t suspended_at_arm; /* CLOCK_BOOTTIME - CLOCK_MONOTONIC when opened: grows only while asleep */
	uint64_t deadline_timer;  /* the report's: the deadline minus the lead */
	uint64_t final_timer;     /* the final report's: the deadline */
	uint64_t check_timer;     /* the next clock check: a maintenance due, a deadline's margin, an Event's age */
};

static const char *const kind_names[] = {
	[INTERRUPTION_NONE] = "none",
	[INTERRUPTION_DISRUPTION] = "karpenter_disruption",
	[INTERRUPTION_MAINTENANCE] = "maintenance",
	[INTERRUPTION_ASG] = "asg_termination",
	[INTERRUPTION_INSTANCE] = "instance_termination",
	[INTERRUPTION_SPOT] = "spot_interruption",
};

/* as summaries say them */
static const char *const kind_words[] = {
	[INTERRUPTION_NONE] = "no interruption",
	[INTERRUPTION_DISRUPTION] = "Karpenter disruption",
	[INTERRUPTION_MAINTENANCE] = "scheduled maintenance",
	[INTERRUPTION_ASG] = "Auto Scaling termination",
	[INTERRUPTION_INSTANCE] = "instance termination",
	[INTERRUPTION_SPOT] = "spot interruption",
};

static const char *const source_names[ISRC_COUNT] = {
	[ISRC_IMDS_ACTION] = "imds", [ISRC_IMDS_MAINTENANCE] = "imds", [ISRC_TAINT_NTH] = "taint",
	[ISRC_TAINT_KARPENTER] = "taint", [ISRC_EVENT] = "event",
};

static const char *const end_names[] = {
	[IEND_NONE] = "", [IEND_WITHDRAWN] = "withdrawn", [IEND_DID_NOT_HAPPEN] = "did_not_happen",
	[IEND_HAPPENED] = "happened",
};

const char *interruption_kind_name(enum interruption_kind kind)
{
	return (unsigned)kind < sizeof(kind_names) / sizeof(kind_names[0]) ? kind_names[kind] : "unknown";
}

const char *interruption_kind_text(enum interruption_kind kind)
{
	return (unsigned)kind < sizeof(kind_words) / sizeof(kind_words[0]) ? kind_words[kind] : "interruption";
}

static int64_t now_of(const struct interruption *it, clockid_t id)
{
	return it->opts.clock ? it->opts.clock(id) : clock_ns(id);
}

/* time spent suspended since boot: grows only while the node sleeps */
static int64_t suspended_ns(const struct interruption *it)
{
	return now_of(it, CLOCK_BOOTTIME) - now_of(it, CLOCK_MONOTONIC);
}

int interruption_new(const struct interruption_options *opts, struct interruption **ret)
{
	struct interruption *it = calloc(1, sizeof(*it));

	if (!it)
		return -ENOMEM;
	it->opts = *opts;
	*ret = it;
	return 0;
}

void interruption_free(struct interruption *it)
{
	if (!it)
		return;
	loop_timer_del(it->opts.loop, it->deadline_timer);
	loop_timer_del(it->opts.loop, it->final_timer);
	loop_timer_del(it->opts.loop, it->check_timer);
	free(it);
}

const struct interruption_info *interruption_get(const struct interruption *it)
{
	return &it->info;
}

/* ---- records ---- */

static bool has_claims(const struct interruption *it)
{
	for (int s = 0; s < ISRC_COUNT; s++)
		if (it->claims[s].active)
			return true;
	return false;
}


struct change {
	const char *what[6];
	int n;
};

static void emit(struct interruption *it, const char *transition, const struct change *ch, const char *summary,
		 uint64_t id_part)
{
	const struct interruption_info *in = &it->info;
	char when[CLOCK_TEXT_LEN];
	struct record r = { 0 };
	bool imds = false, api = false;
	cJSON *o = cJSON_CreateObject(), *list;

	if (!o)
		return;
	for (int s = 0; s < ISRC_COUNT; s++)
		if (it->claims[s].active) {
			imds |= s == ISRC_IMDS_ACTION || s == ISRC_IMDS_MAINTENANCE;
			api |= s != ISRC_IMDS_ACTION && s != ISRC_IMDS_MAINTENANCE;
		}
	if (!imds && !api) {
		imds = !strcmp(in->source, "imds");
		api = !imds;
	}
	cJSON_AddStringToObject(o, "transition", transition);
	cJSON_AddStringToObject(o, "kind", interruption_kind_name(in->kind));
	cJSON_AddStringToObject(o, "source", in->source);
	cJSON_AddBoolToObject(o, "confirmed", in->confirmed);
	if (in->reporter[0])
		cJSON_AddStringToObject(o, "reported_by", in->reporter);
	if (in->reason[0])
		cJSON_AddStringToObject(o, "reason", in->reason);
	cJSON_AddStringToObject(o, "notice_at", clock_format(in->notice_ns, when));
	if (in->deadline_ns) {
		cJSON_AddStringToObject(o, "deadline", clock_format(in->deadline_ns, when));
		cJSON_AddBoolToObject(o, "deadline_exact", in->deadline_exact);
	}
	if (has_claims(it) && (list = cJSON_AddArrayToObject(o, "claims")))
		for (int s = 0; s < ISRC_COUNT; s++) {
			const struct claim *c = &it->claims[s];
			cJSON *co;

			if (!c->active || !(co = cJSON_CreateObject()))
				continue;
			cJSON_AddStringToObject(co, "source", source_names[s]);
			cJSON_AddStringToObject(co, "kind", interruption_kind_name(c->kind));
			if (c->detail[0])
				cJSON_AddStringToObject(co, "detail", c->detail);
			if (c->reporter[0])
				cJSON_AddStringToObject(co, "reported_by", c->reporter);
			cJSON_AddItemToArray(list, co);
		}
	if (ch && ch->n && (list = cJSON_AddArrayToObject(o, "changed")))
		for (int i = 0; i < ch->n; i++)
			cJSON_AddItemToArray(list, cJSON_CreateString(ch->what[i]));
	if (in->ended)
		cJSON_AddStringToObject(o, "ended", end_names[in->ended]);
	cJSON_AddNumberToObject(o, "pods_on_node", it->pods);
	r.type = RECORD_NODE_INTERRUPTION;
	r.event_time_ns = !strcmp(transition, "opened") ? in->notice_ns : now_of(it, CLOCK_REALTIME);
	r.node = it->opts.node;
	/* the opening keeps the id it always had: one record per interruption and transition */
	record_make_id(r.type, NULL, hash_str(it->opts.node->node_name), (uint64_t)in->notice_ns / 1000000000ULL,
		       id_part, r.record_id);
	r.sources[0] = imds ? "imds" : "api";
	r.sources[1] = imds && api ? "api" : NULL;
	r.detail_key = r.sources[0];
	r.detail = o;
	r.summary = summary;
	r.durable = true;
	/* counted once, when it is real: confirmed, and what it is (a disruption is not an interruption) */
	if (in->open && in->confirmed && (!it->counted || (it->counted_kind == INTERRUPTION_DISRUPTION &&
							   in->kind != INTERRUPTION_DISRUPTION))) {
		if (in->kind == INTERRUPTION_DISRUPTION)
			r.counts.disruptions = 1;
		else
			r.counts.interruptions = 1;
		it->counted = true;
		it->counted_kind = in->kind;
	}
	it->opts.emit(it->opts.emit_ctx, &r);
	cJSON_Delete(o);
}

/* "spot interruption of node n announced by imds" / "... reported by karpenter in an event, unconfirmed" */
static size_t describe(const struct interruption *it, char *buf, size_t len)
{
	const struct interruption_info *in = &it->info;
	int n;

	if (in->confirmed || !in->reporter[0])
		n = snprintf(buf, len, "%s of node %s announced by %s", kind_words[in->kind], it->opts.node->node_name,
			     in->source);
	else
		n = snprintf(buf, len, "%s of node %s reported by %s in an event, unconfirmed", kind_words[in->kind],
			     it->opts.node->node_name, in->reporter);
	if (in->kind == INTERRUPTION_DISRUPTION && n >= 0 && (size_t)n < len)
		n += snprintf(buf + n, len - (size_t)n, " (%s)", in->reason[0] ? in->reason : "reason unknown");
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static size_t add_deadline(const struct interruption *it, char *buf, size_t len)
{
	char when[CLOCK_TEXT_LEN];

	if (!it->info.deadline_ns)
		return (size_t)snprintf(buf, len, ": no deadline (drained, then gone)");
	return (size_t)snprintf(buf, len, ": deadline %s%s", clock_format(it->info.deadline_ns, when),
				it->info.deadline_exact ? "" : " (estimated)");
}

/* ---- timers ---- */

static void on_lead(struct loop *loop, uint64_t id, void *data)
{
	struct interruption *it = data;

	it->deadline_timer = 0;
	if (it->info.open && it->drain_pending && it->opts.due)
		it->opts.due(it->opts.ctx, &it->info, false);
}

static void on_deadline(struct loop *loop, uint64_t id, void *data)
{
	struct interruption *it = data;

	it->final_timer = 0;
	if (it->info.open && it->final_pending && it->opts.due)
		it->opts.due(it->opts.ctx, &it->info, true);
}

static void on_check(struct loop *loop, uint64_t id, void *data)
{
	struct interruption *it = data;

	it->check_timer = 0;
	interruption_check(it);
}

static uint64_t ms_until(const struct interruption *it, int64_t at_real_ns)
{
	int64_t left = at_real_ns - now_of(it, CLOCK_REALTIME);

	return left > 0 ? (uint64_t)((left + 999999) / 1000000) : 0;
}

/* the next clock check: a maintenance due, a deadline's margin, an Event's age */
static void schedule_check(struct interruption *it)
{
	int64_t next = 0;

	if (!it->opts.loop)
		return;
	for (int s = 0; s < ISRC_COUNT; s++) {
		const struct claim *c = &it->claims[s];
		int64_t at = 0;

		if (!c->active || c->spent)
			continue;
		if (s == ISRC_IMDS_MAINTENANCE && c->deadline_ns)
			at = c->deadline_ns - INTERRUPTION_MAINTENANCE_WINDOW_NS;
		if (s == ISRC_EVENT)
			at = c->since_ns + EVENT_CLAIM_TTL_NS;
		if (at && at > now_of(it, CLOCK_REALTIME) && (!next || at < next))
			next = at;
	}
	if (it->info.open && it->info.deadline_ns) {
		int64_t at = it->info.deadline_ns + INTERRUPTION_MARGIN_NS;

		if (!next || at < next)
			next = at;
	}
	loop_timer_del(it->opts.loop, it->check_timer);
	it->check_timer = next ? loop_timer_add(it->opts.loop, ms_until(it, next), on_check, it) : 0;
}

/* The reports owed (fresh: it opened, or was taken over) and their timers: the report a lead
 * before the deadline, the final one at it; a disruption has no deadline: its report comes when
 * its drain ends or it ends. */
static void arm(struct interruption *it, bool fresh)
{
	int64_t deadline = it->info.deadline_ns;

	if (fresh) {
		it->drain_pending = true;
		it->final_pending = deadline != 0;
	} else if (deadline && !it->final_pending && it->drain_pending) {
		it->final_pending = true; /* a deadline where there was none (a disruption became a spot one) */
	}
	if (it->opts.loop) {
		loop_timer_del(it->opts.loop, it->deadline_timer);
		loop_timer_del(it->opts.loop, it->final_timer);
		it->deadline_timer = deadline && it->drain_pending ?
					     loop_timer_add(it->opts.loop, ms_until(it, deadline - it->opts.drain_lead_ns),
							    on_lead, it) :
					     0;
		it->final_timer = deadline && it->final_pending ?
					  loop_timer_add(it->opts.loop, ms_until(it, deadline), on_deadline, it) :
					  0;
	}
	if (it->opts.armed)
		it->opts.armed(it->opts.ctx, &it->info);
}

/* ---- transitions ---- */

/* when a claim's interruption starts: a maintenance when it becomes due, not when first announced */
static int64_t claim_start(const struct claim *c, int s)
{
	int64_t due_at = c->deadline_ns - INTERRUPTION_MAINTENANCE_WINDOW_NS;

	return s == ISRC_IMDS_MAINTENANCE && c->deadline_ns && due_at > c->since_ns ? due_at : c->since_ns;
}

static bool due(const struct claim *c, int s, int64_t now)
{
	if (!c->active || c->spent)
		return false;
	/* a maintenance is due a window before its NotBefore, not weeks ahead */
	return !(s == ISRC_IMDS_MAINTENANCE && c->deadline_ns && now < c->deadline_ns - INTERRUPTION_MAINTENANCE_WINDOW_NS);
}

static void end(struct interruption *it, enum interruption_end how, const char *why)
{
	struct interruption_info *in = &it->info;
	char summary[512];
	size_t n;

	in->open = false;
	in->ended = how;
	for (int s = 0; s < ISRC_COUNT; s++)
		if (it->claims[s].active)
			it->claims[s].spent = true; /* what ended it does not open it again */
	n = (size_t)snprintf(summary, sizeof(summary), "%s of node %s", kind_words[in->kind], it->opts.node->node_name);
	if (in->kind == INTERRUPTION_DISRUPTION && n < sizeof(summary))
		n += (size_t)snprintf(summary + n, sizeof(summary) - n, " (%s)", in->reason[0] ? in->reason : "reason unknown");
	if (n < sizeof(summary))
		snprintf(summary + n, sizeof(summary) - n, " ended, %s: %s", how == IEND_WITHDRAWN ? "withdrawn" :
							       how == IEND_HAPPENED ? "it happened" : "it did not happen", why);
	emit(it, "ended", NULL, summary, 0xe);
	loop_timer_del(it->opts.loop, it->deadline_timer);
	loop_timer_del(it->opts.loop, it->final_timer);
	it->deadline_timer = it->final_timer = 0;
	if (it->opts.ended)
		it->opts.ended(it->opts.ctx, in);
	it->drain_pending = it->final_pending = false;
	in->reason[0] = '\0'; /* the next disruption's reason comes with it */
	schedule_check(it);
}

/* what the claims say now, against what was said */
static void evaluate(struct interruption *it)
{
	struct interruption_info *in = &it->info, was = *in;
	int64_t now = now_of(it, CLOCK_REALTIME), exact = 0, estimate = 0;
	enum interruption_kind kind = INTERRUPTION_NONE;
	const char *reporter = "";
	int opener = -1;
	bool confirmed = false;
	struct change ch = { .n = 0 };
	char summary[512];
	size_t n;

	for (int s = 0; s < ISRC_COUNT; s++) {
		const struct claim *c = &it->claims[s];

		if (!due(c, s, now))
			continue;
		if (c->kind > kind)
			kind = c->kind;
		confirmed |= s != ISRC_EVENT;
		if (s == ISRC_EVENT)
			reporter = c->reporter;
		if (c->exact && c->deadline_ns && (!exact || c->deadline_ns < exact))
			exact = c->deadline_ns;
		else if (!c->exact && c->deadline_ns && (!estimate || c->deadline_ns < estimate))
			estimate = c->deadline_ns;
		if (opener < 0 || claim_start(c, s) < claim_start(&it->claims[opener], opener))
			opener = s;
	}
	if (kind == INTERRUPTION_NONE) {
		if (in->open)
			end(it, IEND_WITHDRAWN, it->withdrawn[0] ? it->withdrawn : "no source says so any more");
		schedule_check(it);
		return;
	}
	in->kind = kind;
	in->confirmed = confirmed;
	in->deadline_ns = exact ? exact : estimate;
	in->deadline_exact = exact != 0;
	snprintf(in->reporter, sizeof(in->reporter), "%s", confirmed ? "" : reporter);
	if (!was.open) {
		in->open = true;
		in->ended = IEND_NONE;
		in->notice_ns = claim_start(&it->claims[opener], opener);
		snprintf(in->source, sizeof(in->source), "%s", source_names[opener]);
		if (kind != INTERRUPTION_DISRUPTION)
			in->reason[0] = '\0';
		it->counted = false;
		it->updates = 0;
		it->suspended_at_arm = suspended_ns(it);
		n = describe(it, summary, sizeof(summary));
		n += add_deadline(it, summary + n, sizeof(summary) - n);
		if (n < sizeof(summary))
			snprintf(summary + n, sizeof(summary) - n, ", %u pod%s on the node", it->pods, it->pods == 1 ? "" : "s");
		emit(it, "opened", NULL, summary, 0);
		arm(it, true);
		schedule_check(it);
		return;
	}
	if (kind != was.kind)
		ch.what[ch.n++] = "kind";
	if (in->deadline_ns != was.deadline_ns)
		ch.what[ch.n++] = "deadline";
	if (confirmed != was.confirmed)
		ch.what[ch.n++] = "confirmed";
	if (!ch.n)
		return;
	n = describe(it, summary, sizeof(summary));
	n += (size_t)snprintf(summary + n, sizeof(summary) - n, " updated (%s%s%s%s%s)", ch.what[0],
			      ch.n > 1 ? ", " : "", ch.n > 1 ? ch.what[1] : "", ch.n > 2 ? ", " : "", ch.n > 2 ? ch.what[2] : "");
	if (n < sizeof(summary))
		add_deadline(it, summary + n, sizeof(summary) - n);
	emit(it, "updated", &ch, summary, UPDATE_ID_PART + ++it->updates);
	if (in->deadline_ns != was.deadline_ns)
		arm(it, false);
	schedule_check(it);
}

void interruption_claim(struct interruption *it, const struct interruption_notice *n, uint32_t pods_on_node)
{
	int64_t now = now_of(it, CLOCK_REALTIME), at = n->at_ns ? n->at_ns : now, deadline = n->deadline_ns;
	const char *detail = n->detail ? n->detail : "", *reporter = n->reporter ? n->reporter : "";
	bool exact = n->exact && deadline;
	struct claim *c;

	if ((unsigned)n->src >= ISRC_COUNT || n->kind <= INTERRUPTION_NONE || n->kind > INTERRUPTION_SPOT)
		return;
	c = &it->claims[n->src];
	/* EC2's two minutes, where the notice gives no time */
	if (!deadline && (n->kind == INTERRUPTION_SPOT || n->kind == INTERRUPTION_INSTANCE))
		deadline = at + INTERRUPTION_NOTICE_TO_DEADLINE_NS;
	/* history, not news: it would have happened long ago, or the Event's hour is over */
	if ((deadline && now >= deadline + INTERRUPTION_MARGIN_NS) ||
	    (n->src == ISRC_EVENT && now >= at + EVENT_CLAIM_TTL_NS)) {
		it->stale++;
		return;
	}
	it->pods = pods_on_node;
	if (c->active) {
		/* an Event's lesser word does not replace a greater one */
		if (n->src == ISRC_EVENT && n->kind < c->kind)
			return;
		/* the same notice again: nothing new (an estimate is not re-estimated), and one that
		 * ended an interruption already opens nothing until it is taken back */
		if (c->kind == n->kind && !strcmp(c->detail, detail) && (!exact || c->deadline_ns == deadline))
			return;
	}
	c->active = true;
	c->spent = false;
	c->kind = n->kind;
	c->deadline_ns = deadline;
	c->exact = exact;
	c->since_ns = at;
	snprintf(c->detail, sizeof(c->detail), "%s", detail);
	snprintf(c->reporter, sizeof(c->reporter), "%s", reporter);
	if (n->src == ISRC_IMDS_MAINTENANCE && !due(c, n->src, now) && !c->risk_told) {
		char what[160];

		c->risk_told = true;
		snprintf(what, sizeof(what), "scheduled maintenance %s", c->detail);
		interruption_risk(it, "imds", what, deadline);
	}
	evaluate(it);
}

/* "the taint karpenter.sh/disrupted was removed" */
static void describe_withdrawal(enum interruption_source src, const struct claim *c, char *buf, size_t len)
{
	switch (src) {
	case ISRC_IMDS_ACTION:
		snprintf(buf, len, "IMDS spot/instance-action (%s) answers 404 again", c->detail);
		break;
	case ISRC_IMDS_MAINTENANCE:
		snprintf(buf, len, "IMDS scheduled maintenance %s is completed or canceled", c->detail);
		break;
	case ISRC_EVENT:
		snprintf(buf, len, "the event %s (%s) is an hour old", c->detail, c->reporter[0] ? c->reporter : "unknown");
		break;
	default:
		snprintf(buf, len, "the taint %s was removed", c->detail);
		break;
	}
}

void interruption_withdraw(struct interruption *it, enum interruption_source src)
{
	struct claim *ev = &it->claims[ISRC_EVENT];

	if ((unsigned)src >= ISRC_COUNT || !it->claims[src].active)
		return;
	describe_withdrawal(src, &it->claims[src], it->withdrawn, sizeof(it->withdrawn));
	if (src != ISRC_EVENT && ev->active && ev->kind <= it->claims[src].kind)
		memset(ev, 0, sizeof(*ev));
	memset(&it->claims[src], 0, sizeof(it->claims[src]));
	evaluate(it);
}

void interruption_disruption_reason(struct interruption *it, const char *reason)
{
	struct interruption_info *in = &it->info;
	struct change ch = { .what = { "reason" }, .n = 1 };
	char summary[512];

	if (!reason || !*reason || !strcmp(in->reason, reason))
		return;
	snprintf(in->reason, sizeof(in->reason), "%s", reason);
	if (!in->open || in->kind != INTERRUPTION_DISRUPTION)
		return;
	snprintf(summary + describe(it, summary, sizeof(summary)), sizeof(summary) - strlen(summary), " updated (reason)");
	emit(it, "updated", &ch, summary, UPDATE_ID_PART + ++it->updates);
}

void interruption_risk(struct interruption *it, const char *source, const char *what, int64_t when_ns)
{
	char summary[512], at[CLOCK_TEXT_LEN];
	struct record r = { 0 };
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return;
	cJSON_AddStringToObject(o, "transition", "risk");
	cJSON_AddStringToObject(o, "source", source);
	cJSON_AddStringToObject(o, "risk", what);
	if (when_ns)
		cJSON_AddStringToObject(o, "at", clock_format(when_ns, at));
	snprintf(summary, sizeof(summary), "node %s: %s%s%s (a risk, not an interruption)", it->opts.node->node_name,
		 what, when_ns ? " at " : "", when_ns ? at : "");
	r.type = RECORD_NODE_INTERRUPTION;
	r.event_time_ns = now_of(it, CLOCK_REALTIME);
	r.node = it->opts.node;
	/* once per risk and time, across restarts too */
	record_make_id(r.type, NULL, hash_str(it->opts.node->node_name), hash_str(what), (uint64_t)when_ns, r.record_id);
	r.sources[0] = !strcmp(source, "imds") ? "imds" : "api";
	r.detail_key = r.sources[0];
	r.detail = o;
	r.summary = summary;
	it->opts.emit(it->opts.emit_ctx, &r);
	cJSON_Delete(o);
}

/* The deadline passed a margin ago and the node still runs: it did not happen, unless the node
 * slept through it (hibernation resumes the same boot). true when it ended. */
static bool end_if_long_past(struct interruption *it, int64_t now)
{
	const struct interruption_info *in = &it->info;

	if (!in->open || !in->deadline_ns || now < in->deadline_ns + INTERRUPTION_MARGIN_NS)
		return false;
	if (suspended_ns(it) - it->suspended_at_arm > SLEPT_NS)
		end(it, IEND_HAPPENED, "the node slept through the deadline (hibernated) and resumed");
	else
		end(it, IEND_DID_NOT_HAPPEN, "the node still runs, awake all along, 10 minutes after the deadline");
	return true;
}

void interruption_check(struct interruption *it)
{
	int64_t now = now_of(it, CLOCK_REALTIME);

	/* an Event's word lasts as long as the Event (an hour) */
	if (it->claims[ISRC_EVENT].active && now >= it->claims[ISRC_EVENT].since_ns + EVENT_CLAIM_TTL_NS) {
		describe_withdrawal(ISRC_EVENT, &it->claims[ISRC_EVENT], it->withdrawn, sizeof(it->withdrawn));
		memset(&it->claims[ISRC_EVENT], 0, sizeof(it->claims[ISRC_EVENT]));
	}
	if (!end_if_long_past(it, now))
		evaluate(it);
}

/* ---- the drain report ---- */

bool interruption_drain_pending(const struct interruption *it, bool final)
{
	return final ? it->final_pending || it->drain_pending : it->drain_pending;
}

bool interruption_drain_due(const struct interruption *it, int64_t now_ns)
{
	return it->drain_pending && it->info.open && it->info.deadline_ns &&
	       now_ns >= it->info.deadline_ns - it->opts.drain_lead_ns;
}

void interruption_drain_reported(struct interruption *it, bool final)
{
	it->drain_pending = false;
	loop_timer_del(it->opts.loop, it->deadline_timer);
	it->deadline_timer = 0;
	if (final) {
		it->final_pending = false;
		loop_timer_del(it->opts.loop, it->final_timer);
		it->final_timer = 0;
	}
}

/* ---- checkpoint ---- */

static cJSON *claims_save(const struct interruption *it)
{
	cJSON *claims = cJSON_CreateArray();

	for (int s = 0; claims && s < ISRC_COUNT; s++) {
		const struct claim *c = &it->claims[s];
		cJSON *co;

		if (!c->active || !(co = cJSON_CreateObject()))
			continue;
		cJSON_AddNumberToObject(co, "source", s);
		cJSON_AddStringToObject(co, "kind", interruption_kind_name(c->kind));
		cJSON_AddNumberToObject(co, "deadline_ns", (double)c->deadline_ns);
		cJSON_AddBoolToObject(co, "exact", c->exact);
		cJSON_AddNumberToObject(co, "since_ns", (double)c->since_ns);
		cJSON_AddStringToObject(co, "detail", c->detail);
		cJSON_AddStringToObject(co, "reporter", c->reporter);
		cJSON_AddBoolToObject(co, "spent", c->spent);
		cJSON_AddBoolToObject(co, "risk_told", c->risk_told);
		cJSON_AddItemToArray(claims, co);
	}
	return claims;
}

cJSON *interruption_save(const struct interruption *it)
{
	const struct interruption_info *in = &it->info;
	cJSON *o;

	if (!has_claims(it) && !in->open)
		return NULL;
	if (!(o = cJSON_CreateObject()))
		return NULL;
	if (!in->open) {
		/* none open, but the sources' words are kept: one that ended an interruption (a taint
		 * left behind, an instance-action long past) must not open it again after a restart */
		cJSON_AddBoolToObject(o, "closed", true);
		cJSON_AddStringToObject(o, "boot_id", it->opts.boot_id ? it->opts.boot_id : "");
		cJSON_AddItemToObject(o, "claims", claims_save(it));
		return o;
	}
	/* the first four keys are what version 1 of the document always had */
	cJSON_AddNumberToObject(o, "notice_ns", (double)in->notice_ns);
	cJSON_AddNumberToObject(o, "deadline_ns", (double)in->deadline_ns);
	cJSON_AddStringToObject(o, "source", in->source);
	cJSON_AddBoolToObject(o, "deadline_exact", in->deadline_exact);
	cJSON_AddStringToObject(o, "kind", interruption_kind_name(in->kind));
	cJSON_AddBoolToObject(o, "confirmed", in->confirmed);
	cJSON_AddStringToObject(o, "reason", in->reason);
	cJSON_AddStringToObject(o, "reporter", in->reporter);
	cJSON_AddStringToObject(o, "boot_id", it->opts.boot_id ? it->opts.boot_id : "");
	cJSON_AddNumberToObject(o, "suspended_at_arm", (double)it->suspended_at_arm);
	cJSON_AddBoolToObject(o, "counted", it->counted);
	cJSON_AddNumberToObject(o, "updates", it->updates);
	cJSON_AddNumberToObject(o, "pods", it->pods);
	cJSON_AddItemToObject(o, "claims", claims_save(it));
	return o;
}

static enum interruption_kind kind_of(const char *name)
{
	for (size_t k = 1; name && k < sizeof(kind_names) / sizeof(kind_names[0]); k++)
		if (!strcmp(name, kind_names[k]))
			return (enum interruption_kind)k;
	return INTERRUPTION_NONE;
}

static void claims_restore(struct interruption *it, const cJSON *list)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, list) {
		int64_t s = json_int(cJSON_GetObjectItem(c, "source"), -1, ISRC_COUNT, -1);
		struct claim *cl;

		if (s < 0 || s >= ISRC_COUNT)
			continue;
		cl = &it->claims[s];
		cl->kind = kind_of(cJSON_GetStringValue(cJSON_GetObjectItem(c, "kind")));
		cl->active = cl->kind != INTERRUPTION_NONE;
		cl->deadline_ns = json_get_num(c, "deadline_ns");
		cl->exact = cJSON_IsTrue(cJSON_GetObjectItem(c, "exact"));
		cl->since_ns = json_get_num(c, "since_ns");
		cl->spent = cJSON_IsTrue(cJSON_GetObjectItem(c, "spent"));
		cl->risk_told = cJSON_IsTrue(cJSON_GetObjectItem(c, "risk_told"));
		JSON_GET_STR(c, "detail", cl->detail);
		JSON_GET_STR(c, "reporter", cl->reporter);
	}
}

void interruption_restore(struct interruption *it, const cJSON *o)
{
	struct interruption_info *in = &it->info;
	const cJSON *notice = cJSON_GetObjectItem(o, "notice_ns"), *deadline = cJSON_GetObjectItem(o, "deadline_ns");
	const char *boot = cJSON_GetStringValue(cJSON_GetObjectItem(o, "boot_id"));
	bool other_boot = boot && *boot && it->opts.boot_id && strcmp(boot, it->opts.boot_id) != 0;
	int64_t now = now_of(it, CLOCK_REALTIME);

	if (!cJSON_IsObject(o) || in->open)
		return;
	if (cJSON_IsTrue(cJSON_GetObjectItem(o, "closed"))) {
		/* a new boot: every source speaks afresh */
		if (!other_boot)
			claims_restore(it, cJSON_GetObjectItem(o, "claims"));
		schedule_check(it);
		return;
	}
	if (!cJSON_IsNumber(notice) || !cJSON_IsNumber(deadline))
		return;
	in->notice_ns = json_int(notice, 0, INT64_C(1) << 62, 0);
	in->deadline_ns = json_int(deadline, 0, INT64_C(1) << 62, 0);
	JSON_GET_STR(o, "source", in->source);
	in->deadline_exact = cJSON_IsTrue(cJSON_GetObjectItem(o, "deadline_exact"));
	/* a checkpoint of version 1 before kinds: what it opened was taken for a spot interruption */
	in->kind = kind_of(cJSON_GetStringValue(cJSON_GetObjectItem(o, "kind")));
	if (in->kind == INTERRUPTION_NONE)
		in->kind = INTERRUPTION_SPOT;
	in->confirmed = cJSON_GetObjectItem(o, "confirmed") ? cJSON_IsTrue(cJSON_GetObjectItem(o, "confirmed")) :
							       strcmp(in->source, "event") != 0;
	JSON_GET_STR(o, "reason", in->reason);
	JSON_GET_STR(o, "reporter", in->reporter);
	/* unknown before version 2: no sleep is known of before now */
	it->suspended_at_arm = cJSON_IsNumber(cJSON_GetObjectItem(o, "suspended_at_arm")) ?
				       (int64_t)json_get_num(o, "suspended_at_arm") : suspended_ns(it);
	it->counted = cJSON_IsTrue(cJSON_GetObjectItem(o, "counted"));
	it->counted_kind = in->kind;
	it->updates = (uint32_t)json_get_num(o, "updates");
	it->pods = (uint32_t)json_get_num(o, "pods");
	claims_restore(it, cJSON_GetObjectItem(o, "claims"));
	if (!has_claims(it)) {
		/* version 1 kept no claims: the source that opened it claims it still, until it says otherwise */
		enum interruption_source src = !strcmp(in->source, "imds")  ? ISRC_IMDS_ACTION :
					       !strcmp(in->source, "event") ? ISRC_EVENT :
									      ISRC_TAINT_NTH;
		struct claim *cl = &it->claims[src];

		cl->active = true;
		cl->kind = in->kind;
		cl->deadline_ns = in->deadline_ns;
		cl->exact = in->deadline_exact;
		cl->since_ns = in->notice_ns;
	}
	in->open = true;
	in->ended = IEND_NONE;
	/* another boot: the node went down, as announced; never resurrected */
	if (other_boot) {
		end(it, IEND_HAPPENED, "the node has booted again since (a new boot id)");
		memset(it->claims, 0, sizeof(it->claims)); /* a new boot: every source speaks afresh */
		return;
	}
	/* the same boot, long past its deadline: it did not happen (or the node slept through it) */
	if (end_if_long_past(it, now))
		return;
	/* the same interruption: its record is out, its drain reports are due again (the pages
	 * already in the file are not written twice) */
	arm(it, true);
	schedule_check(it);
}

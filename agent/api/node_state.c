/* Node state and the API's own records. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodetrail/api/node_state.h"
#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/idset.h"
#include "nodetrail/base/u64map.h"

/* A pod as stored: allocated only up to the containers it has (see pod_entry_new), so a pod of one
 * container costs 2.2 KiB, not the 15 KiB of a whole struct kube_pod. Never copy it whole. */
struct pod_entry {
	bool seen;                /* listed again during the current relist */
	bool terminated_reported;
	struct kube_pod pod;      /* last: containers[] ends at pod.ncontainers */
};

/* node.event records per reason: at most EVENT_BURST in EVENT_WINDOW_NS of event time. A node
 * that flaps (NodeNotReady/NodeReady every minute) says so ten times, then once per window how many
 * it did not say. The table is bounded: the reason least recently heard is forgotten first. */
#define EVENT_REASONS 64
#define EVENT_BURST 10
#define EVENT_WINDOW_NS (600LL * 1000000000LL)

struct reason_rate {
	uint64_t key;             /* hash of the reason; 0: free */
	int64_t window_start;     /* event time the window opened at */
	int64_t last;             /* event time last heard */
	uint32_t n;               /* records in this window */
	uint32_t suppressed;      /* not written since the last record */
};

struct node_state {
	struct node_state_options opts;
	struct u64map *pods;      /* hash(uid) -> struct pod_entry */
	struct kube_pod *decoded; /* where each pod is decoded before it is stored */
	bool baseline_done[KUBE_NRESOURCES];
	bool relisting[KUBE_NRESOURCES];
	bool have_node;
	struct kube_node node;
	/* event uids already reported: a bounded window, oldest forgotten first */
	struct idset *events_seen;
	struct reason_rate rates[EVENT_REASONS];
	struct node_state_stats stats;
};

static const char *const resource_names[KUBE_NRESOURCES] = { "pods", "nodes", "events" };

const char *kube_resource_name(enum kube_resource res)
{
	return res < KUBE_NRESOURCES ? resource_names[res] : "unknown";
}

int node_state_new(const struct node_state_options *opts, struct node_state **ret)
{
	struct node_state *ns = calloc(1, sizeof(*ns));

	if (!ns)
		return -ENOMEM;
	ns->opts = *opts;
	if (!ns->opts.max_pods)
		ns->opts.max_pods = 512;
	if (!ns->opts.max_events)
		ns->opts.max_events = 4096;
	ns->decoded = malloc(sizeof(*ns->decoded));
	if (!ns->decoded || u64map_new(ns->opts.max_pods, &ns->pods) < 0 ||
	    idset_new(ns->opts.max_events, &ns->events_seen) < 0) {
		node_state_free(ns);
		return -ENOMEM;
	}
	*ret = ns;
	return 0;
}

void node_state_set_observer(struct node_state *ns, const struct node_state_observer *observer)
{
	ns->opts.observer = *observer;
}

void node_state_free(struct node_state *ns)
{
	if (!ns)
		return;
	u64map_free(ns->pods, free);
	free(ns->decoded);
	idset_free(ns->events_seen);
	free(ns);
}

void node_state_get_stats(const struct node_state *ns, struct node_state_stats *ret)
{
	*ret = ns->stats;
	ret->pods = u64map_count(ns->pods);
	ret->pods_dropped = u64map_dropped(ns->pods);
	ret->events_forgotten = idset_forgotten(ns->events_seen);
}

/* a stored copy of *p, sized to its containers */
static struct pod_entry *pod_entry_new(const struct kube_pod *p)
{
	size_t pod_bytes = kube_pod_size(p);
	struct pod_entry *pe = malloc(offsetof(struct pod_entry, pod) + pod_bytes);

	if (!pe)
		return NULL;
	pe->seen = false;
	pe->terminated_reported = false;
	memcpy(&pe->pod, p, pod_bytes);
	return pe;
}

static struct pod_entry *find_pod(const struct node_state *ns, const char *uid)
{
	struct pod_entry *e = u64map_get(ns->pods, hash_str(uid));

	return e && strcmp(e->pod.uid, uid) == 0 ? e : NULL;
}

struct mirror_find {
	const char *hash;
	const struct kube_pod *found;
};

static void find_mirror(void *ctx, uint64_t key, void *value)
{
	struct mirror_find *m = ctx;
	const struct pod_entry *pe = value;

	if (!m->found && pe->pod.mirror_of[0] && !strcmp(pe->pod.mirror_of, m->hash))
		m->found = &pe->pod;
}

const struct kube_pod *node_state_pod(const struct node_state *ns, const char *uid)
{
	struct pod_entry *e = find_pod(ns, uid);
	struct mirror_find m = { .hash = uid };

	if (e)
		return &e->pod;
	/* a static pod's cgroup carries its config hash (no dashes), which its mirror pod's
	 * kubernetes.io/config.mirror annotation repeats: the mirror's uid is another */
	if (!uid[0] || strchr(uid, '-'))
		return NULL;
	u64map_each(ns->pods, find_mirror, &m);
	return m.found;
}

static void count_to_drain(void *ctx, uint64_t key, void *value)
{
	const struct kube_pod *p = &((const struct pod_entry *)value)->pod;

	/* a DaemonSet's pods and static pods stay to the end: nothing drains them */
	if (!strcmp(p->owner_kind, "DaemonSet") || p->mirror_of[0] || !strcmp(p->owner_kind, "Node"))
		return;
	if (!strcmp(p->phase, "Succeeded") || !strcmp(p->phase, "Failed"))
		return;
	(*(uint32_t *)ctx)++;
}

uint32_t node_state_pods_to_drain(const struct node_state *ns)
{
	uint32_t n = 0;

	u64map_each(ns->pods, count_to_drain, &n);
	return n;
}

uint32_t node_state_pod_count(const struct node_state *ns)
{
	return u64map_count(ns->pods);
}

/* ---- records ---- */

static void emit(struct node_state *ns, struct record *r, cJSON *detail, const char *summary)
{
	r->node = ns->opts.node;
	r->detail_key = "api";
	r->detail = detail;
	r->summary = summary;
	r->sources[0] = "api";
	if (!r->event_time_ns)
		r->event_time_ns = clock_ns(CLOCK_REALTIME);
	ns->opts.emit(ns->opts.emit_ctx, r);
}

/* the taints that say the node is going away, and whose word they are */
static const struct taint_claim {
	const char *key;
	const char *value;        /* NULL: any */
	enum interruption_source src;
	enum interruption_kind kind;
} taint_claims[] = {
	{ "aws-node-termination-handler/spot-itn", NULL, ISRC_TAINT_NTH, INTERRUPTION_SPOT },
	{ "aws-node-termination-handler/scheduled-maintenance", NULL, ISRC_TAINT_NTH, INTERRUPTION_MAINTENANCE },
	{ "aws-node-termination-handler/asg-lifecycle-termination", NULL, ISRC_TAINT_NTH, INTERRUPTION_ASG },
	{ "karpenter.sh/disrupted", NULL, ISRC_TAINT_KARPENTER, INTERRUPTION_DISRUPTION },
	{ "karpenter.sh/disruption", "disrupting", ISRC_TAINT_KARPENTER, INTERRUPTION_DISRUPTION }, /* before v1 */
};

#define REBALANCE_TAINT "aws-node-termination-handler/rebalance-recommendation"

static const struct taint_claim *taint_claim_of(const struct kube_taint *t)
{
	for (size_t i = 0; i < sizeof(taint_claims) / sizeof(taint_claims[0]); i++)
		if (!strcmp(t->key, taint_claims[i].key) && (!taint_claims[i].value || !strcmp(t->value, taint_claims[i].value)))
			return &taint_claims[i];
	return NULL;
}

/* the events that say the node is going away (NTH's and Karpenter's reasons) */
static const struct event_claim {
	const char *reason;
	enum interruption_kind kind;
} event_claims[] = {
	{ "SpotInterruption", INTERRUPTION_SPOT },       /* NTH */
	{ "SpotInterrupted", INTERRUPTION_SPOT },        /* Karpenter */
	{ "InstanceTerminating", INTERRUPTION_INSTANCE }, /* Karpenter */
	{ "InstanceStopping", INTERRUPTION_INSTANCE },   /* Karpenter */
	{ "ScheduledEvent", INTERRUPTION_MAINTENANCE },  /* NTH */
	{ "ASGLifecycle", INTERRUPTION_ASG },            /* NTH */
	{ "ASGLifecycleTermination", INTERRUPTION_ASG },
	{ "DisruptionTerminating", INTERRUPTION_DISRUPTION }, /* Karpenter: "Disrupting Node: <reason>" */
};

static const struct event_claim *event_claim_of(const struct kube_event_obj *e)
{
	for (size_t i = 0; i < sizeof(event_claims) / sizeof(event_claims[0]); i++)
		if (!strcmp(e->reason, event_claims[i].reason))
			return &event_claims[i];
	return NULL;
}

/* The node's taints as claims: each source claims the most specific kind its taints say, or
 * withdraws when none is left (a cancelled disruption, a drained-and-uncordoned node). */
static void claim_taints(struct node_state *ns, const struct kube_node *n)
{
	static const enum interruption_source sources[] = { ISRC_TAINT_NTH, ISRC_TAINT_KARPENTER };

	if (!ns->opts.interruption)
		return;
	for (size_t s = 0; s < sizeof(sources) / sizeof(sources[0]); s++) {
		const struct taint_claim *best = NULL;
		const char *key = NULL;

		for (int i = 0; i < n->ntaints; i++) {
			const struct taint_claim *tc = taint_claim_of(&n->taints[i]);

			if (tc && tc->src == sources[s] && (!best || tc->kind > best->kind)) {
				best = tc;
				key = n->taints[i].key;
			}
		}
		if (best) {
			struct interruption_notice in = { .src = best->src, .kind = best->kind, .detail = key };

			/* Karpenter's hard deadline for the node's pods, when its NodeClaim has one
			 * (terminationGracePeriod): a disruption's drain report comes before it */
			if (best->src == ISRC_TAINT_KARPENTER && (in.deadline_ns = clock_parse(n->termination_deadline)))
				in.exact = true;

			interruption_claim(ns->opts.interruption, &in, u64map_count(ns->pods));
		} else {
			interruption_withdraw(ns->opts.interruption, sources[s]);
		}
	}
}

/* NTH's rebalance taint: a raised risk, not an interruption (its value is the event's id) */
static void rebalance_risk(struct node_state *ns, const struct kube_taint *t)
{
	char what[160];

	if (!ns->opts.interruption || strcmp(t->key, REBALANCE_TAINT) != 0)
		return;
	snprintf(what, sizeof(what), "rebalance recommendation (aws-node-termination-handler taint%s%.63s)",
		 t->value[0] ? ", " : "", t->value);
	interruption_risk(ns->opts.interruption, "taint", what, 0);
}

/* "Disrupting Node: Underutilized" -> "Underutilized" */
static void disruption_reason_of(const char *message, char *buf, size_t len)
{
	const char *p = strstr(message, "Disrupting Node: ");
	size_t n;

	buf[0] = '\0';
	if (!p)
		return;
	p += strlen("Disrupting Node: ");
	n = strcspn(p, " ,.;/\"");
	if (n && n < len)
		snprintf(buf, len, "%.*s", (int)n, p);
}

/* what an event about the node says of its future: a claim, a reason, a risk */
static void event_notice(struct node_state *ns, const struct kube_event_obj *e)
{
	const struct event_claim *ec = event_claim_of(e);
	int64_t at = clock_parse(e->last_time);

	if (!ns->opts.interruption)
		return;
	if (!strcmp(e->reason, "RebalanceRecommendation") || !strcmp(e->reason, "SpotRebalanceRecommendation")) {
		char what[224];

		snprintf(what, sizeof(what), "rebalance recommendation (%s in an event, %s)",
			 e->source[0] ? e->source : "unknown", e->reason);
		interruption_risk(ns->opts.interruption, "event", what, at);
		return;
	}
	if (!ec)
		return;
	if (ec->kind == INTERRUPTION_DISRUPTION) {
		char reason[32];

		disruption_reason_of(e->message, reason, sizeof(reason));
		interruption_disruption_reason(ns->opts.interruption, reason[0] ? reason : "unknown");
	}
	interruption_claim(ns->opts.interruption,
			   &(struct interruption_notice){ .src = ISRC_EVENT, .kind = ec->kind, .at_ns = at,
							  .detail = e->reason, .reporter = e->source },
			   u64map_count(ns->pods));
}

static void emit_taint(struct node_state *ns, const struct kube_taint *t, bool added)
{
	char summary[512];
	struct record r = { 0 };
	bool interruption = taint_claim_of(t) != NULL;
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return;
	cJSON_AddStringToObject(o, "change", added ? "added" : "removed");
	cJSON_AddStringToObject(o, "key", t->key);
	if (t->value[0])
		cJSON_AddStringToObject(o, "value", t->value);
	cJSON_AddStringToObject(o, "effect", t->effect);
	cJSON_AddBoolToObject(o, "interruption", interruption);
	snprintf(summary, sizeof(summary), "taint %s%s%s:%s %s on node %s%s", t->key, t->value[0] ? "=" : "",
		 t->value, t->effect, added ? "added" : "removed", ns->opts.node->node_name,
		 interruption ? " (interruption)" : "");
	r.type = RECORD_NODE_TAINT;
	record_make_id(r.type, NULL, hash_str(t->key) ^ hash_str(t->effect), added, hash_str(ns->node.resource_version),
		       r.record_id);
	emit(ns, &r, o, summary);
	cJSON_Delete(o);
	if (added)
		rebalance_risk(ns, t);
}

/* ---- node ---- */

static const struct kube_taint *find_taint(const struct kube_node *n, const struct kube_taint *t)
{
	for (int i = 0; i < n->ntaints; i++)
		if (!strcmp(n->taints[i].key, t->key) && !strcmp(n->taints[i].effect, t->effect) &&
		    !strcmp(n->taints[i].value, t->value))
			return &n->taints[i];
	return NULL;
}

static const struct kube_condition *find_condition(const struct kube_node *n, const char *type)
{
	for (int i = 0; i < n->nconditions; i++)
		if (!strcmp(n->conditions[i].type, type))
			return &n->conditions[i];
	return NULL;
}

static void update_identity(struct node_state *ns, const struct kube_node *n)
{
	struct record_node *id = ns->opts.node;

	/* labels fill what IMDS has not (IMDS is the ground truth on EC2) */
	if (n->capacity_type[0] && !id->capacity_type[0])
		snprintf(id->capacity_type, sizeof(id->capacity_type), "%s", n->capacity_type);
	if (n->node_group[0])
		snprintf(id->node_group, sizeof(id->node_group), "%s", n->node_group);
	if (n->instance_type[0] && !id->instance_type[0])
		snprintf(id->instance_type, sizeof(id->instance_type), "%s", n->instance_type);
	if (n->zone[0] && !id->availability_zone[0])
		snprintf(id->availability_zone, sizeof(id->availability_zone), "%s", n->zone);
}

static void apply_node(struct node_state *ns, enum kube_event_type type, const cJSON *obj)
{
	struct kube_node *n = malloc(sizeof(*n));
	bool baseline = !ns->baseline_done[KUBE_NODES];

	if (!n)
		return;
	if (kube_node_decode(obj, n) < 0 || strcmp(n->name, ns->opts.node->node_name) != 0) {
		ns->stats.decode_errors += n->name[0] ? 0 : 1;
		free(n);
		return;
	}
	if (type == KUBE_EV_DELETED) {
		ns->have_node = false;
		free(n);
		return;
	}
	if (ns->have_node && !baseline) {
		for (int i = 0; i < n->ntaints; i++)
			if (!find_taint(&ns->node, &n->taints[i]))
				emit_taint(ns, &n->taints[i], true);
		for (int i = 0; i < ns->node.ntaints; i++)
			if (!find_taint(n, &ns->node.taints[i]))
				emit_taint(ns, &ns->node.taints[i], false);
		for (int i = 0; i < n->nconditions; i++) {
			const struct kube_condition *was = find_condition(&ns->node, n->conditions[i].type);

			if ((!was || strcmp(was->status, n->conditions[i].status) != 0) &&
			    ns->opts.observer.condition_changed)
				ns->opts.observer.condition_changed(ns->opts.observer.ctx, &n->conditions[i],
								    was ? was->status : "Unknown");
		}
	} else {
		/* a rebalance taint already on the node when we start is still news (once: its id) */
		for (int i = 0; i < n->ntaints; i++)
			rebalance_risk(ns, &n->taints[i]);
	}
	/* every state of the taints, the first one too: an interruption taint there when we start is
	 * news, and one gone while we were away ends what the checkpoint said was open */
	claim_taints(ns, n);
	update_identity(ns, n);
	ns->node = *n;
	ns->have_node = true;
	free(n);
}

/* ---- events ---- */

static struct reason_rate *reason_rate_of(struct node_state *ns, const char *reason)
{
	uint64_t key = hash_str(reason) | 1;
	struct reason_rate *oldest = &ns->rates[0];

	for (int i = 0; i < EVENT_REASONS; i++) {
		struct reason_rate *r = &ns->rates[i];

		if (r->key == key)
			return r;
		if (!r->key) {
			oldest = r;
			break;
		}
		if (r->last < oldest->last)
			oldest = r;
	}
	if (oldest->key)
		ns->stats.event_reasons_forgotten++;
	*oldest = (struct reason_rate){ .key = key };
	return oldest;
}

/* May an event of this reason at time t be written? *ret_suppressed: how many of this reason
 * were not written since the last one that was (when it may). */
static bool event_rate_allow(struct node_state *ns, const char *reason, int64_t t, uint32_t *ret_suppressed)
{
	struct reason_rate *r = reason_rate_of(ns, reason);

	*ret_suppressed = 0;
	r->last = t;
	/* a new window, also when event time went back a whole window (a skewed writer) */
	if (!r->n || t - r->window_start >= EVENT_WINDOW_NS || r->window_start - t >= EVENT_WINDOW_NS) {
		r->window_start = t;
		r->n = 0;
	}
	if (r->n >= EVENT_BURST) {
		r->suppressed++;
		ns->stats.events_rate_limited++;
		return false;
	}
	r->n++;
	*ret_suppressed = r->suppressed;
	r->suppressed = 0;
	return true;
}

static void apply_event(struct node_state *ns, enum kube_event_type type, const cJSON *obj)
{
	struct kube_event_obj *e = malloc(sizeof(*e));
	struct record r = { 0 };
	uint32_t suppressed;
	char summary[768];
	cJSON *o;

	if (!e)
		return;
	if (kube_event_obj_decode(obj, e) < 0) {
		ns->stats.decode_errors++;
		goto out;
	}
	/* DELETED is the event's TTL expiring: what we keep past it is the point */
	if (type == KUBE_EV_DELETED || strcmp(e->involved_kind, "Node") != 0 ||
	    strcmp(e->involved_name, ns->opts.node->node_name) != 0)
		goto out;
	/* node events live in `default`: one written elsewhere is anyone's word, not the node's */
	if (strcmp(e->ns, "default") != 0) {
		ns->stats.events_other_namespace++;
		goto out;
	}
	if (idset_check_add(ns->events_seen, hash_str(e->uid))) {
		ns->stats.events_duplicate++;
		goto out;
	}
	r.event_time_ns = clock_parse(e->first_time);
	if (!event_rate_allow(ns, e->reason, r.event_time_ns ? r.event_time_ns : clock_ns(CLOCK_REALTIME),
			      &suppressed))
		goto notice;
	o = cJSON_CreateObject();
	if (!o)
		goto notice;
	cJSON_AddStringToObject(o, "reason", e->reason);
	cJSON_AddStringToObject(o, "event_type", e->type);
	cJSON_AddStringToObject(o, "message", e->message);
	cJSON_AddStringToObject(o, "namespace", e->ns);
	if (e->source[0])
		cJSON_AddStringToObject(o, "reporting_component", e->source);
	cJSON_AddNumberToObject(o, "count", e->count);
	cJSON_AddStringToObject(o, "first_time", e->first_time);
	cJSON_AddStringToObject(o, "event_uid", e->uid);
	if (suppressed)
		cJSON_AddNumberToObject(o, "suppressed_before", suppressed);
	snprintf(summary, sizeof(summary), "node %s event %s (%s%s%s): %.400s", ns->opts.node->node_name, e->reason,
		 e->type, e->source[0] ? ", " : "", e->source, e->message);
	if (suppressed)
		snprintf(summary + strlen(summary), sizeof(summary) - strlen(summary),
			 " (%u earlier of this reason not written: rate limit)", suppressed);
	r.type = RECORD_NODE_EVENT;
	record_make_id(r.type, NULL, hash_str(e->uid), 0, 0, r.record_id);
	emit(ns, &r, o, summary);
	cJSON_Delete(o);
	ns->stats.events_reported++;
notice:
	/* what the event says happens whether or not its record was written */
	event_notice(ns, e);
out:
	free(e);
}

/* ---- pods ---- */

/* pod.terminated is due: once per pod */
static void pod_ended(struct node_state *ns, struct pod_entry *pe, enum pod_end_seen seen)
{
	if (pe->terminated_reported)
		return;
	pe->terminated_reported = true;
	if (ns->opts.observer.pod_ended)
		ns->opts.observer.pod_ended(ns->opts.observer.ctx, &pe->pod, seen);
}

/* a pod that has ended while its object stays (kubelet eviction, node shutdown) */
static bool ended_in_place(const struct kube_pod *p)
{
	return strcmp(p->phase, "Failed") == 0 &&
	       (!strcmp(p->reason, "Evicted") || !strcmp(p->reason, "NodeShutdown") || !strcmp(p->reason, "Terminated"));
}

static void apply_pod(struct node_state *ns, enum kube_event_type type, const cJSON *obj)
{
	struct kube_pod *p = ns->decoded;
	struct pod_entry *pe, *fresh;
	bool baseline = !ns->baseline_done[KUBE_PODS];
	uint64_t key;
	void *old;

	if (kube_pod_decode(obj, p) < 0) {
		ns->stats.decode_errors++;
		return;
	}
	key = hash_str(p->uid);
	pe = find_pod(ns, p->uid);
	if (ns->opts.observer.pod_changed)
		ns->opts.observer.pod_changed(ns->opts.observer.ctx, p, type == KUBE_EV_DELETED);
	fresh = pod_entry_new(p);
	if (!fresh)
		return;
	if (pe) {
		/* the last status is the most complete: it replaces what was known */
		fresh->terminated_reported = pe->terminated_reported;
		u64map_put(ns->pods, key, fresh, &old);
		free(old);
		pe = fresh;
	}
	if (type == KUBE_EV_DELETED) {
		pod_ended(ns, fresh, POD_END_DELETED);
		if (pe)
			u64map_take(ns->pods, key);
		free(fresh);
		return;
	}
	if (!pe) {
		if (u64map_put(ns->pods, key, fresh, NULL) < 0) {
			free(fresh);
			return;
		}
		pe = fresh;
		/* already over when first listed: history, not news */
		if (baseline && ended_in_place(&pe->pod))
			pe->terminated_reported = true;
	}
	pe->seen = true;
	if (ended_in_place(&pe->pod))
		pod_ended(ns, pe, POD_END_STATUS);
}

#define SWEEP_MAX 128

struct sweep {
	uint64_t gone[SWEEP_MAX];
	int ngone;
};

static void clear_seen(void *ctx, uint64_t key, void *value)
{
	((struct pod_entry *)value)->seen = false;
}

static void collect_unseen(void *ctx, uint64_t key, void *value)
{
	struct sweep *s = ctx;

	if (!((struct pod_entry *)value)->seen && s->ngone < SWEEP_MAX)
		s->gone[s->ngone++] = key;
}

void node_state_relist_begin(struct node_state *ns, enum kube_resource res)
{
	ns->relisting[res] = true;
	if (res == KUBE_PODS)
		u64map_each(ns->pods, clear_seen, NULL);
}

void node_state_relist_end(struct node_state *ns, enum kube_resource res)
{
	if (res == KUBE_PODS && ns->baseline_done[KUBE_PODS]) {
		struct sweep s = { .ngone = 0 };

		/* pods deleted while we were not watching: report them from what we
		 * last knew (beyond SWEEP_MAX at once, the next relist sweeps the rest) */
		u64map_each(ns->pods, collect_unseen, &s);
		for (int i = 0; i < s.ngone; i++) {
			struct pod_entry *pe = u64map_take(ns->pods, s.gone[i]);

			ns->stats.missed_deletions++;
			pod_ended(ns, pe, POD_END_RELIST);
			/* gone from the API: what follows the pod downstream forgets it too */
			if (ns->opts.observer.pod_changed)
				ns->opts.observer.pod_changed(ns->opts.observer.ctx, &pe->pod, true);
			free(pe);
		}
	}
	ns->relisting[res] = false;
	ns->baseline_done[res] = true;
}

void node_state_apply(struct node_state *ns, enum kube_resource res, enum kube_event_type type, const cJSON *obj)
{
	switch (res) {
	case KUBE_PODS: apply_pod(ns, type, obj); break;
	case KUBE_NODES: apply_node(ns, type, obj); break;
	case KUBE_EVENTS: apply_event(ns, type, obj); break;
	default: break;
	}
}

/* ---- checkpoint ---- */

struct save_pods {
	cJSON *list;
};

static void save_pod(void *ctx, uint64_t key, void *value)
{
	struct save_pods *sp = ctx;
	const struct pod_entry *pe = value;
	cJSON *o = cJSON_CreateObject(), *pod = kube_pod_encode(&pe->pod);

	if (!o || !pod) {
		cJSON_Delete(o);
		cJSON_Delete(pod);
		return;
	}
	cJSON_AddItemToObject(o, "pod", pod);
	cJSON_AddBoolToObject(o, "terminated_reported", pe->terminated_reported);
	cJSON_AddItemToArray(sp->list, o);
}

cJSON *node_state_save(const struct node_state *ns)
{
	cJSON *doc = cJSON_CreateObject(), *o;
	struct save_pods sp;

	if (!doc)
		return NULL;
	/* only what a relist can be compared with: the first list is not done yet otherwise */
	if (ns->baseline_done[KUBE_PODS] && (sp.list = cJSON_AddArrayToObject(doc, "pods")))
		u64map_each(ns->pods, save_pod, &sp);
	if (ns->have_node && ns->baseline_done[KUBE_NODES] && (o = kube_node_encode(&ns->node)))
		cJSON_AddItemToObject(doc, "node", o);
	return doc;
}

int node_state_restore(struct node_state *ns, const cJSON *doc)
{
	const cJSON *item, *pods = cJSON_GetObjectItem(doc, "pods"), *node = cJSON_GetObjectItem(doc, "node");
	int n = 0;

	cJSON_ArrayForEach(item, pods) {
		struct pod_entry *pe;
		void *old = NULL;

		if (kube_pod_decode(cJSON_GetObjectItem(item, "pod"), ns->decoded) < 0)
			continue;
		pe = pod_entry_new(ns->decoded);
		if (!pe)
			break;
		if (u64map_put(ns->pods, hash_str(pe->pod.uid), pe, &old) < 0) {
			free(pe);
			continue;
		}
		pe->terminated_reported = cJSON_IsTrue(cJSON_GetObjectItem(item, "terminated_reported"));
		/* the same uid twice (a hand-edited file): the last one stands */
		if (old)
			free(old);
		else
			n++;
	}
	/* the first list after the restart is then a relist: what changed while
	 * the agent was down (pods gone, taints added) is reported */
	if (cJSON_IsArray(pods))
		ns->baseline_done[KUBE_PODS] = true;
	if (node && kube_node_decode(node, &ns->node) == 0 && strcmp(ns->node.name, ns->opts.node->node_name) == 0) {
		ns->have_node = true;
		ns->baseline_done[KUBE_NODES] = true;
		update_identity(ns, &ns->node);
	}
	return n;
}

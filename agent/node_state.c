/* Node state and the API-side records. */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nodetrail/clock.h"
#include "nodetrail/history.h"
#include "nodetrail/node_state.h"
#include "nodetrail/u64map.h"
#include "nodetrail/writer.h"

#define NOTICE_TO_DEADLINE_NS (120LL * 1000000000LL)

/* A pod as stored: allocated only up to the containers it has (see pod_entry_new), so a pod of one
 * container costs 2.2 KiB, not the 15 KiB of a whole struct kube_pod. Never copy it whole. */
struct pod_entry {
	bool seen;                /* listed again during the current relist */
	bool terminated_reported;
	struct kube_pod pod;      /* last: containers[] ends at pod.ncontainers */
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
	struct record_ids *events_seen;
	/* the open interruption, if any */
	bool interruption_open;
	int64_t interruption_notice_ns;
	int64_t interruption_deadline_ns;
	bool interruption_deadline_exact; /* the instance's own time, not notice + 120 s */
	char interruption_source[16];
	struct node_state_stats stats;
};

static const char *const resource_names[KUBE_NRESOURCES] = { "pods", "nodes", "events" };

const char *kube_resource_name(enum kube_resource res)
{
	return res < KUBE_NRESOURCES ? resource_names[res] : "unknown";
}

int64_t node_state_parse_time(const char *s)
{
	struct tm tm = { 0 };
	const char *p;
	int64_t ns = 0, scale = 100000000;
	time_t t;

	if (!s || !*s)
		return 0;
	p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!p)
		return 0;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ns += (*p - '0') * scale;
	t = timegm(&tm);
	/* Kubernetes writes UTC ("Z"); honour an explicit offset anyway */
	if (*p == '+' || *p == '-') {
		int hh = 0, mm = 0;

		if (sscanf(p + 1, "%2d:%2d", &hh, &mm) != 2 || hh < 0 || hh > 23 || mm < 0 || mm > 59)
			return 0; /* found by fuzz_imds: a huge offset overflowed */
		t -= (*p == '+' ? 1 : -1) * (hh * 3600 + mm * 60);
	}
	/* ns since the epoch fit in int64 until 2262: anything outside is not a time we can use */
	if (t < 0 || t > 9000000000LL)
		return 0;
	return (int64_t)t * 1000000000LL + ns;
}

struct node_state *node_state_new(const struct node_state_options *opts)
{
	struct node_state *ns = calloc(1, sizeof(*ns));

	if (!ns)
		return NULL;
	ns->opts = *opts;
	if (!ns->opts.max_pods)
		ns->opts.max_pods = 512;
	if (!ns->opts.max_events)
		ns->opts.max_events = 4096;
	ns->pods = u64map_new(ns->opts.max_pods);
	ns->decoded = malloc(sizeof(*ns->decoded));
	ns->events_seen = record_ids_new(ns->opts.max_events);
	if (!ns->pods || !ns->decoded || !ns->events_seen) {
		node_state_free(ns);
		return NULL;
	}
	return ns;
}

void node_state_free(struct node_state *ns)
{
	if (!ns)
		return;
	u64map_free(ns->pods, free);
	free(ns->decoded);
	record_ids_free(ns->events_seen);
	free(ns);
}

void node_state_get_stats(const struct node_state *ns, struct node_state_stats *ret)
{
	*ret = ns->stats;
	ret->pods = u64map_count(ns->pods);
	ret->pods_dropped = u64map_dropped(ns->pods);
	ret->events_forgotten = record_ids_forgotten(ns->events_seen);
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
	struct pod_entry *e = u64map_get(ns->pods, record_hash_str(uid));

	return e && strcmp(e->pod.uid, uid) == 0 ? e : NULL;
}

struct each_pod {
	void (*cb)(void *ctx, const struct kube_pod *pod);
	void *ctx;
};

static void each_pod(void *ctx, uint64_t key, void *value)
{
	struct each_pod *e = ctx;

	e->cb(e->ctx, &((struct pod_entry *)value)->pod);
}

void node_state_each_pod(const struct node_state *ns, void (*cb)(void *ctx, const struct kube_pod *pod), void *ctx)
{
	struct each_pod e = { cb, ctx };

	u64map_each(ns->pods, each_pod, &e);
}

const struct kube_pod *node_state_pod(const struct node_state *ns, const char *uid)
{
	struct pod_entry *e = find_pod(ns, uid);

	return e ? &e->pod : NULL;
}

/* ---- records ---- */

static void emit(struct node_state *ns, struct record *r, cJSON *detail, const char *summary)
{
	r->node = ns->opts.node;
	/* the detail is named after where the fact came from */
	r->detail_key = r->sources[0] && strcmp(r->sources[0], "imds") == 0 ? "imds" : "api";
	r->detail = detail;
	r->summary = summary;
	if (!r->sources[0])
		r->sources[0] = "api";
	if (!r->event_time_ns)
		r->event_time_ns = clock_ns(CLOCK_REALTIME);
	ns->opts.emit(ns->opts.emit_ctx, r);
}

static bool is_interruption_taint(const struct kube_taint *t)
{
	static const char *const keys[] = {
		"aws-node-termination-handler/spot-itn",
		"aws-node-termination-handler/scheduled-maintenance",
		"aws-node-termination-handler/asg-lifecycle-termination",
		"karpenter.sh/disrupted",
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(t->key, keys[i]) == 0)
			return true;
	return strcmp(t->key, "karpenter.sh/disruption") == 0 && strcmp(t->value, "disrupting") == 0;
}

static bool is_interruption_event(const struct kube_event_obj *e)
{
	static const char *const reasons[] = { "SpotInterruption", "SpotInterrupted", "InstanceTerminating",
					       "ScheduledEvent", "ASGLifecycleTermination" };

	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (strcmp(e->reason, reasons[i]) == 0)
			return true;
	return false;
}

void node_state_interruption(struct node_state *ns, const char *source, const char *kind, int64_t notice_ns,
			     int64_t deadline_ns, const char *detail)
{
	char summary[512], when[32];
	struct record r = { 0 };
	cJSON *o;

	if (ns->interruption_open) {
		/* the first notice opens it; later ones are the same interruption, but
		 * the instance's own time (IMDS) beats the estimate of notice + 120 s */
		if (deadline_ns && deadline_ns != ns->interruption_deadline_ns && !ns->interruption_deadline_exact) {
			ns->interruption_deadline_ns = deadline_ns;
			ns->interruption_deadline_exact = true;
			if (ns->opts.on_interruption)
				ns->opts.on_interruption(ns->opts.on_pod_ctx, ns->interruption_notice_ns, deadline_ns);
		}
		return;
	}
	ns->interruption_open = true;
	ns->interruption_notice_ns = notice_ns ? notice_ns : clock_ns(CLOCK_REALTIME);
	ns->interruption_deadline_exact = deadline_ns != 0;
	if (!deadline_ns)
		deadline_ns = ns->interruption_notice_ns + NOTICE_TO_DEADLINE_NS;
	ns->interruption_deadline_ns = deadline_ns;
	snprintf(ns->interruption_source, sizeof(ns->interruption_source), "%s", source);
	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddStringToObject(o, "source", source);
	cJSON_AddStringToObject(o, "kind", kind);
	cJSON_AddStringToObject(o, "deadline", writer_format_time(deadline_ns, when));
	cJSON_AddNumberToObject(o, "pods_on_node", u64map_count(ns->pods));
	if (detail && *detail)
		cJSON_AddStringToObject(o, "detail", detail);
	snprintf(summary, sizeof(summary), "%s interruption of node %s announced by %s: deadline %s, %u pods on the node",
		 kind, ns->opts.node->node_name, source, when, u64map_count(ns->pods));
	r.type = "node.interruption";
	r.event_time_ns = ns->interruption_notice_ns;
	record_make_id(r.type, NULL, record_hash_str(ns->opts.node->node_name),
		       (uint64_t)ns->interruption_notice_ns / 1000000000ULL, 0, r.record_id);
	r.sources[0] = strcmp(source, "imds") == 0 ? "imds" : "api";
	emit(ns, &r, o, summary);
	cJSON_Delete(o);
	if (ns->opts.on_interruption)
		ns->opts.on_interruption(ns->opts.on_pod_ctx, ns->interruption_notice_ns, deadline_ns);
}

static void emit_taint(struct node_state *ns, const struct kube_taint *t, bool added)
{
	char summary[512];
	struct record r = { 0 };
	bool interruption = is_interruption_taint(t);
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
	r.type = "node.taint";
	record_make_id(r.type, NULL, record_hash_str(t->key) ^ record_hash_str(t->effect), added,
		       record_hash_str(ns->node.resource_version), r.record_id);
	emit(ns, &r, o, summary);
	cJSON_Delete(o);
	if (added && interruption)
		node_state_interruption(ns, "taint", strncmp(t->key, "karpenter", 9) == 0 ? "karpenter" : "spot",
					0, 0, t->key);
}

static void emit_condition(struct node_state *ns, const struct kube_condition *c, const char *was)
{
	char summary[512];
	struct record r = { 0 };
	cJSON *o = cJSON_CreateObject(), *kernel = NULL;

	if (!o)
		return;
	cJSON_AddStringToObject(o, "condition", c->type);
	cJSON_AddStringToObject(o, "status", c->status);
	cJSON_AddStringToObject(o, "previous_status", was);
	if (c->reason[0])
		cJSON_AddStringToObject(o, "reason", c->reason);
	if (c->message[0])
		cJSON_AddStringToObject(o, "message", c->message);
	snprintf(summary, sizeof(summary), "node %s condition %s: %s -> %s%s%s", ns->opts.node->node_name, c->type,
		 was, c->status, c->reason[0] ? " (" : "", c->reason[0] ? c->reason : "");
	if (c->reason[0])
		strncat(summary, ")", sizeof(summary) - strlen(summary) - 1);
	if (!strcmp(c->type, "MemoryPressure") && !strcmp(c->status, "True") && ns->opts.memory_context &&
	    (kernel = ns->opts.memory_context(ns->opts.on_pod_ctx))) {
		size_t n = strlen(summary);

		snprintf(summary + n, sizeof(summary) - n, "; kernel: %d OOM kill%s in the last 5 minutes",
			 (int)cJSON_GetNumberValue(cJSON_GetObjectItem(kernel, "oom_kills_last_5m")),
			 cJSON_GetNumberValue(cJSON_GetObjectItem(kernel, "oom_kills_last_5m")) == 1 ? "" : "s");
		r.detail2_key = "kernel";
		r.detail2 = kernel;
		r.sources[1] = "kernel";
	}
	r.type = "node.condition";
	r.event_time_ns = node_state_parse_time(c->last_transition);
	record_make_id(r.type, NULL, record_hash_str(c->type), record_hash_str(c->status),
		       record_hash_str(c->last_transition), r.record_id);
	emit(ns, &r, o, summary);
	cJSON_Delete(o);
	cJSON_Delete(kernel);
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

			if (!was || strcmp(was->status, n->conditions[i].status) != 0)
				emit_condition(ns, &n->conditions[i], was ? was->status : "Unknown");
		}
	} else {
		/* an interruption taint already on the node when we start is still news */
		for (int i = 0; i < n->ntaints; i++)
			if (is_interruption_taint(&n->taints[i]))
				node_state_interruption(ns, "taint", "spot", 0, 0, n->taints[i].key);
	}
	update_identity(ns, n);
	ns->node = *n;
	ns->have_node = true;
	free(n);
}

/* ---- events ---- */

static void apply_event(struct node_state *ns, enum kube_event_type type, const cJSON *obj)
{
	struct kube_event_obj *e = malloc(sizeof(*e));
	struct record r = { 0 };
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
	if (record_ids_check_add(ns->events_seen, e->uid)) {
		ns->stats.events_duplicate++;
		goto out;
	}
	o = cJSON_CreateObject();
	if (!o)
		goto out;
	cJSON_AddStringToObject(o, "reason", e->reason);
	cJSON_AddStringToObject(o, "event_type", e->type);
	cJSON_AddStringToObject(o, "message", e->message);
	if (e->source[0])
		cJSON_AddStringToObject(o, "source", e->source);
	cJSON_AddNumberToObject(o, "count", e->count);
	cJSON_AddStringToObject(o, "first_time", e->first_time);
	cJSON_AddStringToObject(o, "event_uid", e->uid);
	snprintf(summary, sizeof(summary), "node %s event %s (%s%s%s): %.400s", ns->opts.node->node_name, e->reason,
		 e->type, e->source[0] ? ", " : "", e->source, e->message);
	r.type = "node.event";
	r.event_time_ns = node_state_parse_time(e->first_time);
	record_make_id(r.type, NULL, record_hash_str(e->uid), 0, 0, r.record_id);
	emit(ns, &r, o, summary);
	cJSON_Delete(o);
	ns->stats.events_reported++;
	if (is_interruption_event(e))
		node_state_interruption(ns, "event", strstr(e->reason, "Spot") ? "spot" : "instance", 0, 0, e->reason);
out:
	free(e);
}

/* ---- pods ---- */

/* The cause of a pod's end as its status tells it (DESIGN 3) */
static const char *termination_cause(const struct kube_pod *p)
{
	static const struct {
		const char *reason;
		const char *cause;
	} disruption[] = {
		{ "EvictionByEvictionAPI", "evicted" },  { "TerminationByKubelet", "evicted" },
		{ "PreemptionByScheduler", "preempted" }, { "PreemptionByKubeScheduler", "preempted" },
		{ "DeletionByTaintManager", "taint_manager" }, { "DeletionByPodGC", "pod_gc" },
	};

	for (size_t i = 0; i < sizeof(disruption) / sizeof(disruption[0]); i++)
		if (strcmp(p->disruption_reason, disruption[i].reason) == 0)
			return disruption[i].cause;
	if (strcmp(p->reason, "Evicted") == 0)
		return "evicted";
	if (strcmp(p->reason, "NodeShutdown") == 0 || strcmp(p->reason, "Terminated") == 0)
		return "node_shutdown";
	return "deleted";
}

static void emit_pod_terminated(struct node_state *ns, struct pod_entry *pe, const char *how)
{
	const struct kube_pod *p = &pe->pod;
	const char *cause = termination_cause(p);
	/* during an interruption, an eviction or deletion is the interruption's doing
	 * (NTH and Karpenter drain through the Eviction API); a preemption is not */
	bool interrupted = ns->interruption_open && strcmp(cause, "preempted") != 0 && strcmp(cause, "pod_gc") != 0;
	char summary[768];
	struct record r = { 0 };
	cJSON *o, *ctrs, *kernel;
	int64_t grace = p->deletion_grace_s >= 0 ? p->deletion_grace_s : p->termination_grace_s;

	if (pe->terminated_reported)
		return;
	pe->terminated_reported = true;
	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddStringToObject(o, "cause", interrupted ? "spot_interruption" : cause);
	if (interrupted) {
		cJSON_AddStringToObject(o, "interruption_source", ns->interruption_source);
		cJSON_AddStringToObject(o, "drained_by", cause);
	}
	cJSON_AddStringToObject(o, "observed", how);
	if (p->disruption_reason[0])
		cJSON_AddStringToObject(o, "disruption_reason", p->disruption_reason);
	if (p->reason[0])
		cJSON_AddStringToObject(o, "status_reason", p->reason);
	if (p->message[0] || p->disruption_message[0])
		cJSON_AddStringToObject(o, "message", p->message[0] ? p->message : p->disruption_message);
	cJSON_AddStringToObject(o, "phase", p->phase);
	if (p->deletion_timestamp[0])
		cJSON_AddStringToObject(o, "deletion_timestamp", p->deletion_timestamp);
	if (grace >= 0)
		cJSON_AddNumberToObject(o, "grace_period_s", (double)grace);
	ctrs = cJSON_AddArrayToObject(o, "containers");
	for (int i = 0; ctrs && i < p->ncontainers; i++) {
		const struct kube_container *c = &p->containers[i];
		const struct kube_terminated *t = c->terminated.set ? &c->terminated : &c->last_terminated;
		cJSON *co = cJSON_CreateObject();

		if (!co)
			break;
		cJSON_AddStringToObject(co, "name", c->name);
		if (c->container_id[0])
			cJSON_AddStringToObject(co, "id", c->container_id);
		if (c->state[0])
			cJSON_AddStringToObject(co, "state", c->state);
		cJSON_AddNumberToObject(co, "restart_count", c->restart_count);
		if (t->set) {
			cJSON_AddNumberToObject(co, "exit_code", t->exit_code);
			cJSON_AddStringToObject(co, "reason", t->reason);
			if (t->finished_at[0])
				cJSON_AddStringToObject(co, "finished_at", t->finished_at);
		}
		cJSON_AddItemToArray(ctrs, co);
	}
	snprintf(summary, sizeof(summary), "pod %s/%s terminated: %s%s%s%s", p->ns, p->name,
		 interrupted ? "spot interruption" : cause,
		 p->disruption_reason[0] || p->reason[0] ? " (" : "",
		 p->disruption_reason[0] ? p->disruption_reason : p->reason,
		 p->disruption_reason[0] || p->reason[0] ? ")" : "");
	if (grace >= 0) {
		size_t n = strlen(summary);

		snprintf(summary + n, sizeof(summary) - n, ", grace period %llds", (long long)grace);
	}
	if (strcmp(how, "relist") == 0)
		strncat(summary, "; found gone by a relist", sizeof(summary) - strlen(summary) - 1);
	kernel = ns->opts.kernel_view ? ns->opts.kernel_view(ns->opts.on_pod_ctx, p, grace) : NULL;
	if (kernel) {
		size_t n = strlen(summary);
		cJSON *item;
		int after_grace = 0, killed = 0, graceful = 0, total = 0;

		cJSON_ArrayForEach(item, cJSON_GetObjectItem(kernel, "containers")) {
			const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(item, "verdict"));
			bool ok = v && (!strcmp(v, "graceful") || !strcmp(v, "exited"));
			bool late = v && !strcmp(v, "killed_after_grace");
			bool unseen = v && !strcmp(v, "ended_unseen");

			total++;
			graceful += ok;
			after_grace += late;
			killed += !ok && !late && !unseen;
		}
		n += (size_t)snprintf(summary + n, sizeof(summary) - n, "; kernel: %d of %d container%s stopped gracefully",
				      graceful, total, total == 1 ? "" : "s");
		if (after_grace && n < sizeof(summary))
			n += (size_t)snprintf(summary + n, sizeof(summary) - n, ", %d SIGKILLed after the grace period",
					      after_grace);
		if (killed && n < sizeof(summary))
			snprintf(summary + n, sizeof(summary) - n, ", %d killed", killed);
		r.detail2_key = "kernel";
		r.detail2 = kernel;
		r.sources[1] = "kernel";
	}
	r.type = "pod.terminated";
	r.event_time_ns = node_state_parse_time(p->deletion_timestamp);
	kube_pod_to_record(p, &r);
	record_make_id(r.type, NULL, record_hash_str(p->uid), 0, 0, r.record_id);
	emit(ns, &r, o, summary);
	cJSON_Delete(o);
	cJSON_Delete(kernel);
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
	key = record_hash_str(p->uid);
	pe = find_pod(ns, p->uid);
	if (ns->opts.on_pod)
		ns->opts.on_pod(ns->opts.on_pod_ctx, p, type == KUBE_EV_DELETED);
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
		emit_pod_terminated(ns, fresh, "deleted");
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
		emit_pod_terminated(ns, pe, "status");
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
			emit_pod_terminated(ns, pe, "relist");
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

cJSON *node_state_checkpoint(const struct node_state *ns)
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
	if (ns->interruption_open && (o = cJSON_AddObjectToObject(doc, "interruption"))) {
		cJSON_AddNumberToObject(o, "notice_ns", (double)ns->interruption_notice_ns);
		cJSON_AddNumberToObject(o, "deadline_ns", (double)ns->interruption_deadline_ns);
		cJSON_AddStringToObject(o, "source", ns->interruption_source);
		cJSON_AddBoolToObject(o, "deadline_exact", ns->interruption_deadline_exact);
	}
	return doc;
}

int node_state_restore(struct node_state *ns, const cJSON *doc)
{
	const cJSON *item, *pods = cJSON_GetObjectItem(doc, "pods"), *node = cJSON_GetObjectItem(doc, "node");
	const cJSON *intr = cJSON_GetObjectItem(doc, "interruption");
	int n = 0;

	cJSON_ArrayForEach(item, pods) {
		struct pod_entry *pe;
		void *old = NULL;

		if (kube_pod_decode(cJSON_GetObjectItem(item, "pod"), ns->decoded) < 0)
			continue;
		pe = pod_entry_new(ns->decoded);
		if (!pe)
			break;
		if (u64map_put(ns->pods, record_hash_str(pe->pod.uid), pe, &old) < 0) {
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
	if (cJSON_IsObject(intr) && !ns->interruption_open) {
		const cJSON *notice = cJSON_GetObjectItem(intr, "notice_ns"), *deadline = cJSON_GetObjectItem(intr, "deadline_ns");
		const char *source = cJSON_GetStringValue(cJSON_GetObjectItem(intr, "source"));

		if (cJSON_IsNumber(notice) && cJSON_IsNumber(deadline)) {
			/* the same interruption: its record is out, its drain report is still due */
			ns->interruption_open = true;
			ns->interruption_notice_ns = json_int(notice, 0, INT64_C(1) << 62, 0);
			ns->interruption_deadline_ns = json_int(deadline, 0, INT64_C(1) << 62, 0);
			snprintf(ns->interruption_source, sizeof(ns->interruption_source), "%s", source ? source : "");
			ns->interruption_deadline_exact = cJSON_IsTrue(cJSON_GetObjectItem(intr, "deadline_exact"));
			if (ns->opts.on_interruption)
				ns->opts.on_interruption(ns->opts.on_pod_ctx, ns->interruption_notice_ns,
							 ns->interruption_deadline_ns);
		}
	}
	return n;
}

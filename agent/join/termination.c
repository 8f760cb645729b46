/* pod.terminated and the verdicts of its containers' stops. */
#include <stdio.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/join/termination.h"

static const char *const verdict_names[] = {
	[STOP_GRACEFUL] = "graceful",
	[STOP_EXITED] = "exited",
	[STOP_OOM_KILLED] = "oom_killed",
	[STOP_KILLED_AFTER_GRACE] = "killed_after_grace",
	[STOP_KILLED_BEFORE_GRACE] = "killed_before_grace",
	[STOP_KILLED] = "killed",
	[STOP_ENDED_UNSEEN] = "ended_unseen",
};

const char *stop_verdict_name(enum stop_verdict v)
{
	return (unsigned)v < sizeof(verdict_names) / sizeof(verdict_names[0]) ? verdict_names[v] : "unknown";
}

bool stop_verdict_ok(enum stop_verdict v)
{
	return v == STOP_GRACEFUL || v == STOP_EXITED;
}

static enum stop_verdict verdict(const struct container_end *end, int64_t grace_s)
{
	struct exit_status es;

	if (end->unseen)
		return STOP_ENDED_UNSEEN;
	exit_status_decode(end->exit_code, &es);
	if (end->oom)
		return STOP_OOM_KILLED;
	if (es.exited || es.signal == 15)
		return end->term_ns ? STOP_GRACEFUL : STOP_EXITED;
	if (es.signal == 9 && end->term_ns && end->kill_ns) {
		/* the kubelet sends SIGKILL when the grace period runs out */
		if (grace_s >= 0 && end->kill_ns - end->term_ns >= (grace_s * 1000 - 500) * 1000000LL)
			return STOP_KILLED_AFTER_GRACE;
		return STOP_KILLED_BEFORE_GRACE;
	}
	return STOP_KILLED;
}

bool termination_view(const struct containers *t, const struct kube_pod *pod, int64_t grace_s,
		      struct termination_view *ret)
{
	memset(ret, 0, sizeof(*ret));
	for (uint32_t i = 0; i < CONTAINER_MAX_ENDS && ret->n < TERMINATION_MAX_STOPS; i++) {
		const struct container_end *end = containers_end_at(t, i);
		const struct kube_terminated *term;
		const struct kube_container *k;
		struct container_stop *s;

		if (!end->exit_ns || !kube_pod_is(pod, end->pod_uid) || strcmp(end->comm, "pause") == 0)
			continue;
		s = &ret->stops[ret->n++];
		k = kube_pod_container_by_id(pod, end->container_id, &term);
		s->end = end;
		s->name = k ? k->name : NULL;
		s->verdict = verdict(end, grace_s);
		ret->term_ignored += end->term_ns && end->term_ignored;
		if (s->verdict == STOP_ENDED_UNSEEN) {
			ret->unseen++;
		} else if (stop_verdict_ok(s->verdict)) {
			ret->graceful++;
		} else {
			ret->killed++;
			ret->after_grace += s->verdict == STOP_KILLED_AFTER_GRACE;
		}
	}
	return ret->n > 0;
}

void termination_end_json(const struct container_end *end, bool full, cJSON *o)
{
	char when[CLOCK_TEXT_LEN];
	struct exit_status es;

	cJSON_AddStringToObject(o, "id", end->container_id);
	if (full && end->prestop_start_ns) {
		/* the exec preStop hook runs before the SIGTERM: it decides whether the stop is graceful */
		cJSON *h = cJSON_AddObjectToObject(o, "prestop_hook");

		if (h) {
			cJSON_AddStringToObject(h, "started_at", clock_format(end->prestop_start_ns, when));
			if (end->prestop_end_ns) {
				cJSON_AddStringToObject(h, "ended_at", clock_format(end->prestop_end_ns, when));
				cJSON_AddNumberToObject(h, "exit_code", end->prestop_exit);
			} else {
				cJSON_AddBoolToObject(h, "ended", false);
			}
		}
	}
	if (end->term_ns)
		cJSON_AddStringToObject(o, "sigterm_at", clock_format(end->term_ns, when));
	/* the kernel dropped it: a PID 1 without a SIGTERM handler, or SIG_IGN */
	if (end->term_ns && end->term_ignored)
		cJSON_AddBoolToObject(o, "sigterm_ignored", true);
	if (end->kill_ns) {
		cJSON_AddStringToObject(o, "sigkill_at", clock_format(end->kill_ns, when));
		if (full) {
			cJSON_AddStringToObject(o, "sigkill_sender",
						end->kill_sender ? signal_sender_name(end->kill_sender) : "external");
			cJSON_AddStringToObject(o, "sigkill_comm", end->kill_comm);
		}
	}
	if (end->unseen) {
		/* it ended while the agent was down: when and how are unknown */
		cJSON_AddStringToObject(o, "gone_by", clock_format(end->exit_ns, when));
		return;
	}
	cJSON_AddStringToObject(o, "exited_at", clock_format(end->exit_ns, when));
	exit_status_decode(end->exit_code, &es);
	if (es.exited)
		cJSON_AddNumberToObject(o, "exit_code", es.code);
	else
		cJSON_AddStringToObject(o, "signal", signal_name(es.signal));
	if (full && end->term_ns)
		cJSON_AddNumberToObject(o, "stop_s", (double)((end->exit_ns - end->term_ns) / 1000000) / 1000.0);
}

cJSON *termination_view_json(const struct termination_view *v)
{
	cJSON *view = cJSON_CreateObject(), *list = view ? cJSON_AddArrayToObject(view, "containers") : NULL;

	if (!list) {
		cJSON_Delete(view);
		return NULL;
	}
	for (uint32_t i = 0; i < v->n; i++) {
		const struct container_stop *s = &v->stops[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			break;
		if (s->name)
			cJSON_AddStringToObject(o, "name", s->name);
		termination_end_json(s->end, true, o);
		cJSON_AddStringToObject(o, "verdict", stop_verdict_name(s->verdict));
		cJSON_AddItemToArray(list, o);
	}
	cJSON_AddNumberToObject(view, "graceful", v->graceful);
	cJSON_AddNumberToObject(view, "killed", v->killed);
	if (v->term_ignored)
		cJSON_AddNumberToObject(view, "sigterm_ignored", v->term_ignored);
	if (v->unseen)
		cJSON_AddNumberToObject(view, "ended_unseen", v->unseen);
	return view;
}

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

/* Slack between the notice and the drain's first eviction: the taint or IMDS notice and the
 * drainer's first eviction come within a second of each other, and clocks differ. */
#define DRAIN_SLACK_NS (5LL * 1000000000LL)

/* Karpenter deletes what its drain has not evicted once the node's terminationGracePeriod runs out,
 * with the grace left until the node's termination time (its `Disrupted` pod event): the pod's
 * deletionTimestamp is that time, give or take the seconds' truncation. */
#define NODE_DEADLINE_SLACK_NS (2LL * 1000000000LL)

/* The pod's end is the interruption's drain, not a cause of its own: how it was drained, or NULL.
 * An eviction through the Eviction API (NTH, Karpenter: EvictionByEvictionAPI) or the taint manager's
 * deletion after the notice of a confirmed interruption, or a deletion timed to the interruption's
 * exact deadline (Karpenter's forced deletion at the node's termination time). A kubelet eviction
 * (node pressure, node shutdown), a preemption, another deletion keep their cause; an Event's word
 * alone is never a cause. */
static const char *drained_by_interruption(const struct interruption_info *in, const struct kube_pod *p)
{
	int64_t at;

	if (!in || !in->open || !in->confirmed || !strcmp(p->reason, "Evicted"))
		return NULL;
	at = clock_parse(p->deletion_timestamp);
	if (!p->disruption_reason[0] && !p->reason[0] && at && in->deadline_exact && in->deadline_ns &&
	    at >= in->deadline_ns - NODE_DEADLINE_SLACK_NS && at <= in->deadline_ns + NODE_DEADLINE_SLACK_NS)
		return "deleted_at_deadline";
	if (strcmp(p->disruption_reason, "EvictionByEvictionAPI") != 0 &&
	    strcmp(p->disruption_reason, "DeletionByTaintManager") != 0)
		return NULL;
	return !at || at >= in->notice_ns - DRAIN_SLACK_NS ? termination_cause(p) : NULL;
}

/* the open interruption, as context of an end that has its own cause */
static void interruption_context(const struct interruption_info *in, cJSON *o)
{
	char when[CLOCK_TEXT_LEN];
	cJSON *c = cJSON_AddObjectToObject(o, "during_interruption");

	if (!c)
		return;
	cJSON_AddStringToObject(c, "kind", interruption_kind_name(in->kind));
	cJSON_AddStringToObject(c, "source", in->source);
	cJSON_AddBoolToObject(c, "confirmed", in->confirmed);
	if (in->reporter[0])
		cJSON_AddStringToObject(c, "reported_by", in->reporter);
	cJSON_AddStringToObject(c, "notice_at", clock_format(in->notice_ns, when));
	if (in->deadline_ns)
		cJSON_AddStringToObject(c, "deadline", clock_format(in->deadline_ns, when));
}

static const char *seen_name(enum pod_end_seen seen)
{
	return seen == POD_END_DELETED ? "deleted" : seen == POD_END_RELIST ? "relist" : "status";
}

void termination_record(const struct join_env *env, const struct containers *t, const struct kube_pod *p,
			enum pod_end_seen seen)
{
	const struct interruption_info *in = env->interruption ? interruption_get(env->interruption) : NULL;
	const char *cause = termination_cause(p), *drained_by = drained_by_interruption(in, p), *why;
	bool interrupted = drained_by != NULL;
	int64_t grace = p->deletion_grace_s >= 0 ? p->deletion_grace_s : p->termination_grace_s;
	struct termination_view view;
	bool have_view = false;
	char summary[768];
	struct record r = { 0 };
	cJSON *o, *ctrs, *kernel = NULL;

	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddStringToObject(o, "cause", interrupted ? interruption_kind_name(in->kind) : cause);
	if (interrupted) {
		cJSON_AddStringToObject(o, "interruption_source", in->source);
		cJSON_AddStringToObject(o, "drained_by", drained_by);
	} else if (in && in->open) {
		interruption_context(in, o);
	}
	cJSON_AddStringToObject(o, "observed", seen_name(seen));
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
		const struct kube_terminated *term = c->terminated.set ? &c->terminated : &c->last_terminated;
		cJSON *co = cJSON_CreateObject();

		if (!co)
			break;
		cJSON_AddStringToObject(co, "name", c->name);
		if (c->container_id[0])
			cJSON_AddStringToObject(co, "id", c->container_id);
		if (c->state[0])
			cJSON_AddStringToObject(co, "state", c->state);
		cJSON_AddNumberToObject(co, "restart_count", c->restart_count);
		if (term->set) {
			cJSON_AddNumberToObject(co, "exit_code", term->exit_code);
			cJSON_AddStringToObject(co, "reason", term->reason);
			if (term->finished_at[0])
				cJSON_AddStringToObject(co, "finished_at", term->finished_at);
		}
		cJSON_AddItemToArray(ctrs, co);
	}
	why = p->disruption_reason[0] ? p->disruption_reason : p->reason;
	if (!why[0] && interrupted && !strcmp(drained_by, "deleted_at_deadline"))
		why = "deleted at the node's termination time";
	snprintf(summary, sizeof(summary), "pod %s/%s terminated: %s%s%s%s", p->ns, p->name,
		 interrupted ? interruption_kind_text(in->kind) : cause, why[0] ? " (" : "", why, why[0] ? ")" : "");
	if (!interrupted && in && in->open) {
		size_t n = strlen(summary);

		snprintf(summary + n, sizeof(summary) - n, ", during a%s %s%s", in->kind == INTERRUPTION_INSTANCE ? "n" : "",
			 interruption_kind_text(in->kind), in->confirmed ? "" : " (unconfirmed)");
	}
	if (grace >= 0) {
		size_t n = strlen(summary);

		snprintf(summary + n, sizeof(summary) - n, ", grace period %llds", (long long)grace);
	}
	if (seen == POD_END_RELIST)
		strncat(summary, "; found gone by a relist", sizeof(summary) - strlen(summary) - 1);
	if (!env->bpf_off)
		have_view = termination_view(t, p, grace, &view);
	if (have_view && (kernel = termination_view_json(&view))) {
		size_t n = strlen(summary);
		uint32_t killed = view.killed - view.after_grace;

		n += (size_t)snprintf(summary + n, sizeof(summary) - n, "; kernel: %u of %u container%s stopped gracefully",
				      view.graceful, view.n, view.n == 1 ? "" : "s");
		if (view.after_grace && n < sizeof(summary))
			n += (size_t)snprintf(summary + n, sizeof(summary) - n, ", %u SIGKILLed after the grace period",
					      view.after_grace);
		if (killed && n < sizeof(summary))
			n += (size_t)snprintf(summary + n, sizeof(summary) - n, ", %u killed", killed);
		if (view.term_ignored && n < sizeof(summary))
			snprintf(summary + n, sizeof(summary) - n, " (%u ignored SIGTERM)", view.term_ignored);
		r.detail2_key = "kernel";
		r.detail2 = kernel;
		r.sources[1] = "kernel";
		r.counts.non_graceful = view.killed;
	}
	r.type = RECORD_POD_TERMINATED;
	r.event_time_ns = clock_parse(p->deletion_timestamp);
	if (!r.event_time_ns)
		r.event_time_ns = clock_ns(CLOCK_REALTIME);
	r.node = env->node;
	kube_pod_to_record(p, &r);
	record_make_id(r.type, NULL, hash_str(p->uid), 0, 0, r.record_id);
	r.detail_key = "api";
	r.detail = o;
	r.sources[0] = "api";
	r.summary = summary;
	r.counts.evictions = !strcmp(cause, "evicted");
	env->emit(env->emit_ctx, &r);
	cJSON_Delete(o);
	cJSON_Delete(kernel);
}

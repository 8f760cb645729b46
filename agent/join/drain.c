/* node.drain_report. */
#include <stdio.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/join/drain.h"
#include "nodetrail/join/termination.h"

struct drain {
	const struct join_env *env;
	cJSON *pods;              /* "by_pod": pod uid -> {name, namespace, containers: [...]} */
	int graceful, killed, running, unseen;
};

/* the pod's entry; its names from the API, else from when its container ended (end may be NULL):
 * a drained pod is deleted from the API before its drain is reported */
static cJSON *drain_pod(struct drain *d, const char *uid, const struct container_end *end)
{
	const struct kube_pod *pod = join_pod(d->env, uid);
	cJSON *p = cJSON_GetObjectItem(d->pods, uid);

	if (p && !cJSON_GetObjectItem(p, "name") && end && end->pod_name[0]) {
		cJSON_AddStringToObject(p, "namespace", end->pod_ns);
		cJSON_AddStringToObject(p, "name", end->pod_name);
	}
	if (p)
		return cJSON_GetObjectItem(p, "containers");
	p = cJSON_AddObjectToObject(d->pods, uid);
	if (!p)
		return NULL;
	if (pod || (end && end->pod_name[0])) {
		cJSON_AddStringToObject(p, "namespace", pod ? pod->ns : end->pod_ns);
		cJSON_AddStringToObject(p, "name", pod ? pod->name : end->pod_name);
	}
	return cJSON_AddArrayToObject(p, "containers");
}

static void drain_running(void *ctx, const struct container_state *st, const struct cgroup_entry *e)
{
	struct drain *d = ctx;
	char when[CLOCK_TEXT_LEN];
	cJSON *list, *o;

	if (!e || st->exit_reported || !e->ref.pod_uid[0] || !st->main_tgid)
		return;
	list = drain_pod(d, e->ref.pod_uid, NULL);
	o = list ? cJSON_CreateObject() : NULL;
	if (!o)
		return;
	cJSON_AddStringToObject(o, "id", e->ref.container_id);
	if (st->term_boot_ns)
		cJSON_AddStringToObject(o, "sigterm_at", clock_format(clock_boot_to_real(st->term_boot_ns), when));
	if (st->term_boot_ns && st->term_ignored)
		cJSON_AddBoolToObject(o, "sigterm_ignored", true);
	cJSON_AddStringToObject(o, "verdict", "still_running");
	cJSON_AddItemToArray(list, o);
	d->running++;
}

void drain_report(const struct join_env *env, const struct containers *t, int64_t notice_ns, int64_t deadline_ns,
		  const char *why, bool final)
{
	const struct interruption_info *in = env->interruption ? interruption_get(env->interruption) : NULL;
	struct drain d = { .env = env };
	int64_t now = clock_ns(CLOCK_REALTIME);
	/* a Karpenter disruption has no deadline: it drains, then the node goes */
	int64_t judged_at = deadline_ns ? deadline_ns : now;
	char summary[512], when[CLOCK_TEXT_LEN];
	struct record r;
	cJSON *report;
	size_t n;

	report = cJSON_CreateObject();
	d.pods = report ? cJSON_AddObjectToObject(report, "by_pod") : NULL;
	if (!d.pods) {
		cJSON_Delete(report);
		return;
	}
	for (uint32_t i = 0; i < CONTAINER_MAX_ENDS; i++) {
		const struct container_end *end = containers_end_at(t, i);
		struct exit_status es;
		const char *v;
		cJSON *list, *o;

		/* containers that ended since the notice (the sandbox is the pod's) */
		if (!end->exit_ns || end->exit_ns < notice_ns || !end->pod_uid[0] || !strcmp(end->comm, "pause"))
			continue;
		list = drain_pod(&d, end->pod_uid, end);
		o = list ? cJSON_CreateObject() : NULL;
		if (!o)
			continue;
		termination_end_json(end, false, o);
		if (end->unseen) {
			/* it ended while the agent was down (restarted mid-drain) */
			cJSON_AddStringToObject(o, "verdict", "ended_unseen");
			cJSON_AddItemToArray(list, o);
			d.unseen++;
			continue;
		}
		exit_status_decode(end->exit_code, &es);
		/* graceful: it stopped by itself (or on SIGTERM's default action) in time */
		if ((es.exited || es.signal == 15) && end->exit_ns <= judged_at) {
			v = "graceful";
			d.graceful++;
		} else {
			v = end->exit_ns > judged_at ? "after_deadline" : end->oom ? "oom_killed" : "killed";
			d.killed++;
		}
		cJSON_AddStringToObject(o, "verdict", v);
		cJSON_AddItemToArray(list, o);
	}
	containers_each(t, drain_running, &d);
	if (in) {
		cJSON_AddStringToObject(report, "kind", interruption_kind_name(in->kind));
		cJSON_AddBoolToObject(report, "confirmed", in->confirmed);
		if (in->reason[0])
			cJSON_AddStringToObject(report, "reason", in->reason);
	}
	cJSON_AddStringToObject(report, "notice_at", clock_format(notice_ns, when));
	if (deadline_ns)
		cJSON_AddStringToObject(report, "deadline", clock_format(deadline_ns, when));
	cJSON_AddStringToObject(report, "reported", why);
	cJSON_AddBoolToObject(report, "final", final);
	cJSON_AddNumberToObject(report, "pods", cJSON_GetArraySize(d.pods));
	cJSON_AddNumberToObject(report, "graceful", d.graceful);
	cJSON_AddNumberToObject(report, "killed", d.killed);
	cJSON_AddNumberToObject(report, "still_running", d.running);
	cJSON_AddNumberToObject(report, "ended_unseen", d.unseen);
	n = (size_t)snprintf(summary, sizeof(summary),
			     "%s drain of node %s: %d pod%s, %d container%s stopped gracefully%s, %d killed, %d still running",
			     in ? interruption_kind_text(in->kind) : "interruption", env->node->node_name,
			     cJSON_GetArraySize(d.pods), cJSON_GetArraySize(d.pods) == 1 ? "" : "s", d.graceful,
			     d.graceful == 1 ? "" : "s", deadline_ns ? " before the deadline" : "", d.killed, d.running);
	if (d.unseen && n < sizeof(summary))
		n += (size_t)snprintf(summary + n, sizeof(summary) - n, ", %d ended while the agent was down", d.unseen);
	if (n < sizeof(summary))
		snprintf(summary + n, sizeof(summary) - n, " (%s)", why);
	memset(&r, 0, sizeof(r));
	r.type = RECORD_NODE_DRAIN_REPORT;
	r.event_time_ns = now;
	r.node = env->node;
	/* one final report per interruption; a report at an agent stop before
	 * the deadline is a snapshot of its own, the final one still follows */
	record_make_id(r.type, NULL, hash_str(env->node->node_name), (uint64_t)notice_ns / 1000000000ULL,
		       final ? 0 : (uint64_t)r.event_time_ns, r.record_id);
	r.detail_key = "drain";
	r.detail = report;
	r.sources[0] = "kernel";
	if (env->api)
		r.sources[1] = "api";
	r.summary = summary;
	r.durable = true;
	env->emit(env->emit_ctx, &r);
	cJSON_Delete(report);
}

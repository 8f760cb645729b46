/* Why the kubelet stopped a container, from its events on the pod. */
#include <stdio.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/json.h"
#include "nodetrail/base/redact.h"
#include "nodetrail/join/kill_cause.h"

#define AMBIGUOUS "liveness or startup probe" /* an exec argv the two probes share (container_records.c) */

/* the kernel saw a SIGTERM or SIGKILL from outside reach the process whose exit this is */
static bool stopped_from_outside(const cJSON *k)
{
	const cJSON *s, *probe = cJSON_GetObjectItemCaseSensitive(k, "killed_for_probe");
	int64_t pid = json_get_num(k, "pid");
	char name[32];

	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(k, "oom_killed")))
		return false;
	if (probe) {
		/* an exec probe said which already, unless two probes share its argv */
		json_get_str(probe, "probe", name, sizeof(name));
		return !strcmp(name, AMBIGUOUS);
	}
	cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(k, "signals")) {
		char sig[16], sender[16];

		json_get_str(s, "signal", sig, sizeof(sig));
		json_get_str(s, "sender", sender, sizeof(sender));
		if (json_get_num(s, "target_pid") == pid && !strcmp(sender, "external") &&
		    !cJSON_GetObjectItemCaseSensitive(s, "result") && (!strcmp(sig, "SIGTERM") || !strcmp(sig, "SIGKILL")))
			return true;
	}
	return false;
}

bool kill_cause_wanted(const struct pending *p, const struct kube_pod *pod)
{
	const struct kube_terminated *t;
	char reason[32];
	int64_t code;

	if (!p->is_exit || p->type != RECORD_CONTAINER_EXITED || p->awaiting_events || !pod)
		return false;
	/* a deletion, an eviction, a node shutdown: the pod's own record tells */
	if (pod->deletion_timestamp[0] || pod->reason[0] || !kube_pod_container_by_id(pod, p->container_id, &t))
		return false;
	if (!p->api_only)
		return stopped_from_outside(p->kernel);
	code = json_get_num(p->api, "exit_code");
	json_get_str(p->api, "reason", reason, sizeof(reason));
	return (code == 137 || code == 143) && strcmp(reason, "OOMKilled") != 0;
}

/* how far an event may be from the container's end: the kill comes before
 * the end by up to the grace period */
static bool near_the_end(const struct pending *p, const struct kube_event_obj *e, int64_t grace_s)
{
	int64_t at = clock_parse(e->last_time[0] ? e->last_time : e->first_time);

	if (!at || !p->event_time_ns)
		return false;
	return at >= p->event_time_ns - (grace_s + 60) * 1000000000LL && at <= p->event_time_ns + 60 * 1000000000LL;
}

/* "spec.containers{app}" is about app */
static bool about(const struct kube_event_obj *e, const char *container)
{
	size_t n = strlen(container);
	const char *open = strchr(e->involved_field_path, '{');

	return n && open && !strncmp(open + 1, container, n) && open[1 + n] == '}';
}

void kill_cause_event(struct pending *p, const struct kube_pod *pod, const struct kube_event_obj *e)
{
	int64_t grace_s = pod && pod->termination_grace_s >= 0 ? pod->termination_grace_s : 30;
	static const char *const probes[2] = { "Liveness probe ", "Startup probe " };
	const char *m = e->message, *rest;

	if (!about(e, p->container_name) || !near_the_end(p, e, grace_s))
		return;
	if (!strcmp(e->reason, "Killing")) {
		/* "Container app failed liveness probe, will be restarted"; "Stopping container app" is a deletion */
		const char *kind = strstr(m, "failed liveness probe")	? "liveness probe" :
				   strstr(m, "failed startup probe")	? "startup probe" :
				   strstr(m, "definition changed")	? "definition changed" :
									  NULL;

		if (!kind)
			return;
		snprintf(p->kill_kind, sizeof(p->kill_kind), "%s", kind);
		redact_text(m, sizeof(p->kill_message) - 8, p->kill_message, sizeof(p->kill_message));
		snprintf(p->kill_at, sizeof(p->kill_at), "%s", e->last_time[0] ? e->last_time : e->first_time);
		return;
	}
	if (strcmp(e->reason, "Unhealthy") != 0)
		return;
	/* "Liveness probe failed: HTTP probe failed with statuscode: 500", "... probe errored: ..." */
	for (int i = 0; i < 2; i++) {
		if (strncmp(m, probes[i], strlen(probes[i])) != 0)
			continue;
		rest = strstr(m, ": ");
		redact_text(rest ? rest + 2 : m, KILL_CAUSE_MESSAGE_MAX, p->probe_message[i], sizeof(p->probe_message[i]));
		p->probe_count[i] = e->count;
	}
}

/* the first "from" in s, replaced by "to" (shorter or equal) */
static void rename_in(char *s, const char *from, const char *to)
{
	char *at = strstr(s, from);

	if (!at)
		return;
	memmove(at + strlen(to), at + strlen(from), strlen(at + strlen(from)) + 1);
	memcpy(at, to, strlen(to));
}

bool kill_cause_finish(struct pending *p, const struct kube_pod *pod)
{
	const struct kube_terminated *t;
	const struct kube_container *k = pod ? kube_pod_container_by_id(pod, p->container_id, &t) : NULL;
	int probe = !strcmp(p->kill_kind, "liveness probe") ? 0 : !strcmp(p->kill_kind, "startup probe") ? 1 : -1;
	int threshold = !k || probe < 0 ? 0 : probe == 0 ? k->liveness_threshold : k->startup_threshold;
	cJSON *o, *kp = cJSON_GetObjectItemCaseSensitive(p->kernel, "killed_for_probe");
	size_t n;

	p->awaiting_events = false;
	if (!p->kill_kind[0] || !(o = cJSON_CreateObject()))
		return false;
	cJSON_AddStringToObject(o, "reason", "Killing");
	cJSON_AddStringToObject(o, "message", p->kill_message);
	if (p->kill_at[0])
		cJSON_AddStringToObject(o, "at", p->kill_at);
	if (probe >= 0) {
		cJSON_AddStringToObject(o, "probe", p->kill_kind);
		if (threshold)
			cJSON_AddNumberToObject(o, "failure_threshold", threshold);
		if (p->probe_message[probe][0]) {
			cJSON_AddStringToObject(o, "probe_message", p->probe_message[probe]);
			cJSON_AddNumberToObject(o, "unhealthy_count", p->probe_count[probe]);
		}
	}
	cJSON_Delete(p->kubelet);
	p->kubelet = o;
	if (p->api_only && p->api)
		cJSON_AddItemToObject(p->api, "killed_by_kubelet", cJSON_Duplicate(o, true));
	if (kp && probe >= 0) {
		/* an exec argv shared by the liveness and the startup probe: the kubelet says which killed */
		cJSON_ReplaceItemInObjectCaseSensitive(kp, "probe", cJSON_CreateString(p->kill_kind));
		if (threshold)
			cJSON_ReplaceItemInObjectCaseSensitive(kp, "failure_threshold", cJSON_CreateNumber(threshold));
		rename_in(p->what, AMBIGUOUS, p->kill_kind);
		return true;
	}
	if (probe < 0) {
		snprintf(p->cause, sizeof(p->cause), "stopped by the kubelet: its definition changed");
		return true;
	}
	n = (size_t)snprintf(p->cause, sizeof(p->cause), "killed by the kubelet: %s failed", p->kill_kind);
	if (threshold && n < sizeof(p->cause))
		n += (size_t)snprintf(p->cause + n, sizeof(p->cause) - n, " %d time%s", threshold, threshold == 1 ? "" : "s");
	if (p->probe_message[probe][0] && n < sizeof(p->cause))
		snprintf(p->cause + n, sizeof(p->cause) - n, " (%s)", p->probe_message[probe]);
	return true;
}

void kill_cause_api_only_summary(const struct pending *p, char *out, size_t len)
{
	const char *tail = strstr(p->what, "; the kernel did not see it");
	int head = tail ? (int)(tail - p->what) : (int)strlen(p->what);

	snprintf(out, len, "container %s of pod %s/%s %.*s%s%s%s", p->container_name, p->pod_ns, p->pod_name, head, p->what,
		 p->cause[0] ? ": " : "", p->cause, tail ? tail : "");
}

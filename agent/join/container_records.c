/* container.exited, container.oom_killed, container.exec. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/json.h"
#include "nodetrail/base/redact.h"
#include "nodetrail/api/kube_objects.h"
#include "nodetrail/join/container_records.h"
#include "nodetrail/join/kill_cause.h"

bool container_confirmed(const struct kube_pod *pod, const char *container_id)
{
	const struct kube_terminated *t;

	return kube_pod_container_by_id(pod, container_id, &t) && t;
}

/* ---- the kernel's side ---- */

static bool delivered(const struct signal_note *s)
{
	return s->result == SIGNAL_DELIVERED || s->result == SIGNAL_LOSE_INFO;
}

/* the container's exec probes and hooks, as counted (only those that ran) */
static void probes_detail(cJSON *k, const struct container_state *st)
{
	cJSON *list = st->nprobes ? cJSON_AddArrayToObject(k, "exec_probes") : NULL;
	char name[64];

	for (uint32_t i = 0; list && i < st->nprobes; i++) {
		const struct exec_probe *p = &st->probes[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			return;
		cJSON_AddItemToArray(list, o);
		exec_probe_name(p->kinds, name, sizeof(name));
		cJSON_AddStringToObject(o, "name", name);
		cJSON_AddNumberToObject(o, "runs", p->runs);
		cJSON_AddNumberToObject(o, "failures", p->failures);
		cJSON_AddNumberToObject(o, "failures_in_a_row", p->in_a_row);
		if (p->last_exit >= 0)
			cJSON_AddNumberToObject(o, "last_exit_code", p->last_exit);
		json_add_boot_time(o, "last_run_at", p->last_start_boot_ns);
	}
}

/* Stopped by a signal from outside while its liveness (or startup) probe
 * had failed as many times in a row as its failureThreshold: the kubelet's
 * kill, and why. A passing probe (a kill for "definition changed", a pod's
 * deletion) names nothing. */
static void probe_kill(cJSON *k, const struct container_state *st, const struct nt_exit_event *ev, char *summary,
		       size_t len)
{
	const struct exec_probe *p = container_failing_probe(st);
	bool from_outside = false;
	uint8_t kinds;
	char name[64];
	cJSON *o;
	size_t n;

	for (uint32_t i = 0; i < st->nsignals && !from_outside; i++)
		from_outside = st->signals[i].target_tgid == ev->hdr.tgid && st->signals[i].sender == SENDER_EXTERNAL &&
			       delivered(&st->signals[i]);
	if (!p || !from_outside)
		return;
	/* a readiness probe never kills: of an argv shared with it, the liveness or startup probe did */
	kinds = p->kinds & (KUBE_EXEC_LIVENESS | KUBE_EXEC_STARTUP);
	exec_probe_name(kinds, name, sizeof(name));
	if (kinds == (KUBE_EXEC_LIVENESS | KUBE_EXEC_STARTUP))
		snprintf(name, sizeof(name), "liveness or startup probe"); /* the kubelet's Killing says which: kill_cause.c */
	o = cJSON_AddObjectToObject(k, "killed_for_probe");
	if (o) {
		cJSON_AddStringToObject(o, "probe", name);
		cJSON_AddNumberToObject(o, "failures_in_a_row", p->in_a_row);
		cJSON_AddNumberToObject(o, "failure_threshold",
					kinds & KUBE_EXEC_LIVENESS ? p->liveness_threshold : p->startup_threshold);
		cJSON_AddNumberToObject(o, "last_exit_code", p->last_exit);
	}
	n = strlen(summary);
	snprintf(summary + n, len - n, ": killed by the kubelet, %s failed %u times in a row (last exit code %d)", name,
		 p->in_a_row, p->last_exit);
}

cJSON *container_exit_detail(const struct container_state *st, const struct nt_exit_event *ev, char *summary,
			     size_t len)
{
	const struct signal_note *fatal = NULL;
	struct exit_status es;
	cJSON *k, *sigs;
	bool oom;

	exit_status_decode(ev->exit_code, &es);
	oom = container_oom_victim(st, ev->hdr.tgid);
	k = cJSON_CreateObject();
	if (!k)
		return NULL;
	cJSON_AddNumberToObject(k, "pid", ev->hdr.tgid);
	cJSON_AddStringToObject(k, "comm", ev->comm);
	if (es.exited) {
		cJSON_AddNumberToObject(k, "exit_code", es.code);
	} else {
		cJSON_AddNumberToObject(k, "signal", es.signal);
		cJSON_AddStringToObject(k, "signal_name", signal_name(es.signal));
	}
	cJSON_AddBoolToObject(k, "core_dumped", es.core_dumped);
	json_add_boot_time(k, "started_at", (int64_t)ev->start_boot_ns);
	if (ev->start_boot_ns && ev->hdr.ts_ns > ev->start_boot_ns)
		cJSON_AddNumberToObject(k, "run_time_s", (double)((ev->hdr.ts_ns - ev->start_boot_ns) / 1000000) / 1000.0);
	json_add_boot_time(k, "cgroup_created_at", st->created_boot_ns);
	json_add_boot_time(k, "first_exec_at", st->first_exec_boot_ns);
	cJSON_AddBoolToObject(k, "oom_killed", oom);
	cJSON_AddBoolToObject(k, "preexisting", st->preexisting);
	sigs = cJSON_AddArrayToObject(k, "signals");
	for (uint32_t i = 0; sigs && i < st->nsignals; i++) {
		const struct signal_note *s = &st->signals[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			break;
		json_add_boot_time(o, "at", s->at_boot_ns);
		cJSON_AddStringToObject(o, "signal", signal_name((int)s->sig));
		cJSON_AddNumberToObject(o, "target_pid", s->target_tgid);
		cJSON_AddNumberToObject(o, "sender_pid", s->sender_tgid);
		cJSON_AddStringToObject(o, "sender_comm", s->sender_comm);
		cJSON_AddStringToObject(o, "sender", signal_sender_name(s->sender));
		if (signal_result_name(s->result))
			cJSON_AddStringToObject(o, "result", signal_result_name(s->result));
		cJSON_AddItemToArray(sigs, o);
		if (!es.exited && s->target_tgid == ev->hdr.tgid && (int)s->sig == es.signal && delivered(s))
			fatal = s;
	}
	if (st->signals_dropped)
		cJSON_AddNumberToObject(k, "signals_dropped", st->signals_dropped);
	if (fatal) {
		cJSON *o = cJSON_AddObjectToObject(k, "fatal_signal");

		if (o) {
			json_add_boot_time(o, "at", fatal->at_boot_ns);
			cJSON_AddStringToObject(o, "signal", signal_name((int)fatal->sig));
			cJSON_AddNumberToObject(o, "sender_pid", fatal->sender_tgid);
			cJSON_AddStringToObject(o, "sender_comm", fatal->sender_comm);
			cJSON_AddStringToObject(o, "sender", signal_sender_name(fatal->sender));
		}
	}

	probes_detail(k, st);
	if (es.exited)
		snprintf(summary, len, "exited with code %d", es.code);
	else if (oom)
		snprintf(summary, len, "was OOM-killed (%s)", signal_name(es.signal));
	else if (fatal)
		snprintf(summary, len, "was killed by %s from %s (%s)", signal_name(es.signal), fatal->sender_comm,
			 signal_sender_name(fatal->sender));
	else
		snprintf(summary, len, "was killed by %s", signal_name(es.signal));
	/* a shell's graceful exit(143) after SIGTERM: name who asked */
	for (uint32_t i = st->nsignals; es.exited && i > 0; i--) {
		const struct signal_note *s = &st->signals[i - 1];
		size_t n = strlen(summary);

		if (s->target_tgid != ev->hdr.tgid || s->result == SIGNAL_ALREADY_PENDING || s->result == SIGNAL_QUEUE_FULL)
			continue;
		snprintf(summary + n, len - n, " after %s from %s (%s)%s", signal_name((int)s->sig), s->sender_comm,
			 signal_sender_name(s->sender), s->result == SIGNAL_IGNORED ? ", which it ignored" : "");
		break;
	}
	if (!oom)
		probe_kill(k, st, ev, summary, len);
	return k;
}

static void format_mib(uint64_t bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
}

cJSON *container_oom_detail(const struct nt_oom_event *ev, char *summary, size_t len)
{
	char used[32], limit[32];
	const char *scope = ev->node_wide ? "node" : ev->limit_level == 0 ? "container" : "pod";
	cJSON *k = cJSON_CreateObject();

	if (!k)
		return NULL;
	cJSON_AddNumberToObject(k, "pid", ev->hdr.tgid);
	cJSON_AddStringToObject(k, "comm", ev->comm);
	cJSON_AddStringToObject(k, "limit_scope", scope);
	if (!ev->node_wide) {
		cJSON_AddNumberToObject(k, "memory_usage_bytes", (double)ev->usage_bytes);
		cJSON_AddNumberToObject(k, "memory_limit_bytes", (double)ev->limit_bytes);
		cJSON_AddNumberToObject(k, "limit_level", ev->limit_level);
	}
	cJSON_AddNumberToObject(k, "container_usage_bytes", (double)ev->victim_usage_bytes);
	if (ev->victim_limit_bytes)
		cJSON_AddNumberToObject(k, "container_limit_bytes", (double)ev->victim_limit_bytes);
	cJSON_AddNumberToObject(k, "trigger_pid", ev->trigger_pid);
	cJSON_AddStringToObject(k, "trigger_comm", ev->trigger_comm);

	if (ev->node_wide) {
		format_mib(ev->victim_usage_bytes, used, sizeof(used));
		snprintf(summary, len, "OOM-killed: the node ran out of memory (%s, pid %u, container used %s)", ev->comm,
			 ev->hdr.tgid, used);
	} else {
		format_mib(ev->usage_bytes, used, sizeof(used));
		format_mib(ev->limit_bytes, limit, sizeof(limit));
		snprintf(summary, len, "OOM-killed at %s of %s %s limit (%s, pid %u)", used, limit, scope, ev->comm,
			 ev->hdr.tgid);
	}
	return k;
}

cJSON *container_exec_detail(const struct join_env *env, const struct nt_exec_event *ev, char *what, size_t len)
{
	cJSON *k = cJSON_CreateObject();

	if (!k)
		return NULL;
	cJSON_AddNumberToObject(k, "pid", ev->hdr.tgid);
	cJSON_AddNumberToObject(k, "ppid", ev->ppid);
	cJSON_AddStringToObject(k, "comm", ev->comm);
	cJSON_AddStringToObject(k, "exe", ev->filename);
	if (env->exec_args && ev->args_len)
		cJSON_AddItemToObject(k, "args",
				      redact_exec_args(ev->args, ev->args_len < NT_ARGS_LEN ? ev->args_len : NT_ARGS_LEN,
						       env->exec_args_redact));
	cJSON_AddNumberToObject(k, "uid", ev->uid);
	snprintf(what, len, "had %s (pid %u, uid %u) exec'd into it from outside", ev->comm, ev->hdr.tgid, ev->uid);
	return k;
}

/* ---- waiting ---- */

static void exit_record_id(const char *container_id, char ret[RECORD_ID_LEN + 1])
{
	record_make_id(RECORD_CONTAINER_EXITED, NULL, hash_str(container_id), 0, 0, ret);
}

struct pending *container_pending(const struct join_env *env, enum record_type type, const struct cgroup_entry *e,
				  int64_t boot_ns, uint64_t id_a, uint64_t id_b, cJSON *kernel, const char *what,
				  const char *comm, bool is_exit)
{
	struct pending *p;

	if (pending_new(&p) < 0) {
		cJSON_Delete(kernel);
		return NULL;
	}
	p->type = type;
	p->kernel = kernel;
	snprintf(p->what, sizeof(p->what), "%s", what);
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->is_exit = is_exit;
	p->event_time_ns = clock_boot_to_real(boot_ns);
	if (is_exit && e->ref.container_id[0])
		exit_record_id(e->ref.container_id, p->record_id); /* a container exits once */
	else
		record_make_id(type, env->boot_id, e->container_cgroup_id, id_a, id_b, p->record_id);
	memcpy(p->pod_uid, e->ref.pod_uid, sizeof(p->pod_uid));
	memcpy(p->container_id, e->ref.container_id, sizeof(p->container_id));
	snprintf(p->qos, sizeof(p->qos), "%s", e->ref.pod_uid[0] ? cgroup_qos_name(e->ref.qos) : "");
	snprintf(p->runtime, sizeof(p->runtime), "%s", cgroup_runtime_name(e->ref.runtime));
	snprintf(p->cgroup, sizeof(p->cgroup), "%s", e->path);
	return p;
}

static cJSON *api_detail(const struct kube_container *k, const struct kube_terminated *t)
{
	cJSON *a = cJSON_CreateObject();

	if (!a)
		return NULL;
	cJSON_AddStringToObject(a, "container", k->name);
	if (k->image[0])
		cJSON_AddStringToObject(a, "image", k->image);
	if (k->memory_limit_bytes >= 0)
		cJSON_AddNumberToObject(a, "memory_limit_bytes", (double)k->memory_limit_bytes);
	cJSON_AddNumberToObject(a, "restart_count", k->restart_count);
	cJSON_AddBoolToObject(a, "confirmed", t != NULL);
	if (t) {
		cJSON_AddStringToObject(a, "reason", t->reason);
		cJSON_AddNumberToObject(a, "exit_code", t->exit_code);
		if (t->signal)
			cJSON_AddNumberToObject(a, "signal", t->signal);
		if (t->finished_at[0])
			cJSON_AddStringToObject(a, "finished_at", t->finished_at);
	}
	if (k->waiting_reason[0])
		cJSON_AddStringToObject(a, "waiting_reason", k->waiting_reason);
	return a;
}

struct pending *container_api_exit(const struct join_env *env, const struct series *series, const struct kube_pod *pod,
				   const struct kube_container *k, const struct kube_terminated *t, int64_t finished_ns)
{
	struct pending *p;
	const char *why;
	char loop[128];
	size_t n;

	if (pending_new(&p) < 0)
		return NULL;
	p->api_only = true;
	p->is_exit = true;
	p->type = RECORD_CONTAINER_EXITED;
	p->event_time_ns = finished_ns ? finished_ns : clock_ns(CLOCK_REALTIME);
	exit_record_id(t->container_id, p->record_id);
	snprintf(p->pod_uid, sizeof(p->pod_uid), "%.36s", pod->uid);
	snprintf(p->container_id, sizeof(p->container_id), "%.64s", t->container_id);
	snprintf(p->qos, sizeof(p->qos), "%s", pod->qos_class);
	snprintf(p->runtime, sizeof(p->runtime), "%s", k->runtime);
	snprintf(p->pod_name, sizeof(p->pod_name), "%s", pod->name);
	snprintf(p->pod_ns, sizeof(p->pod_ns), "%s", pod->ns);
	snprintf(p->container_name, sizeof(p->container_name), "%s", k->name);
	snprintf(p->owner_kind, sizeof(p->owner_kind), "%s", pod->owner_kind);
	snprintf(p->owner_name, sizeof(p->owner_name), "%s", pod->owner_name);
	p->api = api_detail(k, t);
	series_add_to_detail(series, p->api, pod->uid, k, t->container_id);
	p->kernel = cJSON_CreateObject();
	if (!p->api || !p->kernel) {
		pending_free(p);
		return NULL;
	}
	if (finished_ns && finished_ns < env->start_ns)
		why = "agent_not_running";
	else if (env->bpf_off)
		why = "bpf_off";
	else
		why = "not_seen";
	cJSON_AddBoolToObject(p->kernel, "seen", false);
	cJSON_AddStringToObject(p->kernel, "why", why);
	n = (size_t)snprintf(p->what, sizeof(p->what), "%s (API: %s, exit code %d)",
			     !strcmp(t->reason, "OOMKilled") ? "was OOM-killed" : "exited", t->reason[0] ? t->reason : "no reason",
			     t->exit_code);
	if (k->restart_count > 0 && n < sizeof(p->what))
		n += (size_t)snprintf(p->what + n, sizeof(p->what) - n, ", restart #%d", k->restart_count);
	series_summary(p->api, loop, sizeof(loop));
	if (n < sizeof(p->what))
		snprintf(p->what + n, sizeof(p->what) - n, "%s; the kernel did not see it: %s", loop,
			 !strcmp(why, "agent_not_running") ? "the agent was not running" :
			 !strcmp(why, "bpf_off")	   ? "eBPF is off" :
							     "no kernel event matched");
	return p;
}

/* ---- out ---- */

/* the keys every container record has, from what waited */
static void pending_record(const struct join_env *env, const struct pending *p, struct record *r)
{
	memset(r, 0, sizeof(*r));
	r->type = p->type;
	r->event_time_ns = p->event_time_ns;
	r->node = env->node;
	memcpy(r->record_id, p->record_id, sizeof(r->record_id));
	r->pod_uid = p->pod_uid;
	r->qos_class = p->qos;
	r->container_id = p->container_id;
	r->runtime = p->runtime;
	r->counts.oom_kills = p->type == RECORD_CONTAINER_OOM_KILLED;
}

void container_record_send(const struct join_env *env, const struct series *series, const struct pending *p,
			   const struct kube_pod *pod)
{
	const struct kube_terminated *t = NULL;
	const struct kube_container *k = pod ? kube_pod_container_by_id(pod, p->container_id, &t) : NULL;
	char summary[768], loop[128] = "";
	struct record r;
	cJSON *api = k ? api_detail(k, t) : NULL;

	if (k && p->is_exit) {
		series_add_to_detail(series, api, pod->uid, k, p->container_id);
		series_summary(api, loop, sizeof(loop));
	}
	pending_record(env, p, &r);
	r.cgroup_path = p->cgroup;
	r.detail_key = "kernel";
	r.detail = p->kernel;
	r.sources[0] = "kernel";
	if (k) {
		size_t n;

		kube_pod_to_record(pod, &r);
		r.qos_class = p->qos[0] ? p->qos : pod->qos_class; /* the cgroup's QoS, as the kernel filed it */
		r.container_name = k->name;
		r.detail2_key = "api";
		r.detail2 = api;
		r.sources[1] = "api";
		if (p->kubelet && api)
			cJSON_AddItemToObject(api, "killed_by_kubelet", cJSON_Duplicate(p->kubelet, true));
		n = (size_t)snprintf(summary, sizeof(summary), "container %s of pod %s/%s %s%s%s", k->name, pod->ns,
				     pod->name, p->what, p->cause[0] ? ": " : "", p->cause);
		if (t && p->is_exit && t->reason[0] && n < sizeof(summary))
			n += (size_t)snprintf(summary + n, sizeof(summary) - n, "; API: %s, exit code %d", t->reason,
					      t->exit_code);
		if (t && k->restart_count > 0 && n < sizeof(summary))
			n += (size_t)snprintf(summary + n, sizeof(summary) - n, ", restart #%d", k->restart_count);
		if (n < sizeof(summary))
			snprintf(summary + n, sizeof(summary) - n, "%s", loop);
	} else {
		snprintf(summary, sizeof(summary), "container %.12s%s%s%s %s", p->container_id, p->comm[0] ? " (" : "",
			 p->comm, p->comm[0] ? ")" : "", p->what);
	}
	r.summary = summary;
	env->emit(env->emit_ctx, &r);
	cJSON_Delete(api);
}

void container_record_send_api_exit(const struct join_env *env, const struct pending *p)
{
	char summary[768];
	struct record r;

	pending_record(env, p, &r);
	r.pod_name = p->pod_name;
	r.pod_namespace = p->pod_ns;
	r.owner_kind = p->owner_kind;
	r.owner_name = p->owner_name;
	r.container_name = p->container_name;
	r.detail_key = "api";
	r.detail = p->api;
	r.detail2_key = "kernel";
	r.detail2 = p->kernel;
	r.sources[0] = "api";
	kill_cause_api_only_summary(p, summary, sizeof(summary));
	r.summary = summary;
	env->emit(env->emit_ctx, &r);
}

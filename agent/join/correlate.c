/* The join stage's facade: kernel events and API objects in, records out
 * through the modules beside it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/idset.h"
#include "nodetrail/base/loop.h"
#include "nodetrail/join/conditions.h"
#include "nodetrail/join/container_records.h"
#include "nodetrail/join/containers.h"
#include "nodetrail/join/correlate.h"
#include "nodetrail/join/drain.h"
#include "nodetrail/join/kill_cause.h"
#include "nodetrail/join/series.h"
#include "nodetrail/join/started.h"
#include "nodetrail/join/termination.h"
#include "nodetrail/join/window.h"

#define KERNEL_EXITS 4096         /* container ids whose exit the kernel reported, remembered */

struct correlator {
	struct join_env env;
	struct cgroup_map *cgroups;
	struct containers *containers;
	struct window *window;
	struct series *series;
	struct started *started;
	struct idset *kernel_exits; /* hashes of container ids whose exit the kernel reported */
	int64_t history_before_ns; /* API exits that finished before this are history, not news */
	struct loop *loop;         /* the window's timer runs here; NULL: the caller ticks */
	uint64_t window_timer;     /* at the earliest deadline of the window, 0 if none */
	int64_t window_timer_ns;
	struct correlate_stats stats;
};

int correlator_new(const struct correlate_options *opts, struct correlator **ret)
{
	struct correlator *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->env = (struct join_env){
		.node = opts->node,
		.boot_id = opts->boot_id,
		.mode = opts->mode,
		.emit = opts->emit,
		.emit_ctx = opts->emit_ctx,
		.api = opts->api,
		.interruption = opts->interruption,
		.bpf_off = opts->bpf_off,
		.join_window_ms = opts->join_window_ms,
		.exec_args = opts->exec_args,
		.exec_args_redact = opts->exec_args_redact,
		.start_ns = clock_ns(CLOCK_REALTIME),
		.explain = opts->explain,
		.explain_ctx = opts->explain_ctx,
	};
	c->history_before_ns = c->env.start_ns;
	c->loop = opts->loop;
	if (cgroup_map_new(opts->max_cgroups, opts->probes, &c->cgroups) < 0 ||
	    containers_new(opts->max_cgroups, c->cgroups, opts->mode, &c->containers) < 0 ||
	    window_new(WINDOW_MAX, &c->window) < 0 || series_new(opts->max_cgroups, &c->series) < 0 ||
	    started_new(opts->max_cgroups, &c->started) < 0 || idset_new(KERNEL_EXITS, &c->kernel_exits) < 0) {
		correlator_free(c);
		return -ENOMEM;
	}
	*ret = c;
	return 0;
}

void correlator_free(struct correlator *c)
{
	if (!c)
		return;
	loop_timer_del(c->loop, c->window_timer);
	window_free(c->window);
	containers_free(c->containers);
	cgroup_map_free(c->cgroups);
	series_free(c->series);
	started_free(c->started);
	idset_free(c->kernel_exits);
	free(c);
}

void correlator_get_stats(const struct correlator *c, struct correlate_stats *ret)
{
	struct containers_stats cs;

	containers_get_stats(c->containers, &cs);
	*ret = c->stats;
	ret->containers = cs.containers;
	ret->preexisting = cs.preexisting;
	ret->cgroups = cs.cgroups;
	ret->cgroups_dropped = cs.cgroups_dropped;
	ret->containers_dropped = cs.containers_dropped;
	ret->unknown_cgroup_events = cs.unknown_cgroup_events;
	ret->signals_dropped = cs.signals_dropped;
	ret->signals_not_delivered = cs.signals_not_delivered;
	ret->restored_containers = cs.restored;
	ret->ended_unseen = cs.ended_unseen;
	ret->probe_runs = cs.probe_runs;
	ret->probe_failures = cs.probe_failures;
	ret->hook_runs = cs.hook_runs;
	ret->probe_runs_untracked = cs.probe_runs_untracked;
	ret->pending = window_count(c->window);
	ret->series_dropped = series_dropped(c->series);
	ret->cgroups_reconciled = cs.reconciled;
	ret->series = series_count(c->series);
	ret->started = started_count(c->started);
}

void correlator_reconcile(struct correlator *c)
{
	containers_reconcile(c->containers, UINT32_MAX);
}

struct probe_metrics {
	const struct correlator *c;
	FILE *out;
	bool header;
};

static void probe_metrics_one(void *ctx, const struct container_state *st, const struct cgroup_entry *e)
{
	struct probe_metrics *m = ctx;
	const struct kube_pod *pod = join_pod(&m->c->env, e->ref.pod_uid);
	const struct kube_terminated *t;
	const struct kube_container *k = pod ? kube_pod_container_by_id(pod, e->ref.container_id, &t) : NULL;
	char name[64];

	if (!st->nprobes || !k)
		return;
	if (!m->header) {
		fprintf(m->out, "# HELP nodetrail_exec_probe_runs_total Runs of a container's exec probes and hooks\n"
				"# TYPE nodetrail_exec_probe_runs_total counter\n"
				"# HELP nodetrail_exec_probe_failures_total Of those, the runs that failed\n"
				"# TYPE nodetrail_exec_probe_failures_total counter\n");
		m->header = true;
	}
	/* names from the API: DNS labels, no quotes or backslashes to escape */
	for (uint32_t i = 0; i < st->nprobes; i++) {
		exec_probe_name(st->probes[i].kinds, name, sizeof(name));
		fprintf(m->out,
			"nodetrail_exec_probe_runs_total{namespace=\"%s\",pod=\"%s\",container=\"%s\",probe=\"%s\"} %u\n"
			"nodetrail_exec_probe_failures_total{namespace=\"%s\",pod=\"%s\",container=\"%s\",probe=\"%s\"} %u\n",
			pod->ns, pod->name, k->name, name, st->probes[i].runs, pod->ns, pod->name, k->name, name,
			st->probes[i].failures);
	}
}

void correlator_probe_metrics(const struct correlator *c, FILE *out)
{
	struct probe_metrics m = { c, out, false };

	containers_each(c->containers, probe_metrics_one, &m);
}

/* ---- the join window ---- */

static int64_t window_deadline(const struct correlator *c, bool wait)
{
	return clock_ns(CLOCK_MONOTONIC) + (wait ? (int64_t)c->env.join_window_ms * 1000000LL : 0);
}

static void on_window_timer(struct loop *loop, uint64_t id, void *data);

/* the window's timer at its earliest deadline (CLOCK_MONOTONIC) */
static void arm_window(struct correlator *c)
{
	int64_t next = window_next_deadline(c->window), now;

	if (!c->loop || (c->window_timer && c->window_timer_ns <= next && next))
		return;
	loop_timer_del(c->loop, c->window_timer);
	c->window_timer = 0;
	if (!next)
		return;
	now = clock_ns(CLOCK_MONOTONIC);
	c->window_timer_ns = next;
	c->window_timer = loop_timer_add(c->loop, next > now ? (uint64_t)((next - now + 999999) / 1000000) : 0,
					 on_window_timer, c);
}

static void on_window_timer(struct loop *loop, uint64_t id, void *data)
{
	struct correlator *c = data;

	c->window_timer = 0;
	correlator_tick(c);
}

static void send_api_exit(struct correlator *c, const struct pending *p)
{
	c->stats.api_only_exits++;
	container_record_send_api_exit(&c->env, p);
}

/* A stop from outside of a pod not being deleted: held while the pod's
 * events are listed, for the kubelet's word on why (join/kill_cause.c). */
static bool hold_for_kubelet(struct correlator *c, struct pending *p, const struct kube_pod *pod)
{
	const struct kube_terminated *t;
	const struct kube_container *k;

	if (!c->env.explain || !kill_cause_wanted(p, pod) || !c->env.explain(c->env.explain_ctx, pod))
		return false;
	k = kube_pod_container_by_id(pod, p->container_id, &t);
	snprintf(p->container_name, sizeof(p->container_name), "%s", k ? k->name : "");
	if (!p->pod)
		p->pod = kube_pod_dup(pod); /* the pod may be gone by the answer */
	p->awaiting_events = true;
	p->deadline_ns = clock_ns(CLOCK_MONOTONIC) + KILL_CAUSE_WAIT_MS * 1000000LL;
	c->stats.kill_causes_asked++;
	return true;
}

/* the pod this record joins: the API's now, else its last status */
static const struct kube_pod *pending_pod(const struct correlator *c, const struct pending *p)
{
	const struct kube_pod *pod = join_pod(&c->env, p->pod_uid);

	return pod ? pod : p->pod;
}

static void send_held(struct correlator *c, struct pending *p)
{
	if (p->api_only)
		send_api_exit(c, p);
	else
		container_record_send(&c->env, c->series, p, pending_pod(c, p));
}

/* A kernel record of the container of e: out now when there is no API to
 * wait for (or it has the container's status already), else held until the
 * API's status arrives or the window closes. Takes kernel. */
static void finish(struct correlator *c, enum record_type type, const struct cgroup_entry *e, int64_t boot_ns,
		   uint64_t id_a, uint64_t id_b, cJSON *kernel, const char *what, const char *comm, bool is_exit,
		   bool wait)
{
	struct pending *p = container_pending(&c->env, type, e, boot_ns, id_a, id_b, kernel, what, comm, is_exit);
	struct pending *reported = NULL;
	const struct kube_pod *pod;

	if (!p)
		return;
	if (is_exit && e->ref.container_id[0]) {
		idset_check_add(c->kernel_exits, hash_str(e->ref.container_id));
		/* the kernel saw the exit the API reported first: its record supersedes; if
		 * the pod was deleted meanwhile, its last status is what this record joins */
		reported = window_take_api_exit(c->window, e->ref.container_id);
	}
	pod = join_pod(&c->env, p->pod_uid);
	if (!pod && reported)
		pod = reported->pod;
	if (!wait || !c->env.api || !c->env.join_window_ms || container_confirmed(pod, p->container_id)) {
		/* nothing to wait for, or the API already has it */
		if (wait && pod && container_confirmed(pod, p->container_id))
			c->stats.joined++;
		if (wait && hold_for_kubelet(c, p, pod) && window_add(c->window, p) == 0) {
			pending_free(reported);
			arm_window(c);
			return;
		}
		container_record_send(&c->env, c->series, p, pod);
		pending_free(p);
		pending_free(reported);
		return;
	}
	p->deadline_ns = window_deadline(c, true);
	if (window_add(c->window, p) < 0) {
		c->stats.pending_overflow++;
		container_record_send(&c->env, c->series, p, pod);
		pending_free(p);
	}
	pending_free(reported);
	arm_window(c);
}

/* a record whose window closed */
static void close_one(void *ctx, struct pending *p)
{
	struct correlator *c = ctx;
	const struct kube_pod *pod = join_pod(&c->env, p->pod_uid);
	const struct kube_terminated *t;

	if (p->awaiting_events) {
		/* the pod's events did not come in time: what the kernel and the API said */
		c->stats.kill_causes_unanswered++;
		p->awaiting_events = false;
		send_held(c, p);
	} else if (p->api_only) {
		send_api_exit(c, p);
	} else if (pod && !kube_pod_container_by_id(pod, p->container_id, &t) && strcmp(p->comm, "pause") == 0) {
		/* the pod's sandbox: never one of its containers, folded into the pod */
		c->stats.sandboxes_folded++;
	} else {
		c->stats.unconfirmed++;
		container_record_send(&c->env, c->series, p, pod);
	}
}

struct expire {
	struct correlator *c;
	int64_t now;
};

static enum window_verdict expire_one(void *ctx, struct pending *p)
{
	struct expire *x = ctx;

	if (p->deadline_ns > x->now)
		return WINDOW_KEEP;
	if (p->api_only && hold_for_kubelet(x->c, p, pending_pod(x->c, p)))
		return WINDOW_KEEP;
	close_one(x->c, p);
	return WINDOW_DONE;
}

void correlator_tick(struct correlator *c)
{
	struct expire x = { c, clock_ns(CLOCK_MONOTONIC) };

	window_sweep(c->window, expire_one, &x);
	arm_window(c);
}

void correlator_flush(struct correlator *c)
{
	window_sweep_all_newest_first(c->window, close_one, c);
	arm_window(c);
}

int64_t correlator_next_deadline(const struct correlator *c)
{
	return window_next_deadline(c->window);
}

/* ---- kernel events ---- */

_Static_assert(NT_ARGS_LEN == KUBE_ARGV_PREFIX, "the kernel captures what a probe's hash covers");

/* An exec from outside whose argv is one of the container's exec probes or
 * hooks in the pod's spec: the kubelet's, counted, not a record. */
static bool probe_run(struct correlator *c, const struct cgroup_entry *e, struct container_state *st,
		      const struct nt_exec_event *ev)
{
	const struct kube_pod *pod = join_pod(&c->env, e->ref.pod_uid);
	const struct kube_container *k;
	const struct kube_terminated *t;
	const struct kube_exec *x;
	uint64_t hash;

	if (!pod || !ev->args_total || !(k = kube_pod_container_by_id(pod, e->ref.container_id, &t)))
		return false;
	hash = kube_argv_hash(ev->args, ev->args_len, ev->args_total);
	if (!(x = kube_container_exec(k, hash, ev->args_total)))
		return false;
	containers_on_probe_exec(c->containers, st, ev, hash, ev->args_total, x->kinds, x->liveness_threshold,
				 x->startup_threshold);
	return true;
}

static void on_proc_exec(struct correlator *c, const struct nt_exec_event *ev)
{
	const struct cgroup_entry *e;
	struct container_state *st;
	char what[256];
	cJSON *k;

	if (!containers_lookup(c->containers, ev->hdr.cgroup_id, &e, &st))
		return;
	if (containers_on_exec(c->containers, st, ev) != EXEC_FROM_OUTSIDE)
		return;
	if (probe_run(c, e, st, ev))
		return;
	k = container_exec_detail(&c->env, ev, what, sizeof(what));
	if (k)
		finish(c, RECORD_CONTAINER_EXEC, e, (int64_t)ev->hdr.ts_ns, ev->hdr.tgid, ev->hdr.ts_ns, k, what, "",
		       false, false);
}

static void on_proc_exit(struct correlator *c, const struct nt_exit_event *ev)
{
	const struct cgroup_entry *e;
	struct container_state *st;
	char summary[256];
	cJSON *k;

	const struct kube_pod *pod;

	if (!containers_lookup(c->containers, ev->hdr.cgroup_id, &e, &st) || !containers_on_exit(c->containers, e, st, ev))
		return;
	if ((pod = join_pod(&c->env, e->ref.pod_uid)))
		containers_name_last_end(c->containers, pod->ns, pod->name);
	k = container_exit_detail(st, ev, summary, sizeof(summary));
	if (k)
		finish(c, RECORD_CONTAINER_EXITED, e, (int64_t)ev->hdr.ts_ns, ev->hdr.tgid, ev->start_boot_ns, k, summary,
		       ev->comm, true, true);
}

static void on_signal(struct correlator *c, const struct nt_signal_event *ev)
{
	const struct cgroup_entry *e;
	struct container_state *st;

	if (containers_lookup(c->containers, ev->hdr.cgroup_id, &e, &st))
		containers_on_signal(c->containers, e, st, ev);
}

static void on_oom(struct correlator *c, const struct nt_oom_event *ev)
{
	const struct cgroup_entry *e;
	struct container_state *st;
	char summary[256];
	cJSON *k;

	if (!containers_lookup(c->containers, ev->hdr.cgroup_id, &e, &st))
		return;
	containers_on_oom(c->containers, e, st, ev);
	k = container_oom_detail(ev, summary, sizeof(summary));
	if (k)
		finish(c, RECORD_CONTAINER_OOM_KILLED, e, (int64_t)ev->hdr.ts_ns, ev->hdr.pid, ev->hdr.ts_ns, k, summary,
		       ev->comm, false, true);
}

void correlator_kernel_event(struct correlator *c, const struct nt_event_hdr *hdr)
{
	switch (hdr->type) {
	case NT_EV_CGROUP_MKDIR: containers_mkdir(c->containers, (const struct nt_cgroup_event *)hdr); break;
	case NT_EV_CGROUP_RMDIR: containers_rmdir(c->containers, (const struct nt_cgroup_event *)hdr); break;
	case NT_EV_EXEC: on_proc_exec(c, (const struct nt_exec_event *)hdr); break;
	case NT_EV_EXIT: on_proc_exit(c, (const struct nt_exit_event *)hdr); break;
	case NT_EV_SIGNAL: on_signal(c, (const struct nt_signal_event *)hdr); break;
	case NT_EV_OOM: on_oom(c, (const struct nt_oom_event *)hdr); break;
	default: break;
	}
}

int correlator_scan(struct correlator *c)
{
	return containers_scan(c->containers);
}

/* ---- the API's pods ---- */

/* An exit only the API reported so far: held like a kernel record, so that
 * the kernel's record of the same exit (the same id) can supersede it. */
static void queue_api_exit(struct correlator *c, const struct kube_pod *pod, const struct kube_container *k,
			   const struct kube_terminated *t, int64_t finished_ns)
{
	struct pending *p = container_api_exit(&c->env, c->series, pod, k, t, finished_ns);

	if (!p)
		return;
	p->deadline_ns = window_deadline(c, !c->env.bpf_off);
	if (window_add(c->window, p) < 0) {
		c->stats.pending_overflow++;
		send_api_exit(c, p);
		pending_free(p);
	}
	arm_window(c);
}

/* Exits the API reports (lastState after a restart, state when the
 * container stays down): each new one goes into the container's series;
 * those the kernel did not report become API-only records. */
static void api_exits(struct correlator *c, const struct kube_pod *pod)
{
	for (int i = 0; i < pod->ncontainers; i++) {
		const struct kube_container *k = &pod->containers[i];
		const struct kube_terminated *t = k->terminated.set ? &k->terminated : &k->last_terminated;

		if (series_note(c->series, pod, k, t, c->history_before_ns) != SERIES_NEW)
			continue;
		if (idset_contains(c->kernel_exits, hash_str(t->container_id)))
			continue;
		queue_api_exit(c, pod, k, t, clock_parse(t->finished_at));
	}
}

struct pod_join {
	struct correlator *c;
	const struct kube_pod *pod;
	bool deleted;
};

static enum window_verdict join_one(void *ctx, struct pending *p)
{
	struct pod_join *j = ctx;

	if (p->api_only || p->awaiting_events || !kube_pod_is(j->pod, p->pod_uid))
		return WINDOW_KEEP;
	if (container_confirmed(j->pod, p->container_id)) {
		j->c->stats.joined++;
		if (!j->deleted && hold_for_kubelet(j->c, p, j->pod))
			return WINDOW_KEEP;
	} else if (j->deleted) {
		/* the pod is gone: its status will not confirm more; its last word names the container */
		j->c->stats.unconfirmed++;
	} else {
		return WINDOW_KEEP;
	}
	container_record_send(&j->c->env, j->c->series, p, j->pod);
	return WINDOW_DONE;
}

/* exits the API reported and the kernel has not yet: keep the pod's last status for them */
static enum window_verdict keep_last_status(void *ctx, struct pending *p)
{
	struct pod_join *j = ctx;

	if (p->api_only && !p->pod && strcmp(p->pod_uid, j->pod->uid) == 0)
		p->pod = kube_pod_dup(j->pod);
	return WINDOW_KEEP;
}

struct pod_event {
	struct correlator *c;
	const char *uid;
	const struct kube_event_obj *e;
};

static enum window_verdict pod_event_one(void *ctx, struct pending *p)
{
	struct pod_event *x = ctx;

	if (!p->awaiting_events || strcmp(p->pod_uid, x->uid) != 0)
		return WINDOW_KEEP;
	if (x->e) {
		kill_cause_event(p, pending_pod(x->c, p), x->e);
		return WINDOW_KEEP;
	}
	if (kill_cause_finish(p, pending_pod(x->c, p)))
		x->c->stats.kill_causes_found++;
	send_held(x->c, p);
	return WINDOW_DONE;
}

void correlator_pod_event(struct correlator *c, const char *pod_uid, const struct kube_event_obj *e)
{
	struct pod_event x = { c, pod_uid, e };

	window_sweep(c->window, pod_event_one, &x);
	arm_window(c);
}

void correlator_pod_changed(struct correlator *c, const struct kube_pod *pod, bool deleted)
{
	struct pod_join j = { c, pod, deleted };

	started_pod_changed(c->started, &c->env, c->containers, pod, deleted);
	window_sweep(c->window, join_one, &j);
	api_exits(c, pod);
	if (deleted) {
		series_forget_pod(c->series, pod);
		window_sweep(c->window, keep_last_status, &j);
	}
}

void correlator_pod_ended(struct correlator *c, const struct kube_pod *pod, enum pod_end_seen seen)
{
	termination_record(&c->env, c->containers, pod, seen);
}

void correlator_condition_changed(struct correlator *c, const struct kube_condition *cond, const char *was)
{
	condition_record(&c->env, c->containers, cond, was);
}

static void observe_pod(void *ctx, const struct kube_pod *pod, bool deleted)
{
	correlator_pod_changed(ctx, pod, deleted);
}

static void observe_end(void *ctx, const struct kube_pod *pod, enum pod_end_seen seen)
{
	correlator_pod_ended(ctx, pod, seen);
}

static void observe_condition(void *ctx, const struct kube_condition *cond, const char *was)
{
	correlator_condition_changed(ctx, cond, was);
}

struct node_state_observer correlator_observer(struct correlator *c)
{
	return (struct node_state_observer){ .pod_changed = observe_pod,
					     .pod_ended = observe_end,
					     .condition_changed = observe_condition,
					     .ctx = c };
}

void correlator_drain_report(struct correlator *c, int64_t notice_ns, int64_t deadline_ns, const char *why, bool final)
{
	drain_report(&c->env, c->containers, notice_ns, deadline_ns, why, final);
}

/* ---- checkpoint ---- */

cJSON *correlator_save(const struct correlator *c)
{
	cJSON *doc = cJSON_CreateObject(), *part;

	if (!doc)
		return NULL;
	containers_save(c->containers, doc);
	if ((part = window_save(c->window)))
		cJSON_AddItemToObject(doc, "pending", part);
	if ((part = series_save(c->series)))
		cJSON_AddItemToObject(doc, "series", part);
	return doc;
}

void correlator_restore(struct correlator *c, const cJSON *doc, bool same_boot, int64_t written_ns)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "pending")) {
		struct pending *p = window_load_one(o);

		if (!p)
			continue;
		/* a fresh window: the relist that follows a restart can still join it */
		p->deadline_ns = window_deadline(c, true);
		if (window_add(c->window, p) < 0) {
			pending_free(p);
			break;
		}
		if (p->is_exit && !p->api_only && p->container_id[0])
			idset_check_add(c->kernel_exits, hash_str(p->container_id));
		c->stats.restored_pending++;
	}
	arm_window(c);
	series_restore(c->series, cJSON_GetObjectItem(doc, "series"));
	/* exits the API reports from here on, after what the checkpoint knew, are news */
	if (written_ns > 0 && written_ns < c->history_before_ns)
		c->history_before_ns = written_ns;
	if (!same_boot)
		return; /* boot-time stamps and cgroup ids of another boot mean nothing */
	containers_restore(c->containers, doc, clock_ns(CLOCK_REALTIME));
}

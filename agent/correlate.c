/* Correlator, kernel side: one state per container cgroup, fed by the
 * probes' events, emitting container.exited / oom_killed / exec records. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nodetrail/clock.h"
#include "nodetrail/correlate.h"
#include "nodetrail/history.h"
#include "nodetrail/probes.h"
#include "nodetrail/u64map.h"
#include "nodetrail/writer.h"

#define MAX_SIGNALS 8
#define MAX_OOM_VICTIMS 8
#define MAX_EXEC_IN 16

struct signal_note {
	int64_t at_boot_ns;
	uint32_t sig;
	uint32_t target_tgid;
	uint32_t sender_tgid;
	const char *sender;       /* "self", "kernel", "external" */
	char sender_comm[NT_COMM_LEN];
};

struct container_state {
	uint64_t cgroup_id;       /* the container's own cgroup */
	int64_t created_boot_ns;  /* cgroup_mkdir time, 0 if unknown */
	int64_t first_exec_boot_ns;
	uint32_t main_tgid;       /* the container's main process, 0 if unknown */
	bool preexisting;
	bool exit_reported;
	struct signal_note signals[MAX_SIGNALS];
	uint32_t nsignals;
	uint32_t signals_dropped;
	uint32_t oom_victims[MAX_OOM_VICTIMS];
	uint32_t noom;
	uint32_t exec_in[MAX_EXEC_IN]; /* tgids exec'd from outside */
	uint32_t nexec_in;
	/* the stop, as the pod's termination timeline needs it (not capped like signals[]) */
	int64_t term_boot_ns;     /* first SIGTERM to the main process */
	int64_t kill_boot_ns;     /* first SIGKILL to it */
	char kill_comm[NT_COMM_LEN];
	const char *kill_sender;
};

#define MAX_ENDS 512
#define MAX_RECENT_OOMS 32
#define OOM_CONTEXT_NS (5 * 60 * 1000000000LL)

/* recent OOM kills, for the kernel context of a MemoryPressure condition */
struct recent_oom {
	int64_t at_ns;            /* CLOCK_REALTIME */
	char pod_uid[CGROUP_POD_UID_LEN + 1];
	char container_id[CGROUP_CONTAINER_ID_LEN + 1];
	char comm[NT_COMM_LEN];
	bool node_wide;
};

/* how a container's main process ended, kept past its cgroup's removal so
 * that the pod's termination record can tell each container's story */
struct container_end {
	char pod_uid[CGROUP_POD_UID_LEN + 1];
	char container_id[CGROUP_CONTAINER_ID_LEN + 1];
	char comm[NT_COMM_LEN];
	int64_t term_ns, kill_ns, exit_ns; /* CLOCK_REALTIME, 0 if none */
	char kill_comm[NT_COMM_LEN];
	const char *kill_sender;
	uint32_t exit_code;       /* raw wait status */
	bool oom;
	bool unseen;              /* ended while the agent was down: exit_ns is when that was found */
};

#define MAX_PENDING 1024

/* a container record waiting for the API's view of the same container */
struct pending {
	char type[24];
	cJSON *kernel;
	char what[256];           /* summary after "container <who> " */
	char comm[NT_COMM_LEN];
	bool is_exit;
	int64_t event_time_ns;
	int64_t deadline_ns;      /* CLOCK_MONOTONIC */
	char record_id[RECORD_ID_LEN + 1];
	char pod_uid[CGROUP_POD_UID_LEN + 1];
	char container_id[CGROUP_CONTAINER_ID_LEN + 1];
	char qos[16];
	char runtime[16];
	char cgroup[NT_CGROUP_PATH_LEN];
	/* an exit only the API reported: waits for the kernel's record of it */
	bool api_only;
	cJSON *api;               /* the API's detail, kept in case the pod is gone when the window closes */
	struct kube_pod *pod;     /* the pod's last status once it is deleted: a late kernel record joins it */
	char pod_name[254];
	char pod_ns[64];
	char container_name[64];
	char owner_kind[32];
	char owner_name[254];
};

#define MAX_SERIES 4
#define KERNEL_EXITS 4096

/* one container (pod uid + name) as the API told its exits: a crash loop's series */
struct exit_series {
	uint64_t last_cid;        /* hash of the newest terminated container id */
	uint32_t n;               /* entries used, oldest first */
	struct series_exit {
		uint64_t cid;
		int64_t finished_ns;
		int exit_code;
		char reason[32];
	} exits[MAX_SERIES];
};

struct correlator {
	struct correlate_options opts;
	int64_t start_ns;          /* CLOCK_REALTIME at start: older Ready pods are history */
	struct u64map *started;    /* hash(pod uid) of pods whose pod.started is out */
	struct container_end ends[MAX_ENDS]; /* ring, oldest overwritten */
	struct recent_oom ooms[MAX_RECENT_OOMS]; /* ring, oldest overwritten */
	uint32_t ooms_next;
	uint32_t ends_next;
	uint64_t ends_total;
	struct pending *pending[MAX_PENDING];
	uint32_t npending;
	struct cgroup_map *cgroups;
	struct u64map *containers; /* container cgroup id -> struct container_state */
	struct u64map *series;     /* hash(pod uid/container name) -> struct exit_series */
	struct record_ids *kernel_exits; /* container ids whose exit the kernel reported */
	int64_t history_before_ns; /* API exits that finished before this are history, not news */
	bool restored;             /* a checkpoint of the same boot was restored */
	struct correlate_stats stats;
	long clk_tck;
};

int64_t correlate_boot_to_realtime(int64_t boot_ns)
{
	return boot_ns + clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME);
}

struct correlator *correlator_new(const struct correlate_options *opts)
{
	struct correlator *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->opts = *opts;
	c->cgroups = cgroup_map_new(opts->max_cgroups);
	c->containers = u64map_new(opts->max_cgroups);
	c->clk_tck = sysconf(_SC_CLK_TCK);
	c->started = u64map_new(opts->max_cgroups);
	c->series = u64map_new(opts->max_cgroups);
	c->kernel_exits = record_ids_new(KERNEL_EXITS);
	c->start_ns = clock_ns(CLOCK_REALTIME);
	c->history_before_ns = c->start_ns;
	if (!c->cgroups || !c->containers || !c->started || !c->series || !c->kernel_exits) {
		correlator_free(c);
		return NULL;
	}
	return c;
}

void correlator_free(struct correlator *c)
{
	if (!c)
		return;
	for (uint32_t i = 0; i < c->npending; i++) {
		cJSON_Delete(c->pending[i]->kernel);
		cJSON_Delete(c->pending[i]->api);
		free(c->pending[i]);
	}
	cgroup_map_free(c->cgroups);
	u64map_free(c->containers, free);
	u64map_free(c->started, NULL);
	u64map_free(c->series, free);
	record_ids_free(c->kernel_exits);
	free(c);
}

void correlator_get_stats(const struct correlator *c, struct correlate_stats *ret)
{
	*ret = c->stats;
	ret->containers = u64map_count(c->containers);
	ret->cgroups_dropped = cgroup_map_dropped(c->cgroups);
	ret->containers_dropped = u64map_dropped(c->containers);
	ret->pending = c->npending;
	ret->series_dropped = c->series ? u64map_dropped(c->series) : 0;
}

/* ---- records ---- */

static void add_time(cJSON *o, const char *key, int64_t boot_ns)
{
	char buf[32];

	if (boot_ns > 0)
		cJSON_AddStringToObject(o, key, writer_format_time(correlate_boot_to_realtime(boot_ns), buf));
}

static bool tgid_in(const uint32_t *list, uint32_t n, uint32_t tgid)
{
	for (uint32_t i = 0; i < n; i++)
		if (list[i] == tgid)
			return true;
	return false;
}


/* The API's container with this id: the current one, or the one its
 * lastState remembers (after a restart). *ret_term: its termination, if
 * the API has seen it. */
static const struct kube_container *api_container(const struct kube_pod *pod, const char *id,
						  const struct kube_terminated **ret_term)
{
	*ret_term = NULL;
	for (int i = 0; pod && i < pod->ncontainers; i++) {
		const struct kube_container *k = &pod->containers[i];

		if (strcmp(k->container_id, id) == 0) {
			/* waiting to restart (CrashLoopBackOff): the id is still the
			 * last one's, and lastState tells how it ended */
			if (k->terminated.set)
				*ret_term = &k->terminated;
			else if (k->last_terminated.set && strcmp(k->last_terminated.container_id, id) == 0)
				*ret_term = &k->last_terminated;
			return k;
		}
		if (k->last_terminated.set && strcmp(k->last_terminated.container_id, id) == 0) {
			*ret_term = &k->last_terminated;
			return k;
		}
	}
	return NULL;
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

static uint64_t series_key(const char *pod_uid, const char *container_name)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s/%s", pod_uid, container_name);
	return record_hash_str(buf);
}

/* A crash loop as a series: the container's earlier exits the API told
 * of, and whether the kubelet is backing off. Nothing on a first exit. */
static void add_series(struct correlator *c, cJSON *api, const char *pod_uid, const struct kube_container *k,
		       const char *container_id)
{
	const struct exit_series *s = u64map_get(c->series, series_key(pod_uid, k->name));
	uint64_t current = record_hash_str(container_id);
	bool back_off = strcmp(k->waiting_reason, "CrashLoopBackOff") == 0;
	cJSON *o, *list;
	char when[32];

	if (!api || (k->restart_count < 1 && !back_off))
		return;
	o = cJSON_AddObjectToObject(api, "crash_loop");
	list = o ? cJSON_AddArrayToObject(o, "previous_exits") : NULL;
	if (!list)
		return;
	cJSON_AddBoolToObject(o, "back_off", back_off);
	for (uint32_t i = 0; s && i < s->n; i++) {
		const struct series_exit *x = &s->exits[i];
		cJSON *e;

		if (x->cid == current || !(e = cJSON_CreateObject()))
			continue;
		if (x->finished_ns)
			cJSON_AddStringToObject(e, "finished_at", writer_format_time(x->finished_ns, when));
		cJSON_AddNumberToObject(e, "exit_code", x->exit_code);
		if (x->reason[0])
			cJSON_AddStringToObject(e, "reason", x->reason);
		cJSON_AddItemToArray(list, e);
	}
}

/* ", exit 3 of a series since 2026-11-24T10:00:01Z, CrashLoopBackOff" */
static void series_summary(const cJSON *api, char *buf, size_t len)
{
	const cJSON *loop = cJSON_GetObjectItem(api, "crash_loop"), *prev = cJSON_GetObjectItem(loop, "previous_exits");
	const char *since = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(prev, 0), "finished_at"));
	int n = cJSON_GetArraySize(prev);
	size_t k = 0;

	buf[0] = '\0';
	if (!loop)
		return;
	if (n > 0 && since)
		k = (size_t)snprintf(buf, len, ", exit %d of a series since %s", n + 1, since);
	if (cJSON_IsTrue(cJSON_GetObjectItem(loop, "back_off")) && k < len)
		snprintf(buf + k, len - k, ", CrashLoopBackOff");
}

/* the keys every container record has, from what waited */
static void pending_record(const struct correlator *c, const struct pending *p, struct record *r)
{
	memset(r, 0, sizeof(*r));
	r->type = p->type;
	r->event_time_ns = p->event_time_ns;
	r->node = c->opts.node;
	memcpy(r->record_id, p->record_id, sizeof(r->record_id));
	r->pod_uid = p->pod_uid;
	r->qos_class = p->qos;
	r->container_id = p->container_id;
	r->runtime = p->runtime;
}

/* Send a container record: joined with the API's pod and container when
 * known, the kernel's alone otherwise. */
static void send_pending(struct correlator *c, const struct pending *p, const struct kube_pod *pod)
{
	const struct kube_terminated *t = NULL;
	const struct kube_container *k = pod ? api_container(pod, p->container_id, &t) : NULL;
	char summary[768];
	struct record r;
	cJSON *api = k ? api_detail(k, t) : NULL;
	char loop[128] = "";

	if (k && p->is_exit) {
		add_series(c, api, pod->uid, k, p->container_id);
		series_summary(api, loop, sizeof(loop));
	}
	pending_record(c, p, &r);
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
		n = (size_t)snprintf(summary, sizeof(summary), "container %s of pod %s/%s %s", k->name, pod->ns,
				     pod->name, p->what);
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
	c->opts.emit(c->opts.emit_ctx, &r);
	cJSON_Delete(api);
}

static void free_pending(struct pending *p)
{
	cJSON_Delete(p->kernel);
	cJSON_Delete(p->api);
	free(p->pod);
	free(p);
}

static void drop_pending(struct correlator *c, uint32_t i)
{
	free_pending(c->pending[i]);
	c->pending[i] = c->pending[--c->npending];
}

static void exit_record_id(const char *container_id, char ret[RECORD_ID_LEN + 1])
{
	record_make_id("container.exited", NULL, record_hash_str(container_id), 0, 0, ret);
}

/* The kernel saw the exit the API reported first: its record supersedes. The
 * API's report is handed back (the caller frees it): if the pod was deleted
 * meanwhile, its last status is what the kernel's record joins. */
static struct pending *take_api_exit(struct correlator *c, const char *container_id)
{
	for (uint32_t i = 0; i < c->npending; i++)
		if (c->pending[i]->api_only && strcmp(c->pending[i]->container_id, container_id) == 0) {
			struct pending *p = c->pending[i];

			c->pending[i] = c->pending[--c->npending];
			return p;
		}
	return NULL;
}

/* A container record: out now when there is no API to wait for, else held
 * until the API's status for the container arrives or the window closes. */
static void finish(struct correlator *c, const char *type, const struct cgroup_entry *e, int64_t boot_ns,
		   uint64_t id_a, uint64_t id_b, cJSON *kernel, const char *what, const char *comm, bool is_exit,
		   bool wait)
{
	struct pending *p = calloc(1, sizeof(*p)), *reported = NULL;
	const struct kube_pod *pod;
	const struct kube_terminated *t;

	if (!p) {
		cJSON_Delete(kernel);
		return;
	}
	snprintf(p->type, sizeof(p->type), "%s", type);
	p->kernel = kernel;
	snprintf(p->what, sizeof(p->what), "%s", what);
	snprintf(p->comm, sizeof(p->comm), "%s", comm);
	p->is_exit = is_exit;
	p->event_time_ns = correlate_boot_to_realtime(boot_ns);
	if (is_exit && e->ref.container_id[0]) {
		/* a container exits once: the API's report of it gets the same id */
		exit_record_id(e->ref.container_id, p->record_id);
		record_ids_check_add(c->kernel_exits, e->ref.container_id);
		reported = take_api_exit(c, e->ref.container_id);
	} else {
		record_make_id(type, c->opts.boot_id, e->container_cgroup_id, id_a, id_b, p->record_id);
	}
	memcpy(p->pod_uid, e->ref.pod_uid, sizeof(p->pod_uid));
	memcpy(p->container_id, e->ref.container_id, sizeof(p->container_id));
	snprintf(p->qos, sizeof(p->qos), "%s", e->ref.pod_uid[0] ? cgroup_qos_name(e->ref.qos) : "");
	snprintf(p->runtime, sizeof(p->runtime), "%s", cgroup_runtime_name(e->ref.runtime));
	snprintf(p->cgroup, sizeof(p->cgroup), "%s", e->path);
	pod = c->opts.api ? node_state_pod(c->opts.api, p->pod_uid) : NULL;
	if (!pod && reported)
		pod = reported->pod;
	if (!wait || !c->opts.api || !c->opts.join_window_ms || (api_container(pod, p->container_id, &t) && t)) {
		/* nothing to wait for, or the API already has it */
		if (wait && pod && api_container(pod, p->container_id, &t) && t)
			c->stats.joined++;
		send_pending(c, p, pod);
		free_pending(p);
		if (reported)
			free_pending(reported);
		return;
	}
	if (c->npending == MAX_PENDING) {
		c->stats.pending_overflow++;
		send_pending(c, p, pod);
		free_pending(p);
		if (reported)
			free_pending(reported);
		return;
	}
	if (reported)
		free_pending(reported);
	p->deadline_ns = clock_ns(CLOCK_MONOTONIC) + (int64_t)c->opts.join_window_ms * 1000000LL;
	c->pending[c->npending++] = p;
}

struct start_view {
	struct correlator *c;
	const struct kube_pod *pod;
	cJSON *containers;
	int64_t sandbox_ns, first_exec_ns; /* boot-time ns, 0 if unseen */
};

static void start_container(void *ctx, uint64_t key, void *value)
{
	struct start_view *v = ctx;
	struct container_state *st = value;
	const struct cgroup_entry *e = cgroup_map_get(v->c->cgroups, st->cgroup_id);
	const struct kube_terminated *t;
	const struct kube_container *k;
	cJSON *o;

	if (!e || strcmp(e->ref.pod_uid, v->pod->uid) != 0)
		return;
	k = api_container(v->pod, e->ref.container_id, &t);
	if (!k) {
		/* no container status names it: the pod's sandbox */
		if (st->created_boot_ns && (!v->sandbox_ns || st->created_boot_ns < v->sandbox_ns))
			v->sandbox_ns = st->created_boot_ns;
		return;
	}
	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddStringToObject(o, "name", k->name);
	cJSON_AddStringToObject(o, "id", e->ref.container_id);
	add_time(o, "cgroup_created_at", st->created_boot_ns);
	add_time(o, "first_exec_at", st->first_exec_boot_ns);
	cJSON_AddItemToArray(v->containers, o);
	if (st->first_exec_boot_ns && (!v->first_exec_ns || st->first_exec_boot_ns < v->first_exec_ns))
		v->first_exec_ns = st->first_exec_boot_ns;
}

static void add_span(cJSON *o, const char *key, int64_t from_ns, int64_t to_ns)
{
	if (from_ns && to_ns && to_ns >= from_ns)
		cJSON_AddNumberToObject(o, key, (double)((to_ns - from_ns) / 1000000) / 1000.0);
}

/* pod.started: scheduled (API) -> sandbox cgroup (kernel) -> first exec
 * (kernel) -> Ready (API), once per pod that becomes Ready while we watch */
static void maybe_pod_started(struct correlator *c, const struct kube_pod *pod)
{
	int64_t scheduled = node_state_parse_time(pod->scheduled_at), ready = node_state_parse_time(pod->ready_at);
	struct start_view v = { .c = c, .pod = pod };
	int64_t sandbox_rt, exec_rt;
	char summary[512];
	struct record r;
	cJSON *k, *a, *span;
	uint64_t key = record_hash_str(pod->uid);

	/* Kubernetes times have a second's resolution: allow for it */
	if (!ready || ready + 1000000000LL < c->start_ns || u64map_get(c->started, key))
		return;
	u64map_put(c->started, key, (void *)1, NULL);
	k = cJSON_CreateObject();
	a = cJSON_CreateObject();
	span = cJSON_CreateObject();
	v.containers = k ? cJSON_AddArrayToObject(k, "containers") : NULL;
	if (!v.containers || !a || !span)
		goto out;
	u64map_each(c->containers, start_container, &v);
	add_time(k, "sandbox_cgroup_at", v.sandbox_ns);
	cJSON_AddStringToObject(a, "scheduled_at", pod->scheduled_at);
	cJSON_AddStringToObject(a, "ready_at", pod->ready_at);
	sandbox_rt = v.sandbox_ns ? correlate_boot_to_realtime(v.sandbox_ns) : 0;
	exec_rt = v.first_exec_ns ? correlate_boot_to_realtime(v.first_exec_ns) : 0;
	add_span(span, "scheduled_to_sandbox_s", scheduled, sandbox_rt);
	add_span(span, "sandbox_to_first_exec_s", sandbox_rt, exec_rt);
	add_span(span, "first_exec_to_ready_s", exec_rt, ready);
	add_span(span, "scheduled_to_ready_s", scheduled, ready);
	cJSON_AddItemToObject(a, "timeline", span);
	span = NULL;
	snprintf(summary, sizeof(summary), "pod %s/%s ready %.0f s after it was scheduled (%d container%s started, first exec %s)",
		 pod->ns, pod->name, scheduled && ready >= scheduled ? (double)(ready - scheduled) / 1e9 : 0.0,
		 cJSON_GetArraySize(v.containers), cJSON_GetArraySize(v.containers) == 1 ? "" : "s",
		 exec_rt ? "seen by the kernel" : "not seen");
	memset(&r, 0, sizeof(r));
	r.type = "pod.started";
	r.event_time_ns = ready;
	r.node = c->opts.node;
	record_make_id(r.type, NULL, key, 0, 0, r.record_id);
	kube_pod_to_record(pod, &r);
	r.detail_key = "api";
	r.detail = a;
	r.detail2_key = "kernel";
	r.detail2 = k;
	r.sources[0] = "api";
	r.sources[1] = exec_rt || sandbox_rt ? "kernel" : NULL;
	r.summary = summary;
	c->opts.emit(c->opts.emit_ctx, &r);
out:
	cJSON_Delete(k);
	cJSON_Delete(a);
	cJSON_Delete(span);
}

static void send_api_exit(struct correlator *c, const struct pending *p);

/* An exit only the API reported so far: held like a kernel record, so that
 * the kernel's record of the same exit (the same id) can supersede it. */
static void queue_api_exit(struct correlator *c, const struct kube_pod *pod, const struct kube_container *k,
			   const struct kube_terminated *t, int64_t finished_ns)
{
	struct pending *p = calloc(1, sizeof(*p));
	const char *why;
	size_t n;
	char loop[128];

	if (!p)
		return;
	p->api_only = true;
	p->is_exit = true;
	snprintf(p->type, sizeof(p->type), "container.exited");
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
	add_series(c, p->api, pod->uid, k, t->container_id);
	p->kernel = cJSON_CreateObject();
	if (!p->api || !p->kernel) {
		cJSON_Delete(p->api);
		cJSON_Delete(p->kernel);
		free(p);
		return;
	}
	if (finished_ns && finished_ns < c->start_ns)
		why = "agent_not_running";
	else if (c->opts.bpf_off)
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
			 !strcmp(why, "bpf_off") ? "eBPF is off" : "no kernel event matched");
	p->deadline_ns = clock_ns(CLOCK_MONOTONIC) + (c->opts.bpf_off ? 0 : (int64_t)c->opts.join_window_ms * 1000000LL);
	if (c->npending == MAX_PENDING) {
		c->stats.pending_overflow++;
		send_api_exit(c, p);
		cJSON_Delete(p->api);
		cJSON_Delete(p->kernel);
		free(p);
		return;
	}
	c->pending[c->npending++] = p;
}

/* Exits the API reports (lastState after a restart, state when the
 * container stays down): each new one goes into the container's series;
 * those the kernel did not report become API-only records. */
static void api_exits(struct correlator *c, const struct kube_pod *pod)
{
	for (int i = 0; i < pod->ncontainers; i++) {
		const struct kube_container *k = &pod->containers[i];
		const struct kube_terminated *t = k->terminated.set ? &k->terminated : &k->last_terminated;
		uint64_t key, cid;
		struct exit_series *s;
		int64_t finished;
		bool known;

		key = series_key(pod->uid, k->name);
		s = u64map_get(c->series, key);
		known = s != NULL;
		if (!s) {
			/* every container has one, so that its first exit is news */
			s = calloc(1, sizeof(*s));
			if (!s)
				continue;
			if (u64map_put(c->series, key, s, NULL) < 0) {
				free(s); /* counted: without a series the exit cannot be told apart from the last */
				continue;
			}
		}
		if (!t->set || !t->container_id[0])
			continue;
		cid = record_hash_str(t->container_id);
		if (s->last_cid == cid)
			continue;
		finished = node_state_parse_time(t->finished_at);
		s->last_cid = cid;
		if (s->n == MAX_SERIES)
			memmove(&s->exits[0], &s->exits[1], sizeof(s->exits[0]) * --s->n);
		s->exits[s->n].cid = cid;
		s->exits[s->n].finished_ns = finished;
		s->exits[s->n].exit_code = t->exit_code;
		snprintf(s->exits[s->n].reason, sizeof(s->exits[s->n].reason), "%s", t->reason);
		s->n++;
		/* a container first seen with an exit from before we watched: history */
		if (!known && (!finished || finished + 1000000000LL < c->history_before_ns))
			continue;
		if (record_ids_contains(c->kernel_exits, t->container_id))
			continue;
		queue_api_exit(c, pod, k, t, finished);
	}
}

static void forget_series(struct correlator *c, const struct kube_pod *pod)
{
	for (int i = 0; i < pod->ncontainers; i++)
		free(u64map_take(c->series, series_key(pod->uid, pod->containers[i].name)));
}

void correlator_api_pod(struct correlator *c, const struct kube_pod *pod, bool deleted)
{
	if (!deleted)
		maybe_pod_started(c, pod);
	else
		u64map_take(c->started, record_hash_str(pod->uid));

	for (uint32_t i = 0; i < c->npending;) {
		struct pending *p = c->pending[i];
		const struct kube_terminated *t;

		if (!p->api_only && strcmp(p->pod_uid, pod->uid) == 0 && api_container(pod, p->container_id, &t) && t) {
			c->stats.joined++;
			send_pending(c, p, pod);
			drop_pending(c, i);
			continue;
		}
		/* the pod is gone: its status will not confirm more; its last word names the container */
		if (deleted && !p->api_only && strcmp(p->pod_uid, pod->uid) == 0) {
			c->stats.unconfirmed++;
			send_pending(c, p, pod);
			drop_pending(c, i);
			continue;
		}
		i++;
	}
	api_exits(c, pod);
	if (deleted) {
		forget_series(c, pod);
		/* exits the API reported and the kernel has not yet: keep the pod's last status for them */
		for (uint32_t i = 0; i < c->npending; i++) {
			struct pending *p = c->pending[i];

			if (p->api_only && !p->pod && strcmp(p->pod_uid, pod->uid) == 0)
				p->pod = kube_pod_dup(pod);
		}
	}
}

static void send_api_exit(struct correlator *c, const struct pending *p)
{
	char summary[768];
	struct record r;

	pending_record(c, p, &r);
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
	snprintf(summary, sizeof(summary), "container %s of pod %s/%s %s", p->container_name, p->pod_ns, p->pod_name,
		 p->what);
	r.summary = summary;
	c->stats.api_only_exits++;
	c->opts.emit(c->opts.emit_ctx, &r);
}

static void close_window(struct correlator *c, uint32_t i)
{
	struct pending *p = c->pending[i];
	const struct kube_pod *pod = c->opts.api ? node_state_pod(c->opts.api, p->pod_uid) : NULL;
	const struct kube_terminated *t;

	if (p->api_only) {
		send_api_exit(c, p);
	} else if (pod && !api_container(pod, p->container_id, &t) && strcmp(p->comm, "pause") == 0) {
		/* the pod's sandbox: never one of its containers, folded into the pod */
		c->stats.sandboxes_folded++;
	} else {
		c->stats.unconfirmed++;
		send_pending(c, p, pod);
	}
	drop_pending(c, i);
}

void correlator_tick(struct correlator *c)
{
	int64_t now = clock_ns(CLOCK_MONOTONIC);

	for (uint32_t i = 0; i < c->npending;) {
		if (c->pending[i]->deadline_ns <= now) {
			close_window(c, i);
			continue;
		}
		i++;
	}
}

void correlator_flush(struct correlator *c)
{
	while (c->npending)
		close_window(c, c->npending - 1);
}

static void emit_exited(struct correlator *c, const struct cgroup_entry *e, struct container_state *st,
			const struct nt_exit_event *ev)
{
	struct exit_status es;
	const struct signal_note *fatal = NULL;
	char summary[256];
	cJSON *k, *sigs;
	bool oom;

	exit_status_decode(ev->exit_code, &es);
	oom = tgid_in(st->oom_victims, st->noom, ev->hdr.tgid);
	k = cJSON_CreateObject();
	if (!k)
		return;
	cJSON_AddNumberToObject(k, "pid", ev->hdr.tgid);
	cJSON_AddStringToObject(k, "comm", ev->comm);
	if (es.exited) {
		cJSON_AddNumberToObject(k, "exit_code", es.code);
	} else {
		cJSON_AddNumberToObject(k, "signal", es.signal);
		cJSON_AddStringToObject(k, "signal_name", signal_name(es.signal));
	}
	cJSON_AddBoolToObject(k, "core_dumped", es.core_dumped);
	add_time(k, "started_at", (int64_t)ev->start_boot_ns);
	if (ev->start_boot_ns && ev->hdr.ts_ns > ev->start_boot_ns)
		cJSON_AddNumberToObject(k, "run_time_s",
					(double)((ev->hdr.ts_ns - ev->start_boot_ns) / 1000000) / 1000.0);
	add_time(k, "cgroup_created_at", st->created_boot_ns);
	add_time(k, "first_exec_at", st->first_exec_boot_ns);
	cJSON_AddBoolToObject(k, "oom_killed", oom);
	cJSON_AddBoolToObject(k, "preexisting", st->preexisting);
	sigs = cJSON_AddArrayToObject(k, "signals");
	for (uint32_t i = 0; sigs && i < st->nsignals; i++) {
		const struct signal_note *s = &st->signals[i];
		cJSON *o = cJSON_CreateObject();

		if (!o)
			break;
		add_time(o, "at", s->at_boot_ns);
		cJSON_AddStringToObject(o, "signal", signal_name((int)s->sig));
		cJSON_AddNumberToObject(o, "target_pid", s->target_tgid);
		cJSON_AddNumberToObject(o, "sender_pid", s->sender_tgid);
		cJSON_AddStringToObject(o, "sender_comm", s->sender_comm);
		cJSON_AddStringToObject(o, "sender", s->sender);
		cJSON_AddItemToArray(sigs, o);
		if (!es.exited && s->target_tgid == ev->hdr.tgid && (int)s->sig == es.signal)
			fatal = s;
	}
	if (st->signals_dropped)
		cJSON_AddNumberToObject(k, "signals_dropped", st->signals_dropped);
	if (fatal) {
		cJSON *o = cJSON_AddObjectToObject(k, "fatal_signal");

		if (o) {
			add_time(o, "at", fatal->at_boot_ns);
			cJSON_AddStringToObject(o, "signal", signal_name((int)fatal->sig));
			cJSON_AddNumberToObject(o, "sender_pid", fatal->sender_tgid);
			cJSON_AddStringToObject(o, "sender_comm", fatal->sender_comm);
			cJSON_AddStringToObject(o, "sender", fatal->sender);
		}
	}

	if (es.exited)
		snprintf(summary, sizeof(summary), "exited with code %d", es.code);
	else if (oom)
		snprintf(summary, sizeof(summary), "was OOM-killed (%s)", signal_name(es.signal));
	else if (fatal)
		snprintf(summary, sizeof(summary), "was killed by %s from %s (%s)", signal_name(es.signal),
			 fatal->sender_comm, fatal->sender);
	else
		snprintf(summary, sizeof(summary), "was killed by %s", signal_name(es.signal));
	/* a shell's graceful exit(143) after SIGTERM: name who asked */
	for (uint32_t i = st->nsignals; es.exited && i > 0; i--) {
		const struct signal_note *s = &st->signals[i - 1];
		size_t n = strlen(summary);

		if (s->target_tgid != ev->hdr.tgid)
			continue;
		snprintf(summary + n, sizeof(summary) - n, " after %s from %s (%s)", signal_name((int)s->sig),
			 s->sender_comm, s->sender);
		break;
	}
	finish(c, "container.exited", e, (int64_t)ev->hdr.ts_ns, ev->hdr.tgid, ev->start_boot_ns, k, summary,
	       ev->comm, true, true);
}

static void format_mib(uint64_t bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
}

static void emit_oom(struct correlator *c, const struct cgroup_entry *e, const struct nt_oom_event *ev)
{
	char summary[256], used[32], limit[32];
	const char *scope = ev->node_wide ? "node" : ev->limit_level == 0 ? "container" : "pod";
	cJSON *k = cJSON_CreateObject();

	if (!k)
		return;
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
		snprintf(summary, sizeof(summary), "OOM-killed: the node ran out of memory (%s, pid %u, container used %s)",
			 ev->comm, ev->hdr.tgid, used);
	} else {
		format_mib(ev->usage_bytes, used, sizeof(used));
		format_mib(ev->limit_bytes, limit, sizeof(limit));
		snprintf(summary, sizeof(summary), "OOM-killed at %s of %s %s limit (%s, pid %u)", used, limit, scope,
			 ev->comm, ev->hdr.tgid);
	}
	finish(c, "container.oom_killed", e, (int64_t)ev->hdr.ts_ns, ev->hdr.pid, ev->hdr.ts_ns, k, summary, ev->comm,
	       false, true);
}

static void emit_exec(struct correlator *c, const struct cgroup_entry *e, const struct nt_exec_event *ev)
{
	char what[256];
	cJSON *k = cJSON_CreateObject();

	if (!k)
		return;
	cJSON_AddNumberToObject(k, "pid", ev->hdr.tgid);
	cJSON_AddNumberToObject(k, "ppid", ev->ppid);
	cJSON_AddStringToObject(k, "comm", ev->comm);
	cJSON_AddStringToObject(k, "exe", ev->filename);
	if (c->opts.exec_args && ev->args_len)
		cJSON_AddItemToObject(k, "args", record_exec_args(ev->args, ev->args_len < NT_ARGS_LEN ? ev->args_len : NT_ARGS_LEN,
								  c->opts.exec_args_redact));
	cJSON_AddNumberToObject(k, "uid", ev->uid);
	snprintf(what, sizeof(what), "had %s (pid %u, uid %u) exec'd into it from outside", ev->comm, ev->hdr.tgid,
		 ev->uid);
	finish(c, "container.exec", e, (int64_t)ev->hdr.ts_ns, ev->hdr.tgid, ev->hdr.ts_ns, k, what, "", false, false);
}

/* ---- tracking ---- */

static enum nt_cgroup_kind kernel_kind(const struct cgroup_ref *ref)
{
	return cgroup_kind_is_container(ref->kind) ? NT_CG_CONTAINER : NT_CG_ANCESTOR;
}

static struct container_state *container_of_entry(struct correlator *c, const struct cgroup_entry *e)
{
	return u64map_get(c->containers, e->container_cgroup_id);
}

/* Record a cgroup in both maps. Returns the entry or NULL if not tracked. */
static const struct cgroup_entry *track(struct correlator *c, uint64_t id, uint64_t parent_id, const char *path,
					int64_t created_boot_ns, bool exec_seen)
{
	const struct cgroup_entry *e;
	struct container_state *st;

	if (cgroup_map_put(c->cgroups, id, parent_id, path, created_boot_ns, &e) < 0) {
		if (c->opts.probes)
			probes_untrack(c->opts.probes, id);
		return NULL;
	}
	if (c->opts.probes && probes_track(c->opts.probes, id, kernel_kind(&e->ref), exec_seen) < 0) {
		cgroup_map_remove(c->cgroups, id);
		return NULL;
	}
	if (e->ref.kind == CGROUP_KIND_CONTAINER && !u64map_get(c->containers, id)) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return e;
		st->cgroup_id = id;
		st->created_boot_ns = created_boot_ns;
		if (u64map_put(c->containers, id, st, NULL) < 0)
			free(st);
	}
	return e;
}

static void on_mkdir(struct correlator *c, const struct nt_cgroup_event *ev)
{
	struct cgroup_ref ref;
	char path[NT_CGROUP_PATH_LEN];

	memcpy(path, ev->path, sizeof(path));
	path[sizeof(path) - 1] = '\0';
	if (!ev->parent_tracked) {
		/* a new kubepods root (kubelet starting after the agent), or a
		 * Kubernetes cgroup whose parent was created too fast for us */
		if (cgroup_parse_path(path, &ref) < 0 || ref.kind == CGROUP_KIND_HOST)
			return;
	}
	track(c, ev->hdr.cgroup_id, ev->parent_id, path, (int64_t)ev->hdr.ts_ns, false);
}

static void on_rmdir(struct correlator *c, const struct nt_cgroup_event *ev)
{
	struct container_state *st = u64map_take(c->containers, ev->hdr.cgroup_id);

	free(st);
	cgroup_map_remove(c->cgroups, ev->hdr.cgroup_id);
}

/* Resolve an event's cgroup to its container entry and state. */
static bool lookup(struct correlator *c, uint64_t cgroup_id, const struct cgroup_entry **ret_e,
		   struct container_state **ret_st)
{
	const struct cgroup_entry *e = cgroup_map_get(c->cgroups, cgroup_id);
	struct container_state *st;

	if (!e) {
		c->stats.unknown_cgroup_events++;
		return false;
	}
	if (!cgroup_kind_is_container(e->ref.kind))
		return false;
	st = container_of_entry(c, e);
	if (!st)
		return false;
	/* records name the container, not the child cgroup the event came from */
	if (e->container_cgroup_id != e->id) {
		const struct cgroup_entry *ce = cgroup_map_get(c->cgroups, e->container_cgroup_id);

		if (ce)
			e = ce;
	}
	*ret_e = e;
	*ret_st = st;
	return true;
}

/* The runtime re-executing itself inside the new cgroup (runc's init runs
 * from a sealed memfd copy: execveat gives "/dev/fd/N"; or /proc/self/exe):
 * container setup, not the container's command. runc moves its init into
 * the cgroup before or after that re-exec, whichever wins the race. */
static bool runtime_exec(const struct nt_exec_event *ev)
{
	return strncmp(ev->filename, "/dev/fd/", 8) == 0 || strncmp(ev->filename, "/proc/self/", 11) == 0 ||
	       strncmp(ev->comm, "runc", 4) == 0;
}

static void on_proc_exec(struct correlator *c, const struct nt_exec_event *ev)
{
	const struct cgroup_entry *e;
	struct container_state *st;

	if (!lookup(c, ev->hdr.cgroup_id, &e, &st))
		return;
	if (runtime_exec(ev))
		return;
	/* the container's own command: the first exec, or the first from
	 * outside if the runtime's re-exec took the kernel's first flag */
	if (!st->main_tgid && (ev->first || ev->from_outside)) {
		st->main_tgid = ev->hdr.tgid;
		st->first_exec_boot_ns = (int64_t)ev->hdr.ts_ns;
		return;
	}
	if (ev->from_outside && ev->hdr.tgid != st->main_tgid) {
		if (st->nexec_in < MAX_EXEC_IN)
			st->exec_in[st->nexec_in++] = ev->hdr.tgid;
		emit_exec(c, e, ev);
	}
}

static void remember_end(struct correlator *c, const struct cgroup_entry *e, const struct container_state *st,
			 const struct nt_exit_event *ev)
{
	struct container_end *end = &c->ends[c->ends_next];

	c->ends_next = (c->ends_next + 1) % MAX_ENDS;
	c->ends_total++;
	memset(end, 0, sizeof(*end));
	memcpy(end->pod_uid, e->ref.pod_uid, sizeof(end->pod_uid));
	memcpy(end->container_id, e->ref.container_id, sizeof(end->container_id));
	memcpy(end->comm, ev->comm, sizeof(end->comm));
	end->comm[NT_COMM_LEN - 1] = '\0';
	end->term_ns = st->term_boot_ns ? correlate_boot_to_realtime(st->term_boot_ns) : 0;
	end->kill_ns = st->kill_boot_ns ? correlate_boot_to_realtime(st->kill_boot_ns) : 0;
	memcpy(end->kill_comm, st->kill_comm, sizeof(end->kill_comm));
	end->kill_sender = st->kill_sender;
	end->exit_ns = correlate_boot_to_realtime((int64_t)ev->hdr.ts_ns);
	end->exit_code = ev->exit_code;
	end->oom = tgid_in(st->oom_victims, st->noom, ev->hdr.tgid);
}

static void on_proc_exit(struct correlator *c, const struct nt_exit_event *ev)
{
	const struct cgroup_entry *e;
	struct container_state *st;

	if (!lookup(c, ev->hdr.cgroup_id, &e, &st))
		return;
	if (!st->main_tgid || ev->hdr.tgid != st->main_tgid || st->exit_reported)
		return;
	st->exit_reported = true;
	remember_end(c, e, st, ev);
	emit_exited(c, e, st, ev);
}

static void on_signal(struct correlator *c, const struct nt_signal_event *ev)
{
	const struct cgroup_entry *e, *sender;
	struct container_state *st;
	struct signal_note *s;

	if (!lookup(c, ev->hdr.cgroup_id, &e, &st))
		return;
	sender = cgroup_map_get(c->cgroups, ev->sender_cgroup_id);
	if (!st->main_tgid || ev->hdr.tgid == st->main_tgid) {
		if (ev->sig == 15 && !st->term_boot_ns)
			st->term_boot_ns = (int64_t)ev->hdr.ts_ns;
		if (ev->sig == 9 && !st->kill_boot_ns) {
			st->kill_boot_ns = (int64_t)ev->hdr.ts_ns;
			memcpy(st->kill_comm, ev->sender_comm, sizeof(st->kill_comm));
			st->kill_comm[NT_COMM_LEN - 1] = '\0';
			st->kill_sender = ev->sender_kernel ? "kernel" :
					  sender && sender->container_cgroup_id == e->id ? "self" : "external";
		}
	}
	if (st->nsignals >= MAX_SIGNALS) {
		st->signals_dropped++;
		c->stats.signals_dropped++;
		return;
	}
	s = &st->signals[st->nsignals++];
	s->at_boot_ns = (int64_t)ev->hdr.ts_ns;
	s->sig = ev->sig;
	s->target_tgid = ev->hdr.tgid;
	s->sender_tgid = ev->sender_tgid;
	memcpy(s->sender_comm, ev->sender_comm, sizeof(s->sender_comm));
	s->sender_comm[NT_COMM_LEN - 1] = '\0';
	if (ev->sender_kernel)
		s->sender = "kernel";
	else if (sender && sender->container_cgroup_id == e->id)
		s->sender = "self";
	else
		s->sender = "external";
}

static void on_oom(struct correlator *c, const struct nt_oom_event *ev)
{
	const struct cgroup_entry *e;
	struct container_state *st;

	if (!lookup(c, ev->hdr.cgroup_id, &e, &st))
		return;
	if (st->noom < MAX_OOM_VICTIMS)
		st->oom_victims[st->noom++] = ev->hdr.tgid;
	{
		struct recent_oom *o = &c->ooms[c->ooms_next];

		c->ooms_next = (c->ooms_next + 1) % MAX_RECENT_OOMS;
		o->at_ns = correlate_boot_to_realtime((int64_t)ev->hdr.ts_ns);
		memcpy(o->pod_uid, e->ref.pod_uid, sizeof(o->pod_uid));
		memcpy(o->container_id, e->ref.container_id, sizeof(o->container_id));
		memcpy(o->comm, ev->comm, sizeof(o->comm));
		o->comm[NT_COMM_LEN - 1] = '\0';
		o->node_wide = ev->node_wide;
	}
	emit_oom(c, e, ev);
}

void correlator_kernel_event(struct correlator *c, const struct nt_event_hdr *hdr)
{
	switch (hdr->type) {
	case NT_EV_CGROUP_MKDIR: on_mkdir(c, (const struct nt_cgroup_event *)hdr); break;
	case NT_EV_CGROUP_RMDIR: on_rmdir(c, (const struct nt_cgroup_event *)hdr); break;
	case NT_EV_EXEC: on_proc_exec(c, (const struct nt_exec_event *)hdr); break;
	case NT_EV_EXIT: on_proc_exit(c, (const struct nt_exit_event *)hdr); break;
	case NT_EV_SIGNAL: on_signal(c, (const struct nt_signal_event *)hdr); break;
	case NT_EV_OOM: on_oom(c, (const struct nt_oom_event *)hdr); break;
	default: break;
	}
}

/* ---- startup scan ---- */

static void scan_cb(void *ctx, uint64_t id, uint64_t parent_id, const char *path, const struct cgroup_ref *ref,
		    bool has_procs)
{
	struct correlator *c = ctx;
	const struct cgroup_entry *e = track(c, id, parent_id, path, 0, has_procs);
	struct container_state *st;

	if (e && e->ref.kind == CGROUP_KIND_CONTAINER && (st = container_of_entry(c, e))) {
		st->preexisting = true;
		c->stats.preexisting++;
	}
}

/* fields 4 (ppid) of /proc/<pid>/stat, after the parenthesised comm */
static int read_ppid(int pid)
{
	char file[64], buf[1024], *p;
	int ppid = -1;
	FILE *f;

	snprintf(file, sizeof(file), "/proc/%d/stat", pid);
	f = fopen(file, "re");
	if (!f)
		return -1;
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		if (sscanf(p + 1, " %*c %d", &ppid) != 1)
			ppid = -1;
	fclose(f);
	return ppid;
}

#define MAX_SCAN_PIDS 1024

/* The processes of one cgroup, from its cgroup.procs: pids of the reader's
 * pid namespace (the host's: the DaemonSet runs with hostPID), and unlike
 * /proc/<pid>/cgroup, not rewritten by a private cgroup namespace. */
static int read_procs(const struct correlator *c, const struct cgroup_entry *e, int *pids, int max)
{
	char file[PATH_MAX + NT_CGROUP_PATH_LEN + 16];
	int n = 0, pid;
	FILE *f;

	snprintf(file, sizeof(file), "%s%s/cgroup.procs", c->opts.mode->dir, e->path);
	f = fopen(file, "re");
	if (!f)
		return 0;
	while (n < max && fscanf(f, "%d", &pid) == 1)
		pids[n++] = pid;
	fclose(f);
	return n;
}

static bool pid_in(const int *pids, int n, int pid)
{
	for (int i = 0; i < n; i++)
		if (pids[i] == pid)
			return true;
	return false;
}

/* A container's main process is the one whose parent is outside it (the
 * runtime's shim); processes exec'd in later look the same, but a running
 * container's oldest such process, the lowest pid, is its main one. */
static void scan_container(void *ctx, uint64_t key, void *value)
{
	struct correlator *c = ctx;
	struct container_state *st = value;
	const struct cgroup_entry *e = cgroup_map_get(c->cgroups, st->cgroup_id);
	int pids[MAX_SCAN_PIDS], n, main_pid = 0;

	if (!e || st->main_tgid)
		return;
	n = read_procs(c, e, pids, MAX_SCAN_PIDS);
	for (int i = 0; i < n; i++) {
		int ppid = read_ppid(pids[i]);

		if (ppid > 0 && pid_in(pids, n, ppid))
			continue;
		if (!main_pid || pids[i] < main_pid)
			main_pid = pids[i];
	}
	if (main_pid)
		st->main_tgid = (uint32_t)main_pid;
}

static void scan_procs(struct correlator *c)
{
	u64map_each(c->containers, scan_container, c);
}

int correlator_scan(struct correlator *c)
{
	int n = cgroup_scan(c->opts.mode, scan_cb, c);

	if (n < 0)
		return n;
	scan_procs(c);
	return n;
}

/* ---- a pod's termination, as the kernel saw it ---- */

static const char *verdict(const struct container_end *end, int64_t grace_s)
{
	struct exit_status es;

	if (end->unseen)
		return "ended_unseen";
	exit_status_decode(end->exit_code, &es);
	if (end->oom)
		return "oom_killed";
	if (es.exited || es.signal == 15)
		return end->term_ns ? "graceful" : "exited";
	if (es.signal == 9 && end->term_ns && end->kill_ns) {
		/* the kubelet sends SIGKILL when the grace period runs out */
		if (grace_s >= 0 && end->kill_ns - end->term_ns >= (grace_s * 1000 - 500) * 1000000LL)
			return "killed_after_grace";
		return "killed_before_grace";
	}
	return "killed";
}

cJSON *correlator_kernel_view(struct correlator *c, const struct kube_pod *pod, int64_t grace_s)
{
	cJSON *view = NULL, *list = NULL;
	int graceful = 0, killed = 0, unseen = 0;
	char when[32];

	for (uint32_t i = 0; i < MAX_ENDS; i++) {
		const struct container_end *end = &c->ends[i];
		const struct kube_terminated *t;
		const struct kube_container *k;
		struct exit_status es;
		const char *v;
		cJSON *o;

		if (!end->exit_ns || strcmp(end->pod_uid, pod->uid) != 0 || strcmp(end->comm, "pause") == 0)
			continue;
		if (!view) {
			view = cJSON_CreateObject();
			list = view ? cJSON_AddArrayToObject(view, "containers") : NULL;
			if (!list)
				break;
		}
		o = cJSON_CreateObject();
		if (!o)
			break;
		k = api_container(pod, end->container_id, &t);
		if (k)
			cJSON_AddStringToObject(o, "name", k->name);
		cJSON_AddStringToObject(o, "id", end->container_id);
		if (end->term_ns)
			cJSON_AddStringToObject(o, "sigterm_at", writer_format_time(end->term_ns, when));
		if (end->kill_ns) {
			cJSON_AddStringToObject(o, "sigkill_at", writer_format_time(end->kill_ns, when));
			cJSON_AddStringToObject(o, "sigkill_sender", end->kill_sender ? end->kill_sender : "external");
			cJSON_AddStringToObject(o, "sigkill_comm", end->kill_comm);
		}
		v = verdict(end, grace_s);
		if (end->unseen) {
			/* it ended while the agent was down: when and how are unknown */
			cJSON_AddStringToObject(o, "gone_by", writer_format_time(end->exit_ns, when));
		} else {
			cJSON_AddStringToObject(o, "exited_at", writer_format_time(end->exit_ns, when));
			exit_status_decode(end->exit_code, &es);
			if (es.exited)
				cJSON_AddNumberToObject(o, "exit_code", es.code);
			else
				cJSON_AddStringToObject(o, "signal", signal_name(es.signal));
			if (end->term_ns)
				cJSON_AddNumberToObject(o, "stop_s",
							(double)((end->exit_ns - end->term_ns) / 1000000) / 1000.0);
		}
		cJSON_AddStringToObject(o, "verdict", v);
		if (end->unseen)
			unseen++;
		else if (!strcmp(v, "graceful") || !strcmp(v, "exited"))
			graceful++;
		else
			killed++;
		cJSON_AddItemToArray(list, o);
	}
	if (view) {
		cJSON_AddNumberToObject(view, "graceful", graceful);
		cJSON_AddNumberToObject(view, "killed", killed);
		if (unseen)
			cJSON_AddNumberToObject(view, "ended_unseen", unseen);
	}
	return view;
}

/* ---- the drain report of a spot interruption ---- */

struct drain {
	struct correlator *c;
	cJSON *pods;              /* "by_pod": pod uid -> {name, namespace, containers: [...]} */
	int64_t notice_ns, deadline_ns;
	int graceful, killed, running, unseen;
};

static cJSON *drain_pod(struct drain *d, const char *uid)
{
	const struct kube_pod *pod = d->c->opts.api ? node_state_pod(d->c->opts.api, uid) : NULL;
	cJSON *p = cJSON_GetObjectItem(d->pods, uid);

	if (p)
		return cJSON_GetObjectItem(p, "containers");
	p = cJSON_AddObjectToObject(d->pods, uid);
	if (!p)
		return NULL;
	if (pod) {
		cJSON_AddStringToObject(p, "namespace", pod->ns);
		cJSON_AddStringToObject(p, "name", pod->name);
	}
	return cJSON_AddArrayToObject(p, "containers");
}

static void drain_running(void *ctx, uint64_t key, void *value)
{
	struct drain *d = ctx;
	struct container_state *st = value;
	const struct cgroup_entry *e = cgroup_map_get(d->c->cgroups, st->cgroup_id);
	cJSON *list, *o;
	char when[32];

	if (!e || st->exit_reported || !e->ref.pod_uid[0] || !st->main_tgid)
		return;
	list = drain_pod(d, e->ref.pod_uid);
	o = list ? cJSON_CreateObject() : NULL;
	if (!o)
		return;
	cJSON_AddStringToObject(o, "id", e->ref.container_id);
	if (st->term_boot_ns)
		cJSON_AddStringToObject(o, "sigterm_at",
					writer_format_time(correlate_boot_to_realtime(st->term_boot_ns), when));
	cJSON_AddStringToObject(o, "verdict", "still_running");
	cJSON_AddItemToArray(list, o);
	d->running++;
}

void correlator_drain_report(struct correlator *c, int64_t notice_ns, int64_t deadline_ns, const char *why,
			     bool final)
{
	struct drain d = { .c = c, .notice_ns = notice_ns, .deadline_ns = deadline_ns };
	char summary[512], when[32];
	size_t n;
	struct record r;
	cJSON *report;

	report = cJSON_CreateObject();
	d.pods = report ? cJSON_AddObjectToObject(report, "by_pod") : NULL;
	if (!d.pods) {
		cJSON_Delete(report);
		return;
	}
	for (uint32_t i = 0; i < MAX_ENDS; i++) {
		const struct container_end *end = &c->ends[i];
		struct exit_status es;
		const char *v;
		cJSON *list, *o;

		/* containers that ended since the notice (the sandbox is the pod's) */
		if (!end->exit_ns || end->exit_ns < notice_ns || !end->pod_uid[0] || !strcmp(end->comm, "pause"))
			continue;
		list = drain_pod(&d, end->pod_uid);
		o = list ? cJSON_CreateObject() : NULL;
		if (!o)
			continue;
		exit_status_decode(end->exit_code, &es);
		cJSON_AddStringToObject(o, "id", end->container_id);
		if (end->term_ns)
			cJSON_AddStringToObject(o, "sigterm_at", writer_format_time(end->term_ns, when));
		if (end->kill_ns)
			cJSON_AddStringToObject(o, "sigkill_at", writer_format_time(end->kill_ns, when));
		if (end->unseen) {
			/* it ended while the agent was down (restarted mid-drain) */
			cJSON_AddStringToObject(o, "gone_by", writer_format_time(end->exit_ns, when));
			cJSON_AddStringToObject(o, "verdict", "ended_unseen");
			cJSON_AddItemToArray(list, o);
			d.unseen++;
			continue;
		}
		cJSON_AddStringToObject(o, "exited_at", writer_format_time(end->exit_ns, when));
		if (es.exited)
			cJSON_AddNumberToObject(o, "exit_code", es.code);
		else
			cJSON_AddStringToObject(o, "signal", signal_name(es.signal));
		/* graceful: it stopped by itself (or on SIGTERM's default action) in time */
		if ((es.exited || es.signal == 15) && end->exit_ns <= deadline_ns) {
			v = "graceful";
			d.graceful++;
		} else {
			v = end->exit_ns > deadline_ns ? "after_deadline" : end->oom ? "oom_killed" : "killed";
			d.killed++;
		}
		cJSON_AddStringToObject(o, "verdict", v);
		cJSON_AddItemToArray(list, o);
	}
	u64map_each(c->containers, drain_running, &d);
	cJSON_AddStringToObject(report, "notice_at", writer_format_time(notice_ns, when));
	cJSON_AddStringToObject(report, "deadline", writer_format_time(deadline_ns, when));
	cJSON_AddStringToObject(report, "reported", why);
	cJSON_AddBoolToObject(report, "final", final);
	cJSON_AddNumberToObject(report, "pods", cJSON_GetArraySize(d.pods));
	cJSON_AddNumberToObject(report, "graceful", d.graceful);
	cJSON_AddNumberToObject(report, "killed", d.killed);
	cJSON_AddNumberToObject(report, "still_running", d.running);
	cJSON_AddNumberToObject(report, "ended_unseen", d.unseen);
	n = (size_t)snprintf(summary, sizeof(summary),
			     "spot interruption drain of node %s: %d pod%s, %d container%s stopped gracefully before the "
			     "deadline, %d killed, %d still running",
			     c->opts.node->node_name, cJSON_GetArraySize(d.pods), cJSON_GetArraySize(d.pods) == 1 ? "" : "s",
			     d.graceful, d.graceful == 1 ? "" : "s", d.killed, d.running);
	if (d.unseen && n < sizeof(summary))
		n += (size_t)snprintf(summary + n, sizeof(summary) - n, ", %d ended while the agent was down", d.unseen);
	if (n < sizeof(summary))
		snprintf(summary + n, sizeof(summary) - n, " (%s)", why);
	memset(&r, 0, sizeof(r));
	r.type = "node.drain_report";
	r.event_time_ns = clock_ns(CLOCK_REALTIME);
	r.node = c->opts.node;
	/* one final report per interruption; a report at an agent stop before
	 * the deadline is a snapshot of its own, the final one still follows */
	record_make_id(r.type, NULL, record_hash_str(c->opts.node->node_name), (uint64_t)notice_ns / 1000000000ULL,
		       final ? 0 : (uint64_t)r.event_time_ns, r.record_id);
	r.detail_key = "drain";
	r.detail = report;
	r.sources[0] = "kernel";
	if (c->opts.api)
		r.sources[1] = "api";
	r.summary = summary;
	c->opts.emit(c->opts.emit_ctx, &r);
	cJSON_Delete(report);
}

cJSON *correlator_memory_context(struct correlator *c)
{
	int64_t now = clock_ns(CLOCK_REALTIME), n = 0;
	cJSON *o, *list;
	char when[32];

	o = cJSON_CreateObject();
	list = o ? cJSON_AddArrayToObject(o, "recent_oom_kills") : NULL;
	if (!list) {
		cJSON_Delete(o);
		return NULL;
	}
	for (uint32_t i = 0; i < MAX_RECENT_OOMS; i++) {
		const struct recent_oom *r = &c->ooms[i];
		cJSON *k;

		if (!r->at_ns || now - r->at_ns > OOM_CONTEXT_NS || !(k = cJSON_CreateObject()))
			continue;
		cJSON_AddStringToObject(k, "at", writer_format_time(r->at_ns, when));
		if (r->pod_uid[0])
			cJSON_AddStringToObject(k, "pod_uid", r->pod_uid);
		cJSON_AddStringToObject(k, "container_id", r->container_id);
		cJSON_AddStringToObject(k, "comm", r->comm);
		cJSON_AddBoolToObject(k, "node_wide", r->node_wide);
		cJSON_AddItemToArray(list, k);
		n++;
	}
	cJSON_AddNumberToObject(o, "oom_kills_last_5m", (double)n);
	return o;
}

/* ---- checkpoint ---- */

static void add_hex(cJSON *o, const char *key, uint64_t v)
{
	char buf[20];

	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)v);
	cJSON_AddStringToObject(o, key, buf);
}

static uint64_t get_hex(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	return s ? strtoull(s, NULL, 16) : 0;
}

static int64_t get_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	/* times and ids only: 0 .. 2^62 ns (year 2116), so that sums with them cannot overflow */
	return json_int(v, 0, INT64_C(1) << 62, 0);
}

static void get_str(const cJSON *o, const char *key, char *buf, size_t len)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	snprintf(buf, len, "%s", s ? s : "");
}

#define GET_STR(o, key, dst) get_str((o), (key), (dst), sizeof(dst))

static const char *sender_kind(const char *s)
{
	if (s && !strcmp(s, "self"))
		return "self";
	if (s && !strcmp(s, "kernel"))
		return "kernel";
	return s && *s ? "external" : NULL;
}

struct save_ctx {
	const struct correlator *c;
	cJSON *list;
};

static void save_container(void *ctx, uint64_t key, void *value)
{
	struct save_ctx *sc = ctx;
	const struct container_state *st = value;
	const struct cgroup_entry *e = cgroup_map_get(sc->c->cgroups, st->cgroup_id);
	cJSON *o, *sigs, *ooms;

	if (!e || !e->ref.pod_uid[0] || !(o = cJSON_CreateObject()))
		return;
	cJSON_AddItemToArray(sc->list, o);
	add_hex(o, "cgroup_id", st->cgroup_id);
	cJSON_AddStringToObject(o, "pod_uid", e->ref.pod_uid);
	cJSON_AddStringToObject(o, "container_id", e->ref.container_id);
	cJSON_AddNumberToObject(o, "created", (double)st->created_boot_ns);
	cJSON_AddNumberToObject(o, "first_exec", (double)st->first_exec_boot_ns);
	cJSON_AddNumberToObject(o, "main_tgid", st->main_tgid);
	cJSON_AddBoolToObject(o, "preexisting", st->preexisting);
	cJSON_AddBoolToObject(o, "exit_reported", st->exit_reported);
	cJSON_AddNumberToObject(o, "term", (double)st->term_boot_ns);
	cJSON_AddNumberToObject(o, "kill", (double)st->kill_boot_ns);
	cJSON_AddStringToObject(o, "kill_comm", st->kill_comm);
	cJSON_AddStringToObject(o, "kill_sender", st->kill_sender ? st->kill_sender : "");
	cJSON_AddNumberToObject(o, "signals_dropped", st->signals_dropped);
	sigs = cJSON_AddArrayToObject(o, "signals");
	for (uint32_t i = 0; sigs && i < st->nsignals; i++) {
		const struct signal_note *s = &st->signals[i];
		cJSON *so = cJSON_CreateObject();

		if (!so)
			break;
		cJSON_AddNumberToObject(so, "at", (double)s->at_boot_ns);
		cJSON_AddNumberToObject(so, "sig", s->sig);
		cJSON_AddNumberToObject(so, "target", s->target_tgid);
		cJSON_AddNumberToObject(so, "sender_pid", s->sender_tgid);
		cJSON_AddStringToObject(so, "sender_comm", s->sender_comm);
		cJSON_AddStringToObject(so, "sender", s->sender ? s->sender : "");
		cJSON_AddItemToArray(sigs, so);
	}
	ooms = cJSON_AddArrayToObject(o, "oom_victims");
	for (uint32_t i = 0; ooms && i < st->noom; i++)
		cJSON_AddItemToArray(ooms, cJSON_CreateNumber(st->oom_victims[i]));
}

static void save_series(void *ctx, uint64_t key, void *value)
{
	struct save_ctx *sc = ctx;
	const struct exit_series *s = value;
	cJSON *o = cJSON_CreateObject(), *list;

	if (!o)
		return;
	cJSON_AddItemToArray(sc->list, o);
	add_hex(o, "key", key);
	add_hex(o, "last", s->last_cid);
	list = cJSON_AddArrayToObject(o, "exits");
	for (uint32_t i = 0; list && i < s->n; i++) {
		cJSON *x = cJSON_CreateObject();

		if (!x)
			break;
		add_hex(x, "cid", s->exits[i].cid);
		cJSON_AddNumberToObject(x, "finished", (double)s->exits[i].finished_ns);
		cJSON_AddNumberToObject(x, "exit_code", s->exits[i].exit_code);
		cJSON_AddStringToObject(x, "reason", s->exits[i].reason);
		cJSON_AddItemToArray(list, x);
	}
}

static cJSON *save_pending(const struct pending *p)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "type", p->type);
	cJSON_AddStringToObject(o, "record_id", p->record_id);
	cJSON_AddNumberToObject(o, "event_time", (double)p->event_time_ns);
	cJSON_AddStringToObject(o, "what", p->what);
	cJSON_AddStringToObject(o, "comm", p->comm);
	cJSON_AddBoolToObject(o, "is_exit", p->is_exit);
	cJSON_AddBoolToObject(o, "api_only", p->api_only);
	cJSON_AddStringToObject(o, "pod_uid", p->pod_uid);
	cJSON_AddStringToObject(o, "container_id", p->container_id);
	cJSON_AddStringToObject(o, "qos", p->qos);
	cJSON_AddStringToObject(o, "runtime", p->runtime);
	cJSON_AddStringToObject(o, "cgroup", p->cgroup);
	cJSON_AddStringToObject(o, "pod_name", p->pod_name);
	cJSON_AddStringToObject(o, "pod_ns", p->pod_ns);
	cJSON_AddStringToObject(o, "container_name", p->container_name);
	cJSON_AddStringToObject(o, "owner_kind", p->owner_kind);
	cJSON_AddStringToObject(o, "owner_name", p->owner_name);
	if (p->kernel)
		cJSON_AddItemToObject(o, "kernel", cJSON_Duplicate(p->kernel, true));
	if (p->api)
		cJSON_AddItemToObject(o, "api", cJSON_Duplicate(p->api, true));
	return o;
}

cJSON *correlator_checkpoint(const struct correlator *c)
{
	cJSON *doc = cJSON_CreateObject(), *list;
	struct save_ctx sc = { .c = c };
	int64_t now = clock_ns(CLOCK_REALTIME);

	if (!doc)
		return NULL;
	sc.list = cJSON_AddArrayToObject(doc, "containers");
	if (sc.list)
		u64map_each(c->containers, save_container, &sc);
	list = cJSON_AddArrayToObject(doc, "ends");
	for (uint32_t i = 0; list && i < MAX_ENDS; i++) {
		const struct container_end *end = &c->ends[(c->ends_next + i) % MAX_ENDS];
		cJSON *o;

		/* what a drain report or a pod's termination may still need */
		if (!end->exit_ns || now - end->exit_ns > 15 * 60 * 1000000000LL || !(o = cJSON_CreateObject()))
			continue;
		cJSON_AddStringToObject(o, "pod_uid", end->pod_uid);
		cJSON_AddStringToObject(o, "container_id", end->container_id);
		cJSON_AddStringToObject(o, "comm", end->comm);
		cJSON_AddNumberToObject(o, "term", (double)end->term_ns);
		cJSON_AddNumberToObject(o, "kill", (double)end->kill_ns);
		cJSON_AddNumberToObject(o, "exit", (double)end->exit_ns);
		cJSON_AddStringToObject(o, "kill_comm", end->kill_comm);
		cJSON_AddStringToObject(o, "kill_sender", end->kill_sender ? end->kill_sender : "");
		cJSON_AddNumberToObject(o, "exit_code", end->exit_code);
		cJSON_AddBoolToObject(o, "oom", end->oom);
		cJSON_AddBoolToObject(o, "unseen", end->unseen);
		cJSON_AddItemToArray(list, o);
	}
	list = cJSON_AddArrayToObject(doc, "pending");
	for (uint32_t i = 0; list && i < c->npending; i++) {
		cJSON *o = save_pending(c->pending[i]);

		if (o)
			cJSON_AddItemToArray(list, o);
	}
	sc.list = cJSON_AddArrayToObject(doc, "series");
	if (sc.list)
		u64map_each(c->series, save_series, &sc);
	return doc;
}

static void add_end(struct correlator *c, const struct container_end *src)
{
	struct container_end *end = &c->ends[c->ends_next];

	c->ends_next = (c->ends_next + 1) % MAX_ENDS;
	c->ends_total++;
	*end = *src;
}

/* a container of the checkpoint that ended while the agent was down: when
 * and how are unknown, what was seen before (SIGTERM, SIGKILL) is kept */
static void ended_unseen(struct correlator *c, const struct container_state *st, const char *pod_uid,
			 const char *container_id, int64_t now)
{
	struct container_end end;

	memset(&end, 0, sizeof(end));
	snprintf(end.pod_uid, sizeof(end.pod_uid), "%s", pod_uid);
	snprintf(end.container_id, sizeof(end.container_id), "%s", container_id);
	end.term_ns = st->term_boot_ns ? correlate_boot_to_realtime(st->term_boot_ns) : 0;
	end.kill_ns = st->kill_boot_ns ? correlate_boot_to_realtime(st->kill_boot_ns) : 0;
	memcpy(end.kill_comm, st->kill_comm, sizeof(end.kill_comm));
	end.kill_sender = st->kill_sender;
	end.exit_ns = now;
	end.unseen = true;
	add_end(c, &end);
	c->stats.ended_unseen++;
}

static void load_container(const cJSON *o, struct container_state *st)
{
	const cJSON *item;

	memset(st, 0, sizeof(*st));
	st->cgroup_id = get_hex(o, "cgroup_id");
	st->created_boot_ns = get_num(o, "created");
	st->first_exec_boot_ns = get_num(o, "first_exec");
	st->main_tgid = (uint32_t)get_num(o, "main_tgid");
	st->preexisting = cJSON_IsTrue(cJSON_GetObjectItem(o, "preexisting"));
	st->exit_reported = cJSON_IsTrue(cJSON_GetObjectItem(o, "exit_reported"));
	st->term_boot_ns = get_num(o, "term");
	st->kill_boot_ns = get_num(o, "kill");
	GET_STR(o, "kill_comm", st->kill_comm);
	st->kill_sender = sender_kind(cJSON_GetStringValue(cJSON_GetObjectItem(o, "kill_sender")));
	st->signals_dropped = (uint32_t)get_num(o, "signals_dropped");
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(o, "signals")) {
		struct signal_note *s;

		if (st->nsignals == MAX_SIGNALS)
			break;
		s = &st->signals[st->nsignals++];
		s->at_boot_ns = get_num(item, "at");
		s->sig = (uint32_t)get_num(item, "sig");
		s->target_tgid = (uint32_t)get_num(item, "target");
		s->sender_tgid = (uint32_t)get_num(item, "sender_pid");
		GET_STR(item, "sender_comm", s->sender_comm);
		s->sender = sender_kind(cJSON_GetStringValue(cJSON_GetObjectItem(item, "sender")));
		if (!s->sender)
			s->sender = "external";
	}
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(o, "oom_victims"))
		if (st->noom < MAX_OOM_VICTIMS && cJSON_IsNumber(item))
			st->oom_victims[st->noom++] = (uint32_t)json_int(item, 0, UINT32_MAX, 0);
}

static bool main_alive(const struct correlator *c, const struct cgroup_entry *e, int pid)
{
	int pids[MAX_SCAN_PIDS], n = read_procs(c, e, pids, MAX_SCAN_PIDS);

	return pid_in(pids, n, pid);
}

static void restore_container(struct correlator *c, const cJSON *o, int64_t now)
{
	struct container_state saved, *st;
	const struct cgroup_entry *e;
	char pod_uid[CGROUP_POD_UID_LEN + 1], container_id[CGROUP_CONTAINER_ID_LEN + 1];

	load_container(o, &saved);
	GET_STR(o, "pod_uid", pod_uid);
	GET_STR(o, "container_id", container_id);
	st = u64map_get(c->containers, saved.cgroup_id);
	if (!st) {
		/* its cgroup is gone */
		if (!saved.exit_reported)
			ended_unseen(c, &saved, pod_uid, container_id, now);
		return;
	}
	c->stats.restored_containers++;
	/* the scan knows what runs now; the checkpoint, what came before */
	if (!saved.main_tgid)
		saved.main_tgid = st->main_tgid;
	if (!saved.created_boot_ns)
		saved.created_boot_ns = st->created_boot_ns;
	saved.exit_reported = saved.exit_reported || st->exit_reported;
	*st = saved;
	if (!st->main_tgid || st->exit_reported || !c->opts.mode->dir[0])
		return;
	/* the cgroup stays until the runtime deletes it: is its main process still in it? */
	e = cgroup_map_get(c->cgroups, st->cgroup_id);
	if (!e || !main_alive(c, e, (int)st->main_tgid)) {
		ended_unseen(c, st, e ? e->ref.pod_uid : pod_uid, e ? e->ref.container_id : container_id, now);
		st->exit_reported = true;
	}
}

static void restore_pending(struct correlator *c, const cJSON *o)
{
	struct pending *p;
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(o, "record_id"));

	if (c->npending == MAX_PENDING || !id || strlen(id) != RECORD_ID_LEN || !(p = calloc(1, sizeof(*p))))
		return;
	GET_STR(o, "type", p->type);
	memcpy(p->record_id, id, RECORD_ID_LEN + 1);
	p->event_time_ns = get_num(o, "event_time");
	GET_STR(o, "what", p->what);
	GET_STR(o, "comm", p->comm);
	p->is_exit = cJSON_IsTrue(cJSON_GetObjectItem(o, "is_exit"));
	p->api_only = cJSON_IsTrue(cJSON_GetObjectItem(o, "api_only"));
	GET_STR(o, "pod_uid", p->pod_uid);
	GET_STR(o, "container_id", p->container_id);
	GET_STR(o, "qos", p->qos);
	GET_STR(o, "runtime", p->runtime);
	GET_STR(o, "cgroup", p->cgroup);
	GET_STR(o, "pod_name", p->pod_name);
	GET_STR(o, "pod_ns", p->pod_ns);
	GET_STR(o, "container_name", p->container_name);
	GET_STR(o, "owner_kind", p->owner_kind);
	GET_STR(o, "owner_name", p->owner_name);
	p->kernel = cJSON_Duplicate(cJSON_GetObjectItem(o, "kernel"), true);
	p->api = cJSON_Duplicate(cJSON_GetObjectItem(o, "api"), true);
	if (!p->type[0] || !cJSON_IsObject(p->kernel) || (p->api_only && !cJSON_IsObject(p->api))) {
		cJSON_Delete(p->kernel);
		cJSON_Delete(p->api);
		free(p);
		return;
	}
	if (p->is_exit && !p->api_only && p->container_id[0])
		record_ids_check_add(c->kernel_exits, p->container_id);
	/* a fresh window: the relist that follows a restart can still join it */
	p->deadline_ns = clock_ns(CLOCK_MONOTONIC) + (int64_t)c->opts.join_window_ms * 1000000LL;
	c->pending[c->npending++] = p;
	c->stats.restored_pending++;
}

static void restore_series(struct correlator *c, const cJSON *o)
{
	struct exit_series *s = calloc(1, sizeof(*s));
	const cJSON *x;
	void *old = NULL;

	if (!s)
		return;
	s->last_cid = get_hex(o, "last");
	cJSON_ArrayForEach(x, cJSON_GetObjectItem(o, "exits")) {
		if (s->n == MAX_SERIES)
			break;
		s->exits[s->n].cid = get_hex(x, "cid");
		s->exits[s->n].finished_ns = get_num(x, "finished");
		s->exits[s->n].exit_code = (int)get_num(x, "exit_code");
		GET_STR(x, "reason", s->exits[s->n].reason);
		s->n++;
	}
	if (u64map_put(c->series, get_hex(o, "key"), s, &old) < 0)
		free(s);
	free(old); /* the same key twice in a file: the last one stands */
}

void correlator_restore(struct correlator *c, const cJSON *doc, bool same_boot, int64_t written_ns)
{
	int64_t now = clock_ns(CLOCK_REALTIME);
	const cJSON *o;

	cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "pending"))
		restore_pending(c, o);
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "series"))
		restore_series(c, o);
	/* exits the API reports from here on, after what the checkpoint knew, are news */
	if (written_ns > 0 && written_ns < c->history_before_ns)
		c->history_before_ns = written_ns;
	if (!same_boot)
		return; /* boot-time stamps and cgroup ids of another boot mean nothing */
	c->restored = true;
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "ends")) {
		struct container_end end;

		memset(&end, 0, sizeof(end));
		GET_STR(o, "pod_uid", end.pod_uid);
		GET_STR(o, "container_id", end.container_id);
		GET_STR(o, "comm", end.comm);
		end.term_ns = get_num(o, "term");
		end.kill_ns = get_num(o, "kill");
		end.exit_ns = get_num(o, "exit");
		GET_STR(o, "kill_comm", end.kill_comm);
		end.kill_sender = sender_kind(cJSON_GetStringValue(cJSON_GetObjectItem(o, "kill_sender")));
		end.exit_code = (uint32_t)get_num(o, "exit_code");
		end.oom = cJSON_IsTrue(cJSON_GetObjectItem(o, "oom"));
		end.unseen = cJSON_IsTrue(cJSON_GetObjectItem(o, "unseen"));
		if (end.exit_ns)
			add_end(c, &end);
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(doc, "containers"))
		restore_container(c, o, now);
}

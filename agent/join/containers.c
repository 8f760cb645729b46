/* The container table, its ends and recent OOM kills, and their checkpoint. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/json.h"
#include "nodetrail/base/record.h"
#include "nodetrail/base/u64map.h"
#include "nodetrail/api/kube_objects.h"
#include "nodetrail/join/containers.h"

#define ENDS_KEPT_NS (15 * 60 * 1000000000LL) /* what a drain report or a pod's termination may still need */

struct containers {
	struct cgroup_map *cgroups;
	const struct cgroup_mode *mode;
	struct u64map *table;     /* container cgroup id -> struct container_state */
	struct container_end ends[CONTAINER_MAX_ENDS]; /* ring, oldest overwritten */
	uint32_t ends_next;
	struct recent_oom ooms[CONTAINER_MAX_RECENT_OOMS]; /* ring, oldest overwritten */
	uint32_t ooms_next;
	struct containers_stats stats;
	uint64_t *suspects;       /* cgroups the last reconcile found gone (sorted), forgotten if still so */
	uint32_t nsuspects;
};

const char *signal_result_name(int result)
{
	switch (result) {
	case SIGNAL_IGNORED: return "ignored";
	case SIGNAL_ALREADY_PENDING: return "already_pending";
	case SIGNAL_QUEUE_FULL: return "queue_full";
	default: return NULL;
	}
}

const char *signal_sender_name(enum signal_sender s)
{
	switch (s) {
	case SENDER_SELF: return "self";
	case SENDER_KERNEL: return "kernel";
	case SENDER_EXTERNAL: return "external";
	default: return "";
	}
}

int containers_new(uint32_t cap, struct cgroup_map *cgroups, const struct cgroup_mode *mode, struct containers **ret)
{
	struct containers *t = calloc(1, sizeof(*t));

	if (!t)
		return -ENOMEM;
	t->cgroups = cgroups;
	t->mode = mode;
	if (u64map_new(cap, &t->table) < 0) {
		free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

void containers_free(struct containers *t)
{
	if (!t)
		return;
	u64map_free(t->table, free);
	free(t->suspects);
	free(t);
}

/* ---- tracking ---- */

/* Track a cgroup; a container cgroup gets a state. NULL if not tracked. */
static const struct cgroup_entry *track(struct containers *t, uint64_t id, uint64_t parent_id, const char *path,
					int64_t created_boot_ns, bool exec_seen)
{
	const struct cgroup_entry *e;
	struct container_state *st;

	if (cgroup_map_track(t->cgroups, id, parent_id, path, created_boot_ns, exec_seen, &e) < 0)
		return NULL;
	if (e->ref.kind == CGROUP_KIND_CONTAINER && !u64map_get(t->table, id)) {
		st = calloc(1, sizeof(*st));
		if (!st)
			return e;
		st->cgroup_id = id;
		st->created_boot_ns = created_boot_ns;
		if (u64map_put(t->table, id, st, NULL) < 0)
			free(st);
	}
	return e;
}

void containers_mkdir(struct containers *t, const struct nt_cgroup_event *ev)
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
		/* below a container's descendant: keyed by the container */
		if (ref.kind == CGROUP_KIND_CONTAINER_CHILD)
			return;
	}
	track(t, ev->hdr.cgroup_id, ev->parent_id, path, (int64_t)ev->hdr.ts_ns, false);
}

void containers_rmdir(struct containers *t, const struct nt_cgroup_event *ev)
{
	free(u64map_take(t->table, ev->hdr.cgroup_id));
	cgroup_map_untrack(t->cgroups, ev->hdr.cgroup_id);
}

#define RECONCILE_MAX 4096

struct reconcile {
	int root;                 /* the hierarchy's root directory */
	uint32_t n, max;
	uint64_t gone[RECONCILE_MAX];
};

/* a tracked cgroup whose directory is not there, or is another one (a new inode) */
static void check_one(void *ctx, const struct cgroup_entry *e)
{
	struct reconcile *r = ctx;
	const char *rel = e->path[0] == '/' ? e->path + 1 : e->path;
	struct stat st;

	if (r->n >= r->max || !rel[0])
		return;
	if (fstatat(r->root, rel, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if ((uint64_t)st.st_ino == e->id || !S_ISDIR(st.st_mode))
			return; /* still there (a non-directory: not ours to judge) */
	} else if (errno != ENOENT && errno != ENOTDIR) {
		return; /* cannot tell: kept */
	}
	r->gone[r->n++] = e->id;
}

static int cmp_id(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* A cgroup is forgotten only when two passes in a row find it gone: its
 * directory goes before its cgroup_rmdir event is written (the kernel
 * removes the directory first), and an event the kernel wrote may still
 * wait behind one reserved but not yet committed; a pass later, both have
 * long been read, and what is still tracked was lost. */
uint32_t containers_reconcile(struct containers *t, uint32_t max)
{
	struct reconcile *r;
	uint32_t n = 0;

	if (!t->mode || !t->mode->dir[0] || !(r = calloc(1, sizeof(*r))))
		return 0;
	r->max = max < RECONCILE_MAX ? max : RECONCILE_MAX;
	r->root = open(t->mode->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->root < 0) {
		free(r);
		return 0;
	}
	cgroup_map_each(t->cgroups, check_one, r);
	close(r->root);
	for (uint32_t i = 0; i < r->n; i++) {
		if (!t->nsuspects || !bsearch(&r->gone[i], t->suspects, t->nsuspects, sizeof(uint64_t), cmp_id))
			continue;
		free(u64map_take(t->table, r->gone[i]));
		cgroup_map_untrack(t->cgroups, r->gone[i]);
		n++;
	}
	/* the suspects of the next pass: gone now, not forgotten yet */
	free(t->suspects);
	t->suspects = NULL;
	t->nsuspects = 0;
	if (r->n - n && (t->suspects = malloc(sizeof(uint64_t) * r->n))) {
		for (uint32_t i = 0; i < r->n; i++)
			if (cgroup_map_get(t->cgroups, r->gone[i]))
				t->suspects[t->nsuspects++] = r->gone[i];
		qsort(t->suspects, t->nsuspects, sizeof(uint64_t), cmp_id);
	}
	t->stats.reconciled += n;
	free(r);
	return n;
}

static void scan_cb(void *ctx, uint64_t id, uint64_t parent_id, const char *path, const struct cgroup_ref *ref,
		    bool has_procs)
{
	struct containers *t = ctx;
	const struct cgroup_entry *e;
	struct container_state *st;

	/* a container's descendants (Docker-in-Docker, systemd in a pod) are
	 * keyed by the container in the kernel: nothing to track, nothing
	 * that could fill the maps */
	if (ref->kind == CGROUP_KIND_CONTAINER_CHILD)
		return;
	e = track(t, id, parent_id, path, 0, has_procs);

	if (e && e->ref.kind == CGROUP_KIND_CONTAINER && (st = u64map_get(t->table, e->container_cgroup_id))) {
		st->preexisting = true;
		t->stats.preexisting++;
	}
}

static void scan_main(void *ctx, uint64_t key, void *value)
{
	struct containers *t = ctx;
	struct container_state *st = value;
	const struct cgroup_entry *e = cgroup_map_get(t->cgroups, st->cgroup_id);
	int pid;

	if (!e || st->main_tgid)
		return;
	pid = host_main_pid(t->mode, e->path);
	if (pid > 0) {
		st->main_tgid = (uint32_t)pid;
		cgroup_map_set_main(t->cgroups, st->cgroup_id, st->main_tgid);
	}
}

int containers_scan(struct containers *t)
{
	int n = cgroup_scan(t->mode, scan_cb, t);

	if (n < 0)
		return n;
	u64map_each(t->table, scan_main, t);
	return n;
}

bool containers_lookup(struct containers *t, uint64_t cgroup_id, const struct cgroup_entry **ret_e,
		       struct container_state **ret_st)
{
	const struct cgroup_entry *e = cgroup_map_get(t->cgroups, cgroup_id);
	struct container_state *st;

	if (!e) {
		t->stats.unknown_cgroup_events++;
		return false;
	}
	if (!cgroup_kind_is_container(e->ref.kind))
		return false;
	st = u64map_get(t->table, e->container_cgroup_id);
	if (!st)
		return false;
	/* records name the container, not the child cgroup the event came from */
	if (e->container_cgroup_id != e->id) {
		const struct cgroup_entry *ce = cgroup_map_get(t->cgroups, e->container_cgroup_id);

		if (ce)
			e = ce;
	}
	*ret_e = e;
	*ret_st = st;
	return true;
}

const struct cgroup_entry *containers_cgroup(const struct containers *t, uint64_t cgroup_id)
{
	return cgroup_map_get(t->cgroups, cgroup_id);
}

/* ---- kernel events ---- */

/* "<prefix><digits>" and nothing else */
static bool fd_path(const char *filename, const char *prefix)
{
	size_t n = strlen(prefix);

	return strncmp(filename, prefix, n) == 0 && filename[n] && strspn(filename + n, "0123456789") == strlen(filename + n);
}

/* The runtime re-executing itself inside the new cgroup (runc's init runs
 * from a sealed memfd copy: execveat gives "/dev/fd/N" or "/proc/self/fd/N";
 * older runc: "/proc/self/exe"): container setup, not the container's
 * command. runc moves its init into the cgroup before or after that
 * re-exec, whichever wins the race. Only these exact paths: a command
 * name or a path that merely starts alike (/proc/self/root/bin/sh, a
 * binary called runc-anything) is a command like any other. */
static bool runtime_exec(const struct nt_exec_event *ev)
{
	return !strcmp(ev->filename, "/proc/self/exe") || fd_path(ev->filename, "/dev/fd/") ||
	       fd_path(ev->filename, "/proc/self/fd/");
}

enum exec_kind containers_on_exec(struct containers *t, struct container_state *st, const struct nt_exec_event *ev)
{
	if (runtime_exec(ev))
		return EXEC_RUNTIME;
	/* the container's own command: the first exec, or the first from
	 * outside if the runtime's re-exec took the kernel's first flag */
	if (!st->main_tgid && (ev->first || ev->from_outside)) {
		st->main_tgid = ev->hdr.tgid;
		st->first_exec_boot_ns = (int64_t)ev->hdr.ts_ns;
		/* the kernel wrote it too, unless a racing update of the entry lost it */
		cgroup_map_set_main(t->cgroups, st->cgroup_id, st->main_tgid);
		return EXEC_MAIN;
	}
	if (ev->from_outside && ev->hdr.tgid != st->main_tgid) {
		if (st->nexec_in < CONTAINER_MAX_EXEC_IN)
			st->exec_in[st->nexec_in++] = ev->hdr.tgid;
		return EXEC_FROM_OUTSIDE;
	}
	return EXEC_OWN;
}

/* ---- exec probes and hooks ---- */

void containers_on_probe_exec(struct containers *t, struct container_state *st, const struct nt_exec_event *ev,
			      uint64_t hash, uint32_t len, uint8_t kinds, uint8_t liveness_threshold,
			      uint8_t startup_threshold)
{
	struct exec_probe *p = NULL;
	uint32_t i;

	for (i = 0; i < st->nprobes && !p; i++)
		if (st->probes[i].hash == hash && st->probes[i].len == len)
			p = &st->probes[i];
	if (!p) {
		if (st->nprobes == CONTAINER_MAX_PROBES)
			p = &st->probes[CONTAINER_MAX_PROBES - 1]; /* the spec changed: the last slot is reused */
		else
			p = &st->probes[st->nprobes++];
		memset(p, 0, sizeof(*p));
		p->hash = hash;
		p->len = len;
		p->last_exit = -1;
	}
	p->kinds = kinds;
	p->liveness_threshold = liveness_threshold;
	p->startup_threshold = startup_threshold;
	p->runs++;
	p->last_start_boot_ns = (int64_t)ev->hdr.ts_ns;
	if (kinds & KUBE_EXEC_PROBES)
		t->stats.probe_runs++;
	else
		t->stats.hook_runs++;
	if (st->nprobe_runs == CONTAINER_MAX_PROBE_RUNS) {
		t->stats.probe_runs_untracked++;
		return;
	}
	st->probe_runs[st->nprobe_runs].tgid = ev->hdr.tgid;
	st->probe_runs[st->nprobe_runs].probe = (uint32_t)(p - st->probes);
	st->nprobe_runs++;
}

/* a probe's or hook's process ended: a pass or a failure */
static bool probe_exit(struct containers *t, struct container_state *st, const struct nt_exit_event *ev)
{
	struct exit_status es;
	struct exec_probe *p;
	uint32_t i;

	for (i = 0; i < st->nprobe_runs && st->probe_runs[i].tgid != ev->hdr.tgid; i++)
		;
	if (i == st->nprobe_runs)
		return false;
	p = &st->probes[st->probe_runs[i].probe];
	st->probe_runs[i] = st->probe_runs[--st->nprobe_runs];
	exit_status_decode(ev->exit_code, &es);
	p->last_exit = es.exited ? es.code : 128 + es.signal;
	p->last_end_boot_ns = (int64_t)ev->hdr.ts_ns;
	if (p->last_exit == 0) {
		p->in_a_row = 0;
		return true;
	}
	p->failures++;
	p->in_a_row++;
	if (p->kinds & KUBE_EXEC_PROBES)
		t->stats.probe_failures++;
	return true;
}

const struct exec_probe *container_failing_probe(const struct container_state *st)
{
	for (uint32_t i = 0; i < st->nprobes; i++) {
		const struct exec_probe *p = &st->probes[i];

		if (((p->kinds & KUBE_EXEC_LIVENESS) && p->in_a_row >= p->liveness_threshold && p->liveness_threshold) ||
		    ((p->kinds & KUBE_EXEC_STARTUP) && p->in_a_row >= p->startup_threshold && p->startup_threshold))
			return p;
	}
	return NULL;
}

void exec_probe_name(uint8_t kinds, char *buf, size_t len)
{
	static const struct {
		uint8_t kind;
		const char *name;
	} names[] = { { KUBE_EXEC_LIVENESS, "liveness" }, { KUBE_EXEC_READINESS, "readiness" },
		      { KUBE_EXEC_STARTUP, "startup" },	  { KUBE_EXEC_POSTSTART, "postStart" },
		      { KUBE_EXEC_PRESTOP, "preStop" } };
	size_t n = 0;
	int shown = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]) && n < len; i++) {
		if (!(kinds & names[i].kind))
			continue;
		n += (size_t)snprintf(buf + n, len - n, "%s%s", shown++ ? " and " : "", names[i].name);
	}
	if (n < len)
		snprintf(buf + n, len - n, "%s", kinds & KUBE_EXEC_PROBES ? " probe" : " hook");
}

bool container_oom_victim(const struct container_state *st, uint32_t tgid)
{
	for (uint32_t i = 0; i < st->noom; i++)
		if (st->oom_victims[i] == tgid)
			return true;
	return false;
}

static void add_end(struct containers *t, const struct container_end *src)
{
	t->ends[t->ends_next] = *src;
	t->ends_next = (t->ends_next + 1) % CONTAINER_MAX_ENDS;
}

void containers_name_last_end(struct containers *t, const char *pod_ns, const char *pod_name)
{
	struct container_end *end = &t->ends[(t->ends_next + CONTAINER_MAX_ENDS - 1) % CONTAINER_MAX_ENDS];

	snprintf(end->pod_ns, sizeof(end->pod_ns), "%s", pod_ns);
	snprintf(end->pod_name, sizeof(end->pod_name), "%s", pod_name);
}

bool containers_on_exit(struct containers *t, const struct cgroup_entry *e, struct container_state *st,
			const struct nt_exit_event *ev)
{
	struct container_end end;

	if (probe_exit(t, st, ev) || !st->main_tgid || ev->hdr.tgid != st->main_tgid || st->exit_reported)
		return false;
	st->exit_reported = true;
	memset(&end, 0, sizeof(end));
	memcpy(end.pod_uid, e->ref.pod_uid, sizeof(end.pod_uid));
	memcpy(end.container_id, e->ref.container_id, sizeof(end.container_id));
	memcpy(end.comm, ev->comm, sizeof(end.comm));
	end.comm[NT_COMM_LEN - 1] = '\0';
	end.term_ns = st->term_boot_ns ? clock_boot_to_real(st->term_boot_ns) : 0;
	end.term_ignored = st->term_ignored;
	end.kill_ns = st->kill_boot_ns ? clock_boot_to_real(st->kill_boot_ns) : 0;
	memcpy(end.kill_comm, st->kill_comm, sizeof(end.kill_comm));
	end.kill_sender = st->kill_sender;
	end.exit_ns = clock_boot_to_real((int64_t)ev->hdr.ts_ns);
	end.exit_code = ev->exit_code;
	end.oom = container_oom_victim(st, ev->hdr.tgid);
	end.prestop_exit = -1;
	for (uint32_t i = 0; i < st->nprobes; i++) {
		const struct exec_probe *p = &st->probes[i];

		if (!(p->kinds & KUBE_EXEC_PRESTOP) || !p->last_start_boot_ns)
			continue;
		end.prestop_start_ns = clock_boot_to_real(p->last_start_boot_ns);
		if (p->last_end_boot_ns >= p->last_start_boot_ns) {
			end.prestop_end_ns = clock_boot_to_real(p->last_end_boot_ns);
			end.prestop_exit = p->last_exit;
		}
	}
	add_end(t, &end);
	return true;
}

void containers_on_signal(struct containers *t, const struct cgroup_entry *e, struct container_state *st,
			  const struct nt_signal_event *ev)
{
	const struct cgroup_entry *sender = cgroup_map_get(t->cgroups, ev->sender_cgroup_id);
	enum signal_sender who = ev->sender_kernel ? SENDER_KERNEL :
				 sender && sender->container_cgroup_id == e->id ? SENDER_SELF :
										  SENDER_EXTERNAL;
	struct signal_note *s;

	/* a signal already pending, or not queued, is not a new signal to the process */
	bool new_signal = ev->result != SIGNAL_ALREADY_PENDING && ev->result != SIGNAL_QUEUE_FULL;

	if (!new_signal)
		t->stats.signals_not_delivered++;
	if (new_signal && (!st->main_tgid || ev->hdr.tgid == st->main_tgid)) {
		if (ev->sig == 15 && !st->term_boot_ns) {
			st->term_boot_ns = (int64_t)ev->hdr.ts_ns;
			st->term_ignored = ev->result == SIGNAL_IGNORED;
		}
		if (ev->sig == 9 && !st->kill_boot_ns) {
			st->kill_boot_ns = (int64_t)ev->hdr.ts_ns;
			memcpy(st->kill_comm, ev->sender_comm, sizeof(st->kill_comm));
			st->kill_comm[NT_COMM_LEN - 1] = '\0';
			st->kill_sender = who;
		}
	}
	if (st->nsignals >= CONTAINER_MAX_SIGNALS) {
		st->signals_dropped++;
		t->stats.signals_dropped++;
		return;
	}
	s = &st->signals[st->nsignals++];
	s->at_boot_ns = (int64_t)ev->hdr.ts_ns;
	s->sig = ev->sig;
	s->target_tgid = ev->hdr.tgid;
	s->sender_tgid = ev->sender_tgid;
	memcpy(s->sender_comm, ev->sender_comm, sizeof(s->sender_comm));
	s->sender_comm[NT_COMM_LEN - 1] = '\0';
	s->sender = who;
	s->result = ev->result;
}

void containers_on_oom(struct containers *t, const struct cgroup_entry *e, struct container_state *st,
		       const struct nt_oom_event *ev)
{
	struct recent_oom *o = &t->ooms[t->ooms_next];

	if (st->noom < CONTAINER_MAX_OOM_VICTIMS)
		st->oom_victims[st->noom++] = ev->hdr.tgid;
	t->ooms_next = (t->ooms_next + 1) % CONTAINER_MAX_RECENT_OOMS;
	o->at_ns = clock_boot_to_real((int64_t)ev->hdr.ts_ns);
	memcpy(o->pod_uid, e->ref.pod_uid, sizeof(o->pod_uid));
	memcpy(o->container_id, e->ref.container_id, sizeof(o->container_id));
	memcpy(o->comm, ev->comm, sizeof(o->comm));
	o->comm[NT_COMM_LEN - 1] = '\0';
	o->node_wide = ev->node_wide;
}

/* ---- reading ---- */

struct each {
	const struct containers *t;
	void (*cb)(void *ctx, const struct container_state *st, const struct cgroup_entry *e);
	void *ctx;
};

static void each_one(void *ctx, uint64_t key, void *value)
{
	struct each *x = ctx;
	const struct container_state *st = value;

	x->cb(x->ctx, st, cgroup_map_get(x->t->cgroups, st->cgroup_id));
}

void containers_each(const struct containers *t,
		     void (*cb)(void *ctx, const struct container_state *st, const struct cgroup_entry *e), void *ctx)
{
	struct each x = { t, cb, ctx };

	u64map_each(t->table, each_one, &x);
}

const struct container_end *containers_end_at(const struct containers *t, uint32_t i)
{
	return &t->ends[i % CONTAINER_MAX_ENDS];
}

const struct recent_oom *containers_oom_at(const struct containers *t, uint32_t i)
{
	return &t->ooms[i % CONTAINER_MAX_RECENT_OOMS];
}

void containers_get_stats(const struct containers *t, struct containers_stats *ret)
{
	*ret = t->stats;
	ret->containers = u64map_count(t->table);
	ret->cgroups = cgroup_map_count(t->cgroups);
	ret->cgroups_dropped = cgroup_map_dropped(t->cgroups);
	ret->containers_dropped = u64map_dropped(t->table);
}

/* ---- checkpoint ---- */

static enum signal_sender sender_of(const char *s)
{
	if (s && !strcmp(s, "self"))
		return SENDER_SELF;
	if (s && !strcmp(s, "kernel"))
		return SENDER_KERNEL;
	return s && *s ? SENDER_EXTERNAL : SENDER_NONE;
}

/* the checkpoint leaves out what is zero, empty or false (the load's defaults): it is built every
 * 2 s under churn, and its transient memory counts against the agent's RSS */
static void save_num(cJSON *o, const char *key, int64_t v)
{
	if (v)
		cJSON_AddNumberToObject(o, key, (double)v);
}

static void save_str(cJSON *o, const char *key, const char *v)
{
	if (v && v[0])
		cJSON_AddStringToObject(o, key, v);
}

static void save_true(cJSON *o, const char *key, bool v)
{
	if (v)
		cJSON_AddBoolToObject(o, key, true);
}

/* the exec probes' counters and failures in a row: a restart of the agent
 * must not forget that a liveness probe has failed twice already */
static void save_probes(cJSON *o, const struct container_state *st)
{
	cJSON *list = st->nprobes ? cJSON_AddArrayToObject(o, "probes") : NULL;

	for (uint32_t i = 0; list && i < st->nprobes; i++) {
		const struct exec_probe *p = &st->probes[i];
		cJSON *po = cJSON_CreateObject();

		if (!po)
			return;
		cJSON_AddItemToArray(list, po);
		json_add_hex(po, "hash", p->hash);
		cJSON_AddNumberToObject(po, "len", p->len);
		cJSON_AddNumberToObject(po, "kinds", p->kinds);
		save_num(po, "liveness_threshold", p->liveness_threshold);
		save_num(po, "startup_threshold", p->startup_threshold);
		save_num(po, "runs", p->runs);
		save_num(po, "failures", p->failures);
		save_num(po, "in_a_row", p->in_a_row);
		cJSON_AddNumberToObject(po, "last_exit", p->last_exit);
		save_num(po, "last_start", p->last_start_boot_ns);
		save_num(po, "last_end", p->last_end_boot_ns);
	}
}

static void load_probes(const cJSON *o, struct container_state *st)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, cJSON_GetObjectItem(o, "probes")) {
		struct exec_probe *p;

		if (st->nprobes == CONTAINER_MAX_PROBES)
			break;
		p = &st->probes[st->nprobes++];
		p->hash = json_get_hex(item, "hash");
		p->len = (uint32_t)json_get_num(item, "len");
		p->kinds = (uint8_t)json_int(cJSON_GetObjectItem(item, "kinds"), 0, 255, 0);
		p->liveness_threshold = (uint8_t)json_int(cJSON_GetObjectItem(item, "liveness_threshold"), 0, 255, 0);
		p->startup_threshold = (uint8_t)json_int(cJSON_GetObjectItem(item, "startup_threshold"), 0, 255, 0);
		p->runs = (uint32_t)json_int(cJSON_GetObjectItem(item, "runs"), 0, UINT32_MAX, 0);
		p->failures = (uint32_t)json_int(cJSON_GetObjectItem(item, "failures"), 0, UINT32_MAX, 0);
		p->in_a_row = (uint32_t)json_int(cJSON_GetObjectItem(item, "in_a_row"), 0, UINT32_MAX, 0);
		p->last_exit = (int32_t)json_int(cJSON_GetObjectItem(item, "last_exit"), -1, 255, -1);
		p->last_start_boot_ns = json_get_num(item, "last_start");
		p->last_end_boot_ns = json_get_num(item, "last_end");
	}
}

static void save_container(void *ctx, const struct container_state *st, const struct cgroup_entry *e)
{
	cJSON *list = ctx, *o, *sigs, *ooms;

	if (!e || !e->ref.pod_uid[0] || !(o = cJSON_CreateObject()))
		return;
	cJSON_AddItemToArray(list, o);
	json_add_hex(o, "cgroup_id", st->cgroup_id);
	cJSON_AddStringToObject(o, "pod_uid", e->ref.pod_uid);
	cJSON_AddStringToObject(o, "container_id", e->ref.container_id);
	save_num(o, "created", st->created_boot_ns);
	save_num(o, "first_exec", st->first_exec_boot_ns);
	save_num(o, "main_tgid", st->main_tgid);
	save_true(o, "preexisting", st->preexisting);
	save_true(o, "exit_reported", st->exit_reported);
	save_num(o, "term", st->term_boot_ns);
	save_true(o, "term_ignored", st->term_ignored);
	save_num(o, "kill", st->kill_boot_ns);
	save_str(o, "kill_comm", st->kill_comm);
	if (st->kill_sender)
		cJSON_AddStringToObject(o, "kill_sender", signal_sender_name(st->kill_sender));
	save_num(o, "signals_dropped", st->signals_dropped);
	sigs = st->nsignals ? cJSON_AddArrayToObject(o, "signals") : NULL;
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
		cJSON_AddStringToObject(so, "sender", signal_sender_name(s->sender));
		if (s->result)
			cJSON_AddNumberToObject(so, "result", s->result);
		cJSON_AddItemToArray(sigs, so);
	}
	ooms = st->noom ? cJSON_AddArrayToObject(o, "oom_victims") : NULL;
	for (uint32_t i = 0; ooms && i < st->noom; i++)
		cJSON_AddItemToArray(ooms, cJSON_CreateNumber(st->oom_victims[i]));
	save_probes(o, st);
}

void containers_save(const struct containers *t, cJSON *parent)
{
	int64_t now = clock_ns(CLOCK_REALTIME);
	cJSON *list = cJSON_AddArrayToObject(parent, "containers");

	if (list)
		containers_each(t, save_container, list);
	list = cJSON_AddArrayToObject(parent, "ends");
	for (uint32_t i = 0; list && i < CONTAINER_MAX_ENDS; i++) {
		const struct container_end *end = &t->ends[(t->ends_next + i) % CONTAINER_MAX_ENDS];
		cJSON *o;

		if (!end->exit_ns || now - end->exit_ns > ENDS_KEPT_NS || !(o = cJSON_CreateObject()))
			continue;
		cJSON_AddStringToObject(o, "pod_uid", end->pod_uid);
		if (end->pod_name[0]) {
			cJSON_AddStringToObject(o, "pod_ns", end->pod_ns);
			cJSON_AddStringToObject(o, "pod_name", end->pod_name);
		}
		cJSON_AddStringToObject(o, "container_id", end->container_id);
		save_str(o, "comm", end->comm);
		save_num(o, "term", end->term_ns);
		save_true(o, "term_ignored", end->term_ignored);
		save_num(o, "kill", end->kill_ns);
		cJSON_AddNumberToObject(o, "exit", (double)end->exit_ns);
		save_str(o, "kill_comm", end->kill_comm);
		if (end->kill_sender)
			cJSON_AddStringToObject(o, "kill_sender", signal_sender_name(end->kill_sender));
		save_num(o, "exit_code", end->exit_code);
		save_true(o, "oom", end->oom);
		save_true(o, "unseen", end->unseen);
		cJSON_AddItemToArray(list, o);
	}
}

/* a container of the checkpoint that ended while the agent was down: when
 * and how are unknown, what was seen before (SIGTERM, SIGKILL) is kept */
static void ended_unseen(struct containers *t, const struct container_state *st, const char *pod_uid,
			 const char *container_id, int64_t now)
{
	struct container_end end;

	memset(&end, 0, sizeof(end));
	snprintf(end.pod_uid, sizeof(end.pod_uid), "%s", pod_uid);
	snprintf(end.container_id, sizeof(end.container_id), "%s", container_id);
	end.term_ns = st->term_boot_ns ? clock_boot_to_real(st->term_boot_ns) : 0;
	end.term_ignored = st->term_ignored;
	end.kill_ns = st->kill_boot_ns ? clock_boot_to_real(st->kill_boot_ns) : 0;
	memcpy(end.kill_comm, st->kill_comm, sizeof(end.kill_comm));
	end.kill_sender = st->kill_sender;
	end.exit_ns = now;
	end.unseen = true;
	add_end(t, &end);
	t->stats.ended_unseen++;
}

static void load_container(const cJSON *o, struct container_state *st)
{
	const cJSON *item;

	memset(st, 0, sizeof(*st));
	st->cgroup_id = json_get_hex(o, "cgroup_id");
	st->created_boot_ns = json_get_num(o, "created");
	st->first_exec_boot_ns = json_get_num(o, "first_exec");
	st->main_tgid = (uint32_t)json_get_num(o, "main_tgid");
	st->preexisting = cJSON_IsTrue(cJSON_GetObjectItem(o, "preexisting"));
	st->exit_reported = cJSON_IsTrue(cJSON_GetObjectItem(o, "exit_reported"));
	st->term_boot_ns = json_get_num(o, "term");
	st->term_ignored = cJSON_IsTrue(cJSON_GetObjectItem(o, "term_ignored"));
	st->kill_boot_ns = json_get_num(o, "kill");
	JSON_GET_STR(o, "kill_comm", st->kill_comm);
	st->kill_sender = sender_of(cJSON_GetStringValue(cJSON_GetObjectItem(o, "kill_sender")));
	st->signals_dropped = (uint32_t)json_get_num(o, "signals_dropped");
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(o, "signals")) {
		struct signal_note *s;

		if (st->nsignals == CONTAINER_MAX_SIGNALS)
			break;
		s = &st->signals[st->nsignals++];
		s->at_boot_ns = json_get_num(item, "at");
		s->sig = (uint32_t)json_get_num(item, "sig");
		s->target_tgid = (uint32_t)json_get_num(item, "target");
		s->sender_tgid = (uint32_t)json_get_num(item, "sender_pid");
		JSON_GET_STR(item, "sender_comm", s->sender_comm);
		s->sender = sender_of(cJSON_GetStringValue(cJSON_GetObjectItem(item, "sender")));
		s->result = (int32_t)json_int(cJSON_GetObjectItem(item, "result"), 0, 4, 0);
		if (s->sender == SENDER_NONE)
			s->sender = SENDER_EXTERNAL;
	}
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(o, "oom_victims"))
		if (st->noom < CONTAINER_MAX_OOM_VICTIMS && cJSON_IsNumber(item))
			st->oom_victims[st->noom++] = (uint32_t)json_int(item, 0, UINT32_MAX, 0);
	load_probes(o, st);
}

static void restore_container(struct containers *t, const cJSON *o, int64_t now)
{
	struct container_state saved, *st;
	const struct cgroup_entry *e;
	char pod_uid[CGROUP_POD_UID_LEN + 1], container_id[CGROUP_CONTAINER_ID_LEN + 1];

	load_container(o, &saved);
	JSON_GET_STR(o, "pod_uid", pod_uid);
	JSON_GET_STR(o, "container_id", container_id);
	st = u64map_get(t->table, saved.cgroup_id);
	if (!st) {
		/* its cgroup is gone */
		if (!saved.exit_reported)
			ended_unseen(t, &saved, pod_uid, container_id, now);
		return;
	}
	t->stats.restored++;
	/* the scan knows what runs now; the checkpoint, what came before */
	if (!saved.main_tgid)
		saved.main_tgid = st->main_tgid;
	if (!saved.created_boot_ns)
		saved.created_boot_ns = st->created_boot_ns;
	saved.exit_reported = saved.exit_reported || st->exit_reported;
	*st = saved;
	if (st->main_tgid && !st->exit_reported)
		cgroup_map_set_main(t->cgroups, st->cgroup_id, st->main_tgid);
	if (!st->main_tgid || st->exit_reported || !t->mode->dir[0])
		return;
	/* the cgroup stays until the runtime deletes it: is its main process still in it? */
	e = cgroup_map_get(t->cgroups, st->cgroup_id);
	if (!e || !host_pid_in_cgroup(t->mode, e->path, (int)st->main_tgid)) {
		ended_unseen(t, st, e ? e->ref.pod_uid : pod_uid, e ? e->ref.container_id : container_id, now);
		st->exit_reported = true;
	}
}

void containers_restore(struct containers *t, const cJSON *parent, int64_t now_ns)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, cJSON_GetObjectItem(parent, "ends")) {
		struct container_end end;

		memset(&end, 0, sizeof(end));
		JSON_GET_STR(o, "pod_uid", end.pod_uid);
		JSON_GET_STR(o, "pod_ns", end.pod_ns);
		JSON_GET_STR(o, "pod_name", end.pod_name);
		JSON_GET_STR(o, "container_id", end.container_id);
		JSON_GET_STR(o, "comm", end.comm);
		end.term_ns = json_get_num(o, "term");
		end.term_ignored = cJSON_IsTrue(cJSON_GetObjectItem(o, "term_ignored"));
		end.kill_ns = json_get_num(o, "kill");
		end.exit_ns = json_get_num(o, "exit");
		JSON_GET_STR(o, "kill_comm", end.kill_comm);
		end.kill_sender = sender_of(cJSON_GetStringValue(cJSON_GetObjectItem(o, "kill_sender")));
		end.exit_code = (uint32_t)json_get_num(o, "exit_code");
		end.oom = cJSON_IsTrue(cJSON_GetObjectItem(o, "oom"));
		end.unseen = cJSON_IsTrue(cJSON_GetObjectItem(o, "unseen"));
		if (end.exit_ns)
			add_end(t, &end);
	}
	cJSON_ArrayForEach(o, cJSON_GetObjectItem(parent, "containers"))
		restore_container(t, o, now_ns);
}

/* Container lifecycle probes.
 *
 * Every program exists twice: as tp_btf (preferred) and as raw_tp (fallback
 * for kernels that refuse a tp_btf attach). Both receive the tracepoint's
 * arguments as a u64 array and share one handler; the handlers read kernel
 * memory only through BPF_CORE_READ, which is valid in both program types.
 * User space switches one set off before load (probes.c).
 *
 * Filtering happens here: a task whose cgroup is not in nt_cgroups costs one
 * hash lookup and produces nothing. */
#include "nt_vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>
#include <bpf/bpf_core_read.h>
#include "core_fixes.bpf.h"
#include "nodetrail/kernel/events.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define E2BIG 7
#define SIGINT 2
#define SIGQUIT 3
#define SIGKILL 9
#define SIGTERM 15
#define SIGNAL_GROUP_EXIT 0x00000004
/* the kernel's SEND_SIG_PRIV siginfo pointer: a signal the kernel sends itself */
#define SEND_SIG_PRIV_PTR 1UL
/* page counters at or above this many pages mean "no limit" */
#define UNLIMITED_PAGES (1ULL << 40)

/* set by user space between open and load */
const volatile __u32 cgroup_v2 = 0;          /* 1: key on the default hierarchy */
const volatile __s32 target_hierarchy_id = 0; /* hierarchy whose mkdir/rmdir count */
const volatile __u32 mark_victim_has_task = 1; /* 0: mark_victim(int pid), < 6.8 */
const volatile __u32 capture_args = 0;       /* 1: argv of every reported exec (opt-in, redacted in user space) */
const volatile __u64 page_size = 4096;
const volatile __u64 wake_bytes = 32 * 1024; /* buffered bytes that wake the agent anyway */
const volatile __u32 ancestor_helper = 0;    /* 1: tracing may call bpf_get_current_ancestor_cgroup_id (5.14+) */

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16384);
	__type(key, __u64);
	__type(value, struct nt_cgroup_val);
} nt_cgroups SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 256 * 1024);
} nt_events SEC(".maps");

/* processes exec'd into a container from outside (a person's exec, the
 * kubelet's exec probes and hooks): their exits leave the kernel, the
 * exits of the container's own short-lived processes do not.
 * tgid -> the container's cgroup id; deleted at the exit. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, __u64);
} nt_outside SEC(".maps");

/* ring-buffer reservation failures, per CPU, indexed by enum nt_event_type;
 * NT_DROP_MAP_FULL counts cgroups the full nt_cgroups map could not take,
 * NT_DROP_OUTSIDE_FULL processes the full nt_outside map could not take */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} nt_drops SEC(".maps");

/* OOM snapshot taken when the kernel SIGKILLs a tracked task, for kernels
 * whose mark_victim tracepoint gives only the victim's pid */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 256);
	__type(key, __u32);
	__type(value, struct nt_oom_event);
} nt_oom_snap SEC(".maps");

static __always_inline void count_drop(__u32 type)
{
	__u64 *n = bpf_map_lookup_elem(&nt_drops, &type);

	if (n)
		*n += 1;
}

static __always_inline void *reserve(__u32 type, __u32 size)
{
	void *e = bpf_ringbuf_reserve(&nt_events, size, 0);

	if (!e)
		count_drop(type);
	return e;
}

static __always_inline void fill_hdr(struct nt_event_hdr *h, __u32 type, __u32 size,
				     __u64 cgroup_id, struct task_struct *task)
{
	h->type = type;
	h->size = size;
	h->ts_ns = bpf_ktime_get_boot_ns();
	h->cgroup_id = cgroup_id;
	h->pid = task ? BPF_CORE_READ(task, pid) : 0;
	h->tgid = task ? BPF_CORE_READ(task, tgid) : 0;
}

static __always_inline struct cgroup_subsys_state *task_memcg_css(struct task_struct *task)
{
	int id = memory_subsys_id();

	if (id < 0 || id >= 14)
		return 0;
	return BPF_CORE_READ(task, cgroups, subsys[id]);
}

/* The cgroup a task is in on the hierarchy events are keyed on: the
 * default hierarchy on cgroup v2, the memory controller's on v1 and hybrid
 * hosts (DESIGN 2). */
static __always_inline struct cgroup *task_cgroup(struct task_struct *task)
{
	struct cgroup_subsys_state *css;

	if (cgroup_v2)
		return BPF_CORE_READ(task, cgroups, dfl_cgrp);
	css = task_memcg_css(task);
	return css ? BPF_CORE_READ(css, cgroup) : 0;
}

/* A container's descendants (Docker-in-Docker, systemd in a pod, CRI-O's
 * "container" child) are not stored, so that they cannot fill the map: a
 * task in one is keyed by its nearest stored ancestor below the pod, found
 * walking up from its own cgroup (which missed). A host task at or above
 * the containers' level costs one read here. */
static __always_inline struct nt_cgroup_val *lookup_ancestor(struct cgroup *cgrp, __u64 *key)
{
	struct nt_cgroup_val *v;
	int level = BPF_CORE_READ(cgrp, level), i;
	__u64 id;

	for (i = 0; i < NT_MAX_DESCENT; i++) {
		if (level-- <= NT_CONTAINER_MIN_LEVEL)
			return 0;
		cgrp = BPF_CORE_READ(cgrp, self.parent, cgroup);
		if (!cgrp)
			return 0;
		id = BPF_CORE_READ(cgrp, kn, id);
		v = bpf_map_lookup_elem(&nt_cgroups, &id);
		if (v) {
			if (v->kind == NT_CG_ANCESTOR)
				return 0;
			*key = id;
			return v;
		}
	}
	return 0;
}

/* The same for the current task on cgroup v2, with the helpers that read
 * its cgroup and ancestors directly (the cheapest way there is): from the
 * containers' level down, pods and QoS classes (ANCESTOR) passed. Kernels
 * before 5.14 refuse the ancestor helper in tracing programs: the walk. */
static __always_inline struct nt_cgroup_val *lookup_current_v2(__u64 *key)
{
	struct nt_cgroup_val *v;
	__u64 id = bpf_get_current_cgroup_id(), anc;
	int i;

	*key = id;
	v = bpf_map_lookup_elem(&nt_cgroups, &id);
	if (v)
		return v;
	if (!ancestor_helper) {
		struct cgroup *cgrp = task_cgroup((struct task_struct *)bpf_get_current_task());

		return cgrp ? lookup_ancestor(cgrp, key) : 0;
	}
	for (i = 0; i < NT_MAX_DESCENT; i++) {
		anc = bpf_get_current_ancestor_cgroup_id(NT_CONTAINER_MIN_LEVEL + i);
		if (!anc || anc == id)
			return 0;
		v = bpf_map_lookup_elem(&nt_cgroups, &anc);
		if (v && v->kind != NT_CG_ANCESTOR) {
			*key = anc;
			return v;
		}
	}
	return 0;
}

/* The map entry a task's events are keyed on (*key: its cgroup id), or 0
 * when the task is in no tracked cgroup. current: task is the running task. */
static __always_inline struct nt_cgroup_val *task_entry(struct task_struct *task, int current, __u64 *key)
{
	struct nt_cgroup_val *v;
	struct cgroup *cgrp;

	*key = 0;
	if (cgroup_v2 && current)
		return lookup_current_v2(key);
	cgrp = task_cgroup(task);
	if (!cgrp)
		return 0;
	*key = BPF_CORE_READ(cgrp, kn, id);
	v = bpf_map_lookup_elem(&nt_cgroups, key);
	return v ? v : lookup_ancestor(cgrp, key);
}

/* A container (or a cgroup not classified yet) whose events count: its
 * entry, or 0 for untracked tasks and for kubepods, QoS and pod cgroups. */
static __always_inline struct nt_cgroup_val *tracked_task(struct task_struct *task, int current, __u64 *key)
{
	struct nt_cgroup_val *v = task_entry(task, current, key);

	if (!v || v->kind == NT_CG_ANCESTOR)
		return 0;
	return v;
}

/* Wake the agent for what makes a record now; let the rest wait for the
 * agent's next read (its backstop timer, or the next urgent event) unless
 * the buffered data passed wake_bytes. */
static __always_inline __u64 wake_flags(int urgent)
{
	if (urgent || bpf_ringbuf_query(&nt_events, BPF_RB_AVAIL_DATA) >= wake_bytes)
		return BPF_RB_FORCE_WAKEUP;
	return BPF_RB_NO_WAKEUP;
}

/* The runtime re-executing itself in the new cgroup (runc's init from a
 * sealed memfd copy: "/dev/fd/N" or "/proc/self/fd/N"; older runc:
 * "/proc/self/exe"): container setup, neither the container's command nor
 * an exec from outside. The same rule as user space's (containers.c). */
static __always_inline int fd_path(const char *s, const char *prefix, int n)
{
	int i, digits = 0;

	for (i = 0; i < n; i++)
		if (s[i] != prefix[i])
			return 0;
	for (i = n; i < 24; i++) {
		if (s[i] == 0)
			return digits > 0;
		if (s[i] < '0' || s[i] > '9')
			return 0;
		digits++;
	}
	return 0;
}

static __always_inline int runtime_exec(struct linux_binprm *bprm)
{
	char s[24] = {};

	if (bpf_probe_read_kernel_str(s, sizeof(s), BPF_CORE_READ(bprm, filename)) <= 0)
		return 0;
	return fd_path(s, "/dev/fd/", 8) || fd_path(s, "/proc/self/fd/", 14) ||
	       (s[0] == '/' && s[1] == 'p' && s[2] == 'r' && s[3] == 'o' && s[4] == 'c' && s[5] == '/' &&
		s[6] == 's' && s[7] == 'e' && s[8] == 'l' && s[9] == 'f' && s[10] == '/' && s[11] == 'e' &&
		s[12] == 'x' && s[13] == 'e' && s[14] == 0);
}

/* ---- cgroup created / removed ---- */

static __always_inline int on_cgroup_mkdir(struct cgroup *cgrp, const char *path)
{
	struct nt_cgroup_val *parent_val, val = {};
	struct nt_cgroup_event *e;
	__u64 id, parent_id;

	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != target_hierarchy_id)
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);
	parent_id = BPF_CORE_READ(cgrp, self.parent, cgroup, kn, id);
	parent_val = bpf_map_lookup_elem(&nt_cgroups, &parent_id);
	/* a container's descendant: its tasks are keyed by the container
	 * (task_entry), nothing to store or to tell */
	if (parent_val && parent_val->kind == NT_CG_CONTAINER)
		return 0;
	if (!parent_val) {
		struct cgroup *parent = BPF_CORE_READ(cgrp, self.parent, cgroup);
		__u64 key;

		parent_val = parent ? lookup_ancestor(parent, &key) : 0;
		if (parent_val && parent_val->kind == NT_CG_CONTAINER)
			return 0;
		parent_val = 0;
	}
	if (parent_val) {
		/* tracked before user space hears of it, so the container's
		 * first exec cannot race past the filter */
		val.kind = NT_CG_PENDING;
		if (bpf_map_update_elem(&nt_cgroups, &id, &val, BPF_NOEXIST) == -E2BIG)
			count_drop(NT_DROP_MAP_FULL);
	}
	e = reserve(NT_EV_CGROUP_MKDIR, sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, NT_EV_CGROUP_MKDIR, sizeof(*e), id, 0);
	e->parent_id = parent_id;
	e->level = BPF_CORE_READ(cgrp, level);
	e->parent_tracked = parent_val ? 1 : 0;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), path);
	bpf_ringbuf_submit(e, wake_flags(0));
	return 0;
}

static __always_inline int on_cgroup_rmdir(struct cgroup *cgrp, const char *path)
{
	struct nt_cgroup_event *e;
	__u64 id;

	if (BPF_CORE_READ(cgrp, root, hierarchy_id) != target_hierarchy_id)
		return 0;
	id = BPF_CORE_READ(cgrp, kn, id);
	if (bpf_map_delete_elem(&nt_cgroups, &id) != 0)
		return 0;
	e = reserve(NT_EV_CGROUP_RMDIR, sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, NT_EV_CGROUP_RMDIR, sizeof(*e), id, 0);
	e->parent_id = BPF_CORE_READ(cgrp, self.parent, cgroup, kn, id);
	e->level = BPF_CORE_READ(cgrp, level);
	e->parent_tracked = 0;
	bpf_probe_read_kernel_str(e->path, sizeof(e->path), path);
	bpf_ringbuf_submit(e, wake_flags(0));
	return 0;
}

/* ---- exec ---- */

static __always_inline int on_exec(struct task_struct *task, struct linux_binprm *bprm)
{
	struct task_struct *parent;
	struct nt_cgroup_val *v, *pv;
	struct nt_exec_event *e;
	__u64 cg, parent_cg = 0, cg_id;
	__u32 first, outside, tgid;

	v = tracked_task(task, 1, &cg);
	if (!v)
		return 0;
	parent = BPF_CORE_READ(task, real_parent);
	/* the fast path: a fork+exec of the container's own, with its main
	 * process known (a child shares its parent's css_set until it moves) */
	if (v->main_tgid && BPF_CORE_READ(task, cgroups) == BPF_CORE_READ(parent, cgroups))
		return 0;
	if (runtime_exec(bprm))
		return 0;
	pv = task_entry(parent, 0, &parent_cg);
	/* a parent in the container (or a sub-cgroup of it) is the container's
	 * own fork+exec; anything else came from outside: runc exec, kubectl exec */
	outside = !pv || pv->kind == NT_CG_ANCESTOR || parent_cg != cg;
	tgid = bpf_get_current_pid_tgid() >> 32;
	/* no compare-and-swap: 32-bit atomics need 5.12+ (EKS AL2 runs 5.10);
	 * two racing first execs both say first, user space keeps the earlier */
	first = !v->first_exec_seen;
	if (first) {
		v->first_exec_seen = 1;
		v->main_tgid = tgid;
	}
	if (!first && !outside)
		return 0;
	if (outside && !first && tgid != v->main_tgid) {
		int err;

		cg_id = cg;
		err = bpf_map_update_elem(&nt_outside, &tgid, &cg_id, BPF_NOEXIST);
		if (err == 0)
			__sync_fetch_and_add(&v->outside_live, 1);
		else if (err == -E2BIG)
			count_drop(NT_DROP_OUTSIDE_FULL);
	}
	e = reserve(NT_EV_EXEC, sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, NT_EV_EXEC, sizeof(*e), cg, task);
	e->ppid = BPF_CORE_READ(parent, tgid);
	e->first = first;
	e->parent_cgroup_id = parent_cg;
	e->from_outside = outside;
	e->uid = BPF_CORE_READ(task, cred, uid.val);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename));
	e->args_len = 0;
	e->args_total = 0;
	/* an exec from outside always: user space tells the pod's probes and hooks by their argv */
	if (capture_args || outside) {
		struct mm_struct *mm = BPF_CORE_READ(task, mm);
		unsigned long start = BPF_CORE_READ(mm, arg_start), end = BPF_CORE_READ(mm, arg_end);
		__u32 len = end > start ? (__u32)(end - start) : 0;

		e->args_total = len;
		if (len > NT_ARGS_LEN)
			len = NT_ARGS_LEN;
		/* the new image's argv, in the exec'ing task's own memory */
		if (len && bpf_probe_read_user(e->args, len & (NT_ARGS_LEN - 1) ? len & (NT_ARGS_LEN - 1) : NT_ARGS_LEN,
					       (const void *)start) == 0)
			e->args_len = len;
	}
	/* the container's start and a person's exec make records now */
	bpf_ringbuf_submit(e, wake_flags(1));
	return 0;
}

/* ---- process exit ---- */

static __always_inline int on_exit(struct task_struct *task)
{
	struct nt_cgroup_val *v;
	struct nt_exit_event *e;
	struct signal_struct *sig;
	__u32 code, tgid;
	int is_main;
	__u64 cg;

	v = tracked_task(task, 1, &cg);
	if (!v)
		return 0;
	/* what matters: the main process (or any, while it is unknown), and
	 * what was exec'd from outside; the container's own short-lived
	 * processes stay in the kernel, at the cost of one lookup */
	tgid = bpf_get_current_pid_tgid() >> 32;
	is_main = !v->main_tgid || v->main_tgid == tgid;
	if (!is_main && (!v->outside_live || !bpf_map_lookup_elem(&nt_outside, &tgid)))
		return 0;
	sig = BPF_CORE_READ(task, signal);
	/* the whole thread group is gone only when live reached zero; do_exit
	 * decrements it before this tracepoint fires */
	if (BPF_CORE_READ(sig, live.counter) != 0)
		return 0;
	if (!is_main && bpf_map_delete_elem(&nt_outside, &tgid) == 0)
		__sync_fetch_and_add(&v->outside_live, (__u32)-1);
	if (BPF_CORE_READ(sig, flags) & SIGNAL_GROUP_EXIT)
		code = BPF_CORE_READ(sig, group_exit_code);
	else
		code = BPF_CORE_READ(task, exit_code);
	e = reserve(NT_EV_EXIT, sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, NT_EV_EXIT, sizeof(*e), cg, task);
	e->exit_code = code;
	e->start_boot_ns = task_start_boottime(BPF_CORE_READ(task, group_leader));
	e->ppid = BPF_CORE_READ(task, real_parent, tgid);
	BPF_CORE_READ_STR_INTO(&e->comm, task, comm);
	/* a main process's exit makes a record; a probe's or a hook's can wait */
	bpf_ringbuf_submit(e, wake_flags(is_main));
	return 0;
}

/* ---- OOM ---- */

/* Walk from the victim's memory cgroup towards the root and find the first
 * level at its limit: that limit is what ran out. None at its limit means
 * the node itself ran out of memory. */
static __always_inline void oom_fill_memcg(struct nt_oom_event *e, struct task_struct *victim)
{
	struct cgroup_subsys_state *css = task_memcg_css(victim);
	__u64 usage, max, margin;
	int i;

	e->node_wide = 1;
	e->limit_level = 0;
	for (i = 0; i < NT_OOM_LEVELS; i++) {
		if (!css)
			break;
		usage = BPF_CORE_READ((struct mem_cgroup *)css, memory.usage.counter);
		max = BPF_CORE_READ((struct mem_cgroup *)css, memory.max);
		if (i == 0) {
			e->victim_usage_bytes = usage * page_size;
			e->victim_limit_bytes = max < UNLIMITED_PAGES ? max * page_size : 0;
		}
		if (max < UNLIMITED_PAGES) {
			/* a charge fails within one batch or one huge page of
			 * the limit: allow 2 MiB or 1/128 of the limit */
			margin = (2ULL << 20) / page_size;
			if (max / 128 > margin)
				margin = max / 128;
			if (usage + margin >= max) {
				e->usage_bytes = usage * page_size;
				e->limit_bytes = max * page_size;
				e->limit_level = i;
				e->node_wide = 0;
				return;
			}
		}
		css = BPF_CORE_READ(css, parent);
	}
}

static __always_inline void oom_fill(struct nt_oom_event *e, struct task_struct *victim,
				     __u64 cg)
{
	struct task_struct *cur = (struct task_struct *)bpf_get_current_task();

	fill_hdr(&e->hdr, NT_EV_OOM, sizeof(*e), cg, victim);
	oom_fill_memcg(e, victim);
	BPF_CORE_READ_STR_INTO(&e->comm, victim, comm);
	e->trigger_pid = BPF_CORE_READ(cur, tgid);
	BPF_CORE_READ_STR_INTO(&e->trigger_comm, cur, comm);
}

static __always_inline int on_mark_victim(__u64 arg0)
{
	struct nt_oom_event *e, *snap;
	struct task_struct *victim;
	__u32 pid;
	__u64 cg;

	if (mark_victim_has_task) {
		victim = (struct task_struct *)arg0;
		if (!tracked_task(victim, 0, &cg))
			return 0;
		e = reserve(NT_EV_OOM, sizeof(*e));
		if (!e)
			return 0;
		oom_fill(e, victim, cg);
		bpf_ringbuf_submit(e, wake_flags(1));
		return 0;
	}
	/* older kernels pass only the pid: use the snapshot the SIGKILL
	 * just before it took (oom_kill_process sends it first) */
	pid = (__u32)arg0;
	snap = bpf_map_lookup_elem(&nt_oom_snap, &pid);
	if (!snap)
		return 0;
	e = reserve(NT_EV_OOM, sizeof(*e));
	if (e) {
		__builtin_memcpy(e, snap, sizeof(*e));
		e->hdr.ts_ns = bpf_ktime_get_boot_ns();
		bpf_ringbuf_submit(e, wake_flags(1));
	}
	bpf_map_delete_elem(&nt_oom_snap, &pid);
	return 0;
}

/* ---- signals ---- */

static __always_inline int on_signal(int sig, struct kernel_siginfo *info,
				     struct task_struct *task, int result)
{
	struct task_struct *cur;
	struct nt_signal_event *e;
	struct nt_cgroup_val *v;
	__u64 cg, sender_cg = 0;
	__u32 tgid;

	if (sig != SIGTERM && sig != SIGKILL && sig != SIGINT && sig != SIGQUIT)
		return 0;
	v = tracked_task(task, 0, &cg);
	if (!v)
		return 0;
	cur = (struct task_struct *)bpf_get_current_task();
	tgid = BPF_CORE_READ(task, tgid);
	(void)task_entry(cur, 1, &sender_cg);
	/* SIGKILL always; the others only to the main process (or any while
	 * it is unknown) or from outside the container: a shell script's
	 * SIGTERMs to its own children stay in the kernel */
	if (sig != SIGKILL && v->main_tgid && v->main_tgid != tgid && sender_cg == cg)
		return 0;
	if (sig == SIGKILL && (unsigned long)info == SEND_SIG_PRIV_PTR && !mark_victim_has_task) {
		struct nt_oom_event snap = {};
		__u32 pid = BPF_CORE_READ(task, pid);

		oom_fill(&snap, task, cg);
		bpf_map_update_elem(&nt_oom_snap, &pid, &snap, BPF_ANY);
	}
	e = reserve(NT_EV_SIGNAL, sizeof(*e));
	if (!e)
		return 0;
	fill_hdr(&e->hdr, NT_EV_SIGNAL, sizeof(*e), cg, task);
	e->sig = sig;
	e->result = result;
	e->sender_pid = BPF_CORE_READ(cur, pid);
	e->sender_tgid = BPF_CORE_READ(cur, tgid);
	e->sender_cgroup_id = sender_cg;
	e->sender_kernel = (unsigned long)info == SEND_SIG_PRIV_PTR;
	e->si_code = (unsigned long)info > SEND_SIG_PRIV_PTR ? BPF_CORE_READ(info, si_code) : 0;
	BPF_CORE_READ_STR_INTO(&e->sender_comm, cur, comm);
	BPF_CORE_READ_STR_INTO(&e->target_comm, task, comm);
	/* a SIGKILL ends a process now; the others precede an exit that wakes */
	bpf_ringbuf_submit(e, wake_flags(sig == SIGKILL));
	return 0;
}

/* ---- attach points: tp_btf, and raw_tp as the fallback ---- */

#define NT_PROG_PAIR(tp, name, body, ...)                                       \
	SEC("tp_btf/" #tp) int BPF_PROG(name##_btf, ##__VA_ARGS__) { return body; } \
	SEC("raw_tp/" #tp) int BPF_PROG(name##_raw, ##__VA_ARGS__) { return body; }

NT_PROG_PAIR(cgroup_mkdir, nt_cgroup_mkdir, on_cgroup_mkdir(cgrp, path),
	     struct cgroup *cgrp, const char *path)
NT_PROG_PAIR(cgroup_rmdir, nt_cgroup_rmdir, on_cgroup_rmdir(cgrp, path),
	     struct cgroup *cgrp, const char *path)
NT_PROG_PAIR(sched_process_exec, nt_exec, on_exec(p, bprm),
	     struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
NT_PROG_PAIR(sched_process_exit, nt_exit, on_exit(p), struct task_struct *p)
NT_PROG_PAIR(signal_generate, nt_signal, on_signal(sig, info, task, result),
	     int sig, struct kernel_siginfo *info, struct task_struct *task, int group, int result)
NT_PROG_PAIR(mark_victim, nt_mark_victim, on_mark_victim(arg0), __u64 arg0)

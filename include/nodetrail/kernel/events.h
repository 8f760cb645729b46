/* Kernel <-> user ABI of the lifecycle probes.
 *
 * Shared by bpf/lifecycle.bpf.c and the agent. Fixed-width types and fixed
 * arrays only: both compilers must lay these out identically. User space
 * checks hdr.size against the ring-buffer sample size before it copies. */
#ifndef NODETRAIL_KERNEL_EVENTS_H
#define NODETRAIL_KERNEL_EVENTS_H

#ifdef __bpf__
/* the BPF side gets __u8..__u64 from its kernel types header */
#else
#include <linux/types.h>
#endif

#define NT_COMM_LEN 16
#define NT_CGROUP_PATH_LEN 256
#define NT_FILENAME_LEN 128
#define NT_ARGS_LEN 256           /* argv bytes kept (NUL-separated): execs from outside, all with --exec-args on */
/* how many memory cgroup levels the OOM probe walks up looking for the
 * limit that was hit (container, pod, QoS class, kubepods) */
#define NT_OOM_LEVELS 6

enum nt_event_type {
	NT_EV_CGROUP_MKDIR = 1,
	NT_EV_CGROUP_RMDIR = 2,
	NT_EV_EXEC = 3,
	NT_EV_EXIT = 4,
	NT_EV_SIGNAL = 5,
	NT_EV_OOM = 6,
};

/* indexes into the nt_drops counters beside the event types */
#define NT_DROP_OUTSIDE_FULL 0 /* processes exec'd from outside the nt_outside map refused */
#define NT_DROP_MAP_FULL 7     /* cgroups the full nt_cgroups map refused */

/* Containers sit at this cgroup level or deeper: the kubepods root is at
 * level 1 or below, a pod one level under it (Guaranteed) or two (QoS
 * class), and the container under its pod. A task whose own cgroup is not
 * in nt_cgroups is keyed by its ancestor at the container's level, looked
 * for from here down, at most NT_MAX_DESCENT levels below its container. */
#define NT_CONTAINER_MIN_LEVEL 3
#define NT_MAX_DESCENT 8

/* what the tracked-cgroup map says a cgroup is (value of nt_cgroups) */
enum nt_cgroup_kind {
	NT_CG_PENDING = 0,   /* created under a tracked parent, not yet classified */
	NT_CG_ANCESTOR = 1,  /* kubepods root, QoS class or pod cgroup: no events */
	NT_CG_CONTAINER = 2, /* a container (or sandbox) cgroup, or below one */
};

struct nt_cgroup_val {
	__u32 kind;          /* enum nt_cgroup_kind */
	__u32 first_exec_seen; /* set by the exec probe on the first exec */
	/* the container's main process: written once, by the kernel at the
	 * first exec that is not the runtime's own, or by user space for a
	 * container found running. 0: unknown, every exit leaves the kernel. */
	__u32 main_tgid;
	/* processes exec'd from outside alive in the container (in nt_outside),
	 * kept by the kernel: 0, and a non-main exit needs no lookup at all */
	__u32 outside_live;
};

struct nt_event_hdr {
	__u32 type;          /* enum nt_event_type */
	__u32 size;          /* bytes of the whole event, header included */
	__u64 ts_ns;         /* bpf_ktime_get_boot_ns() */
	__u64 cgroup_id;     /* cgroup the event is about (see DESIGN 2) */
	__u32 pid;           /* thread id of the task the event is about */
	__u32 tgid;          /* process id of the task the event is about */
};

struct nt_cgroup_event {
	struct nt_event_hdr hdr;
	__u64 parent_id;     /* cgroup id of the parent */
	__u32 level;         /* depth below the hierarchy root */
	__u32 parent_tracked; /* 1 if the parent was in nt_cgroups */
	char path[NT_CGROUP_PATH_LEN]; /* path below the hierarchy root */
};

struct nt_exec_event {
	struct nt_event_hdr hdr;
	__u32 ppid;          /* tgid of the real parent */
	__u32 first;         /* 1: first exec in this container cgroup */
	__u64 parent_cgroup_id; /* cgroup of the real parent */
	__u32 from_outside;  /* 1: parent is not in the container's cgroup */
	__u32 uid;
	char comm[NT_COMM_LEN];
	char filename[NT_FILENAME_LEN];
	__u32 args_len;      /* bytes of args captured (from outside always: probes are told by argv) */
	__u32 args_total;    /* the whole argv's bytes, beyond what args holds */
	char args[NT_ARGS_LEN];
};

struct nt_exit_event {
	struct nt_event_hdr hdr;
	__u64 start_boot_ns; /* process start, boot-time clock */
	__u32 exit_code;     /* raw wait status: code << 8 | core 0x80 | signal */
	__u32 ppid;
	char comm[NT_COMM_LEN];
};

struct nt_signal_event {
	struct nt_event_hdr hdr; /* pid/tgid/cgroup: the target */
	__u32 sig;
	__s32 result;        /* TRACE_SIGNAL_* of the kernel: 0 delivered */
	__u32 sender_pid;
	__u32 sender_tgid;
	__u64 sender_cgroup_id;
	__u32 sender_kernel; /* 1: sent by the kernel itself (SEND_SIG_PRIV) */
	__u32 si_code;
	char sender_comm[NT_COMM_LEN];
	char target_comm[NT_COMM_LEN];
};

struct nt_oom_event {
	struct nt_event_hdr hdr; /* pid/tgid/cgroup: the victim */
	__u64 usage_bytes;   /* memory usage of the cgroup whose limit was hit */
	__u64 limit_bytes;   /* its limit; 0 when no level was at its limit */
	__u64 victim_usage_bytes; /* usage of the victim's own memory cgroup */
	__u64 victim_limit_bytes;
	__u32 limit_level;   /* levels above the victim's memcg: 0 container, 1 pod... */
	__u32 node_wide;     /* 1: no memory cgroup on the path was at its limit */
	__u32 trigger_pid;   /* task whose allocation ran into the OOM */
	__u32 pad;
	char comm[NT_COMM_LEN];
	char trigger_comm[NT_COMM_LEN];
};

#endif

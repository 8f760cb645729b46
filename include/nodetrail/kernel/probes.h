/* Kernel probes: load and attach bpf/lifecycle.bpf.c, hand its ring-buffer
 * events to a callback, and keep the in-kernel cgroup filter map. */
#ifndef NODETRAIL_KERNEL_PROBES_H
#define NODETRAIL_KERNEL_PROBES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodetrail/kernel/events.h"

struct probes_options {
	bool cgroup_v2;           /* key on the default hierarchy (else the memory controller's) */
	int hierarchy_id;         /* hierarchy whose cgroup mkdir/rmdir are reported */
	uint32_t ringbuf_bytes;   /* ring buffer size, power of two */
	uint32_t cgroup_map_max;  /* entries of the tracked-cgroup map */
	bool capture_args;        /* argv of the execs reported (opt-in: --exec-args on) */
	bool try_tp_btf;          /* attach tp_btf programs first */
	bool try_raw_tp;          /* fall back to (or use only) raw tracepoints */
};

/* One event, already size-checked and copied to aligned memory. */
typedef void (*probes_event_cb)(void *ctx, const struct nt_event_hdr *hdr);

struct probes;

/* Open, configure, load and attach. On failure returns -errno and writes a
 * one-line reason with the fix into errbuf. */
int probes_new(const struct probes_options *opts, probes_event_cb cb, void *ctx, struct probes **ret,
	       char *errbuf, size_t errlen);
void probes_free(struct probes *p);

/* The ring buffer's epoll fd, for the loop. */
int probes_fd(const struct probes *p);
/* Consume every pending event. woken: the kernel woke the reader (the
 * epoll fd was ready), else the backstop timer or a final read: events
 * the kernel let wait (PROBES_BACKSTOP_MS at most). Returns events
 * handled or -errno. */
int probes_consume(struct probes *p, bool woken);
/* how long an event the kernel does not wake the agent for (a cgroup made
 * or removed, a probe's exit) waits at most to be read */
#define PROBES_BACKSTOP_MS 1000
/* wake-ups by the kernel, and reads the backstop timer found events for */
void probes_reads(const struct probes *p, uint64_t *ret_woken, uint64_t *ret_timer);

/* Put a cgroup into the in-kernel filter as `kind`. exec_seen 1 marks its
 * first exec as already past (a running container found at startup), 0
 * keeps the kernel's flag. -E2BIG when the map is full. */
int probes_track(struct probes *p, uint64_t cgroup_id, enum nt_cgroup_kind kind, bool exec_seen);
int probes_untrack(struct probes *p, uint64_t cgroup_id);
/* Tell the kernel a container's main process (found running at startup,
 * or restored): its exit leaves the kernel, its siblings' do not. The
 * kernel writes it itself at the first exec; this only fills it in where
 * it is missing or differs. 0, -ENOENT (not in the map) or -errno. */
int probes_set_main(struct probes *p, uint64_t cgroup_id, uint32_t tgid);

/* Ring-buffer reservation failures summed over CPUs, per event type
 * (index enum nt_event_type, 8 entries; [NT_DROP_MAP_FULL] and
 * [NT_DROP_OUTSIDE_FULL]: the kernel maps' refusals). */
int probes_drops(const struct probes *p, uint64_t ret_per_type[8]);
/* Events whose size did not match their header, rejected by user space. */
uint64_t probes_malformed(const struct probes *p);
/* Samples read from the ring buffer and handed on, per event type (index
 * enum nt_event_type, 8 entries): with probes_drops, what the kernel produced. */
void probes_received(const struct probes *p, uint64_t ret_per_type[8]);

/* the name of an event type in logs, records and metrics ("exec", "oom"...) */
const char *probes_event_name(uint32_t type);

/* "tp_btf" or "raw_tp" */
const char *probes_attach_mode(const struct probes *p);

/* Preflight: can this process use eBPF at all? 0, or -errno with a reason. */
int probes_check_support(char *errbuf, size_t errlen);

/* the libbpf the agent runs with ("libbpf 1.1") */
const char *probes_library_version(void);

#endif

/* Correlator: turns kernel events (and, later, API and IMDS facts) into
 * records. For now it joins the kernel events of one container: its cgroup,
 * first exec, signals received, OOM kills and its main process's exit. */
#ifndef NODETRAIL_CORRELATE_H
#define NODETRAIL_CORRELATE_H

#include <stdint.h>

#include "nodetrail/cgroup_map.h"
#include "nodetrail/events.h"
#include "nodetrail/record.h"

struct probes;

struct correlate_options {
	const struct record_node *node;
	const char *boot_id;          /* /proc/sys/kernel/random/boot_id */
	const struct cgroup_mode *mode;
	struct probes *probes;        /* NULL when running without eBPF */
	uint32_t max_cgroups;         /* cap of tracked cgroups and containers */
	record_emit_cb emit;
	void *emit_ctx;
};

struct correlate_stats {
	uint64_t containers;          /* containers tracked now */
	uint64_t preexisting;         /* containers found by the startup scan */
	uint64_t cgroups_dropped;     /* cgroups not tracked: map full */
	uint64_t containers_dropped;  /* container states not kept: table full */
	uint64_t unknown_cgroup_events; /* events for cgroups the map did not know */
	uint64_t signals_dropped;     /* signals beyond the per-container list */
};

struct correlator;

struct correlator *correlator_new(const struct correlate_options *opts);
void correlator_free(struct correlator *c);

/* Startup: scan the cgroup tree and /proc, track what exists already. */
int correlator_scan(struct correlator *c);

/* One kernel event from the ring buffer. */
void correlator_kernel_event(struct correlator *c, const struct nt_event_hdr *hdr);

void correlator_get_stats(const struct correlator *c, struct correlate_stats *ret);

/* boot-time ns (bpf_ktime_get_boot_ns) to CLOCK_REALTIME ns */
int64_t correlate_boot_to_realtime(int64_t boot_ns);

#endif

/* The probes' calls the fuzzed stages make, without a kernel: the cgroup
 * map keeps the in-kernel filter in step through these. */
#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/kernel/probes.h"

int probes_track(struct probes *p, uint64_t id, enum nt_cgroup_kind kind, bool exec_seen)
{
	(void)p, (void)id, (void)kind, (void)exec_seen;
	return 0;
}

int probes_untrack(struct probes *p, uint64_t id)
{
	(void)p, (void)id;
	return 0;
}

int probes_set_main(struct probes *p, uint64_t id, uint32_t tgid)
{
	(void)p, (void)id, (void)tgid;
	return 0;
}

/* Kernel differences the probes meet, in one place.
 *
 * Each difference is handled by probing the running kernel (CO-RE field or
 * enum existence, or a read-only flag set by user space from the kernel's
 * BTF), never by comparing kernel versions. */
#ifndef NT_CORE_FIXES_BPF_H
#define NT_CORE_FIXES_BPF_H

#include "nt_vmlinux.h"
#include <bpf/bpf_core_read.h>

/* task_struct::start_boottime was real_start_time before 5.5 (commit
 * cf25e24db61c); the agent needs >= 5.8, so only a missing field matters. */
struct task_struct___old {
	u64 real_start_time;
} __attribute__((preserve_access_index));

static __always_inline u64 task_start_boottime(struct task_struct *task)
{
	if (bpf_core_field_exists(task->start_boottime))
		return BPF_CORE_READ(task, start_boottime);
	return BPF_CORE_READ((struct task_struct___old *)task, real_start_time);
}

/* The memory controller's index in css_set::subsys depends on which
 * controllers the kernel was built with: relocate the enum value. Returns
 * -1 when the kernel has no memory controller. */
static __always_inline int memory_subsys_id(void)
{
	if (!bpf_core_enum_value_exists(enum cgroup_subsys_id, memory_cgrp_id))
		return -1;
	return bpf_core_enum_value(enum cgroup_subsys_id, memory_cgrp_id);
}

#endif

/* libFuzzer target: kernel events whose strings are whatever a process
 * makes them (its command name, its executable's path, its argv, a signal
 * sender's name) go through the correlator, and every record it writes is
 * strict UTF-8 and JSON, as CloudWatch's parser and strict readers need. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/join/correlate.h"
#include "strict.h"

#define POD_UID "0c2b6c3e-1a8e-4a2b-9d1e-6b0c5a7f3e21"
#define CTR_ID "4f1e3a9d2c8b7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f"

static struct record_node node = { .node_name = "fuzz-node" };
static struct cgroup_mode mode = { .name = "v1" };

/* the next len bytes of the input (as many as are left) into dst, NUL-terminated */
static void take(const uint8_t **data, size_t *size, char *dst, size_t cap, size_t len)
{
	if (len > *size)
		len = *size;
	if (len > cap - 1)
		len = cap - 1;
	memcpy(dst, *data, len);
	dst[len] = '\0';
	*data += len;
	*size -= len;
}

static void mkdir_ev(struct correlator *c, uint64_t id, uint64_t parent, const char *path)
{
	struct nt_cgroup_event ev = { 0 };

	ev.hdr.type = NT_EV_CGROUP_MKDIR;
	ev.hdr.size = sizeof(ev);
	ev.hdr.cgroup_id = id;
	ev.parent_id = parent;
	ev.parent_tracked = parent != 0;
	strncpy(ev.path, path, sizeof(ev.path) - 1);
	correlator_kernel_event(c, &ev.hdr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct correlate_options o = { .node = &node, .boot_id = "boot", .mode = &mode, .max_cgroups = 16,
				       .exec_args = true, .emit = strict_record };
	struct correlator *c;
	uint32_t pid = 100;

	if (correlator_new(&o, &c) < 0)
		return 0;
	mkdir_ev(c, 10, 0, "/kubepods");
	mkdir_ev(c, 11, 10, "/kubepods/burstable");
	mkdir_ev(c, 12, 11, "/kubepods/burstable/pod" POD_UID);
	mkdir_ev(c, 13, 12, "/kubepods/burstable/pod" POD_UID "/" CTR_ID);
	while (size >= 3) {
		uint8_t what = data[0] % 4, a = data[1], b = data[2];

		data += 3;
		size -= 3;
		pid++;
		if (what == 0) {
			struct nt_exec_event ev = { 0 };

			ev.hdr.type = NT_EV_EXEC;
			ev.hdr.size = sizeof(ev);
			ev.hdr.ts_ns = 1000 + pid;
			ev.hdr.cgroup_id = 13;
			ev.hdr.pid = ev.hdr.tgid = pid;
			ev.first = pid == 101;
			ev.from_outside = a & 1;
			take(&data, &size, ev.comm, sizeof(ev.comm), a >> 1);
			take(&data, &size, ev.filename, sizeof(ev.filename), b);
			take(&data, &size, ev.args, sizeof(ev.args), b);
			ev.args_len = (uint32_t)strlen(ev.args) + (ev.args[0] ? 1 : 0);
			ev.args_total = ev.args_len + (a & 0x80 ? 1000 : 0);
			correlator_kernel_event(c, &ev.hdr);
		} else if (what == 1) {
			struct nt_signal_event ev = { 0 };

			ev.hdr.type = NT_EV_SIGNAL;
			ev.hdr.size = sizeof(ev);
			ev.hdr.ts_ns = 1000 + pid;
			ev.hdr.cgroup_id = 13;
			ev.hdr.pid = ev.hdr.tgid = 101;
			ev.sig = a % 32;
			ev.sender_tgid = pid;
			ev.sender_cgroup_id = b & 1 ? 13 : 1;
			take(&data, &size, ev.sender_comm, sizeof(ev.sender_comm), b >> 1);
			correlator_kernel_event(c, &ev.hdr);
		} else if (what == 2) {
			struct nt_oom_event ev = { 0 };

			ev.hdr.type = NT_EV_OOM;
			ev.hdr.size = sizeof(ev);
			ev.hdr.ts_ns = 1000 + pid;
			ev.hdr.cgroup_id = 13;
			ev.hdr.pid = ev.hdr.tgid = a & 1 ? 101 : pid;
			take(&data, &size, ev.comm, sizeof(ev.comm), b);
			correlator_kernel_event(c, &ev.hdr);
		} else {
			struct nt_exit_event ev = { 0 };

			ev.hdr.type = NT_EV_EXIT;
			ev.hdr.size = sizeof(ev);
			ev.hdr.ts_ns = 1000 + pid;
			ev.hdr.cgroup_id = 13;
			ev.hdr.pid = ev.hdr.tgid = a & 1 ? 101 : pid - 1;
			ev.exit_code = b;
			take(&data, &size, ev.comm, sizeof(ev.comm), b);
			correlator_kernel_event(c, &ev.hdr);
		}
	}
	correlator_flush(c);
	correlator_free(c);
	return 0;
}

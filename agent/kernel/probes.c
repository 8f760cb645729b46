/* Open, configure, load, attach the lifecycle probes; drain their ring buffer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "lifecycle.skel.h"
#include "nodetrail/base/log.h"
#include "nodetrail/kernel/probes.h"

struct probes {
	struct lifecycle *skel;
	struct ring_buffer *rb;
	probes_event_cb cb;
	void *ctx;
	const char *attach_mode;
	uint64_t malformed;
	uint64_t received[8];     /* samples handed on, by event type */
	uint64_t reads_woken;     /* reads the kernel woke the agent for */
	uint64_t reads_timer;     /* backstop reads that found events */
	/* an aligned copy of the sample: ring-buffer memory is only 8-byte aligned
	 * and the callback must not see memory the kernel may reuse */
	union {
		struct nt_event_hdr hdr;
		struct nt_cgroup_event cgroup;
		struct nt_exec_event exec;
		struct nt_exit_event exit;
		struct nt_signal_event signal;
		struct nt_oom_event oom;
	} buf;
};

static size_t event_size(uint32_t type)
{
	switch (type) {
	case NT_EV_CGROUP_MKDIR:
	case NT_EV_CGROUP_RMDIR: return sizeof(struct nt_cgroup_event);
	case NT_EV_EXEC: return sizeof(struct nt_exec_event);
	case NT_EV_EXIT: return sizeof(struct nt_exit_event);
	case NT_EV_SIGNAL: return sizeof(struct nt_signal_event);
	case NT_EV_OOM: return sizeof(struct nt_oom_event);
	default: return 0;
	}
}

static int on_sample(void *ctx, void *data, size_t size)
{
	struct probes *p = ctx;
	const struct nt_event_hdr *hdr = data;

	if (size < sizeof(*hdr) || hdr->size > size || hdr->size != event_size(hdr->type)) {
		p->malformed++;
		return 0;
	}
	memcpy(&p->buf, data, hdr->size);
	p->received[hdr->type < 8 ? hdr->type : 0]++;
	p->cb(p->ctx, &p->buf.hdr);
	return 0;
}

static int libbpf_log(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	static char text[1 << 20];
	char *line, *save = NULL;

	if (level == LIBBPF_DEBUG && log_get_level() < LOG_DEBUG)
		return 0;
	/* a verifier log arrives as one multi-line chunk: one log line each */
	vsnprintf(text, sizeof(text), fmt, ap);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		log_msg(level == LIBBPF_WARN ? LOG_WARN : LOG_DEBUG, "libbpf: %s", line);
	return 0;
}

/* mark_victim took (int pid) until 6.8 and (struct task_struct *, uid_t)
 * since: read which from the kernel's BTF rather than its version. */
static bool mark_victim_has_task(void)
{
	const struct btf_type *t;
	const struct btf_param *params;
	struct btf *btf;
	bool has_task = true;
	int id;

	btf = btf__load_vmlinux_btf();
	if (!btf)
		return true;
	id = btf__find_by_name_kind(btf, "btf_trace_mark_victim", BTF_KIND_TYPEDEF);
	if (id > 0) {
		t = btf__type_by_id(btf, btf__type_by_id(btf, id)->type); /* pointer */
		t = t ? btf__type_by_id(btf, t->type) : NULL;                /* func proto */
		if (t && btf_is_func_proto(t) && btf_vlen(t) >= 2) {
			params = btf_params(t);
			t = btf__type_by_id(btf, params[1].type);
			while (t && (btf_is_typedef(t) || btf_is_const(t) || btf_is_volatile(t)))
				t = btf__type_by_id(btf, t->type);
			has_task = t && btf_is_ptr(t);
		}
	}
	btf__free(btf);
	return has_task;
}

/* NODETRAIL_SYS_BTF points the check elsewhere: the tests use it to play a
 * kernel without BTF */
const char *probes_library_version(void)
{
	static char v[32];

	snprintf(v, sizeof(v), "libbpf %u.%u", libbpf_major_version(), libbpf_minor_version());
	return v;
}

int probes_check_support(char *errbuf, size_t errlen)
{
	const char *btf = getenv("NODETRAIL_SYS_BTF");

	if (!btf || !*btf)
		btf = "/sys/kernel/btf/vmlinux";
	if (access(btf, R_OK) != 0) {
		snprintf(errbuf, errlen,
			 "kernel has no BTF (%s): needs Linux >= 5.8 built with CONFIG_DEBUG_INFO_BTF=y "
			 "(EKS AL2 5.10+, AL2023 and Bottlerocket have it); --bpf auto runs without eBPF",
			 btf);
		return -ENOTSUP;
	}
	return 0;
}

static void set_autoload(struct lifecycle *skel, bool btf)
{
	struct bpf_program *prog;

	bpf_object__for_each_program(prog, skel->obj) {
		const char *sec = bpf_program__section_name(prog);
		bool is_btf = strncmp(sec, "tp_btf/", 7) == 0;

		bpf_program__set_autoload(prog, is_btf == btf);
	}
}

static int open_load_attach(const struct probes_options *opts, bool btf, struct lifecycle **ret,
			    char *errbuf, size_t errlen)
{
	struct lifecycle *skel;
	int err;

	skel = lifecycle__open();
	if (!skel) {
		err = -errno;
		snprintf(errbuf, errlen, "failed to open the BPF object: %s", strerror(-err));
		return err;
	}
	skel->rodata->cgroup_v2 = opts->cgroup_v2;
	skel->rodata->target_hierarchy_id = opts->hierarchy_id;
	skel->rodata->mark_victim_has_task = mark_victim_has_task();
	skel->rodata->capture_args = opts->capture_args;
	skel->rodata->page_size = (uint64_t)sysconf(_SC_PAGESIZE);
	/* what can wait wakes the agent anyway once an eighth of the buffer is used */
	skel->rodata->wake_bytes = opts->ringbuf_bytes / 8;
	/* NODETRAIL_BPF_NO_ANCESTOR_HELPER=1 plays a kernel before 5.14 (the tests) */
	skel->rodata->ancestor_helper =
		!getenv("NODETRAIL_BPF_NO_ANCESTOR_HELPER") &&
		libbpf_probe_bpf_helper(BPF_PROG_TYPE_RAW_TRACEPOINT, BPF_FUNC_get_current_ancestor_cgroup_id, NULL) == 1;
	bpf_map__set_max_entries(skel->maps.nt_events, opts->ringbuf_bytes);
	bpf_map__set_max_entries(skel->maps.nt_cgroups, opts->cgroup_map_max);
	set_autoload(skel, btf);

	err = lifecycle__load(skel);
	if (err) {
		if (err == -EPERM || err == -EACCES)
			snprintf(errbuf, errlen,
				 "permission denied loading BPF programs: grant CAP_BPF and CAP_PERFMON (and "
				 "CAP_SYS_RESOURCE on kernels < 5.11, CAP_SYS_ADMIN on kernels < 5.8)");
		else
			snprintf(errbuf, errlen, "failed to load BPF programs (%s): %s",
				 btf ? "tp_btf" : "raw_tp", strerror(-err));
		goto cleanup;
	}
	err = lifecycle__attach(skel);
	if (err) {
		snprintf(errbuf, errlen, "failed to attach %s programs: %s", btf ? "tp_btf" : "raw_tp",
			 strerror(-err));
		goto cleanup;
	}
	*ret = skel;
	return 0;

cleanup:
	lifecycle__destroy(skel);
	return err;
}

int probes_new(const struct probes_options *opts, probes_event_cb cb, void *ctx, struct probes **ret,
	       char *errbuf, size_t errlen)
{
	struct probes *p;
	int err;

	err = probes_check_support(errbuf, errlen);
	if (err)
		return err;
	p = calloc(1, sizeof(*p));
	if (!p) {
		snprintf(errbuf, errlen, "out of memory");
		return -ENOMEM;
	}
	p->cb = cb;
	p->ctx = ctx;
	libbpf_set_print(libbpf_log);

	/* tp_btf first; raw_tp has the same arguments and, like tp_btf, needs
	 * no tracefs (classic tracepoints would) */
	err = -ENOENT;
	if (opts->try_tp_btf) {
		err = open_load_attach(opts, true, &p->skel, errbuf, errlen);
		p->attach_mode = "tp_btf";
	}
	if (err && err != -EPERM && err != -EACCES && opts->try_raw_tp) {
		if (opts->try_tp_btf)
			log_warn("%s, trying raw tracepoints", errbuf);
		err = open_load_attach(opts, false, &p->skel, errbuf, errlen);
		p->attach_mode = "raw_tp";
	}
	if (err)
		goto cleanup;

	p->rb = ring_buffer__new(bpf_map__fd(p->skel->maps.nt_events), on_sample, p, NULL);
	if (!p->rb) {
		err = -errno;
		snprintf(errbuf, errlen, "failed to create the ring buffer reader: %s", strerror(-err));
		goto cleanup;
	}
	*ret = p;
	return 0;

cleanup:
	probes_free(p);
	return err;
}

void probes_free(struct probes *p)
{
	if (!p)
		return;
	ring_buffer__free(p->rb);
	lifecycle__destroy(p->skel);
	free(p);
}

int probes_fd(const struct probes *p)
{
	return ring_buffer__epoll_fd(p->rb);
}

int probes_consume(struct probes *p, bool woken)
{
	int n = ring_buffer__consume(p->rb);

	if (woken)
		p->reads_woken++;
	else if (n > 0)
		p->reads_timer++;
	return n;
}

void probes_reads(const struct probes *p, uint64_t *ret_woken, uint64_t *ret_timer)
{
	*ret_woken = p->reads_woken;
	*ret_timer = p->reads_timer;
}

int probes_track(struct probes *p, uint64_t cgroup_id, enum nt_cgroup_kind kind, bool exec_seen)
{
	int fd = bpf_map__fd(p->skel->maps.nt_cgroups);
	struct nt_cgroup_val val = { 0 };

	(void)bpf_map_lookup_elem(fd, &cgroup_id, &val);
	val.kind = kind;
	if (exec_seen)
		val.first_exec_seen = 1;
	if (bpf_map_update_elem(fd, &cgroup_id, &val, BPF_ANY) < 0)
		return -errno;
	return 0;
}

int probes_set_main(struct probes *p, uint64_t cgroup_id, uint32_t tgid)
{
	int fd = bpf_map__fd(p->skel->maps.nt_cgroups);
	struct nt_cgroup_val val;

	if (bpf_map_lookup_elem(fd, &cgroup_id, &val) < 0)
		return -errno;
	if (val.main_tgid == tgid)
		return 0;
	val.main_tgid = tgid;
	val.first_exec_seen = 1;
	if (bpf_map_update_elem(fd, &cgroup_id, &val, BPF_EXIST) < 0)
		return -errno;
	return 0;
}

int probes_untrack(struct probes *p, uint64_t cgroup_id)
{
	if (bpf_map_delete_elem(bpf_map__fd(p->skel->maps.nt_cgroups), &cgroup_id) < 0)
		return -errno;
	return 0;
}

int probes_drops(const struct probes *p, uint64_t ret_per_type[8])
{
	int fd = bpf_map__fd(p->skel->maps.nt_drops);
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;

	if (ncpu <= 0)
		return ncpu;
	vals = calloc((size_t)ncpu, sizeof(*vals));
	if (!vals)
		return -ENOMEM;
	for (uint32_t type = 0; type < 8; type++) {
		ret_per_type[type] = 0;
		if (bpf_map_lookup_elem(fd, &type, vals) < 0)
			continue;
		for (int cpu = 0; cpu < ncpu; cpu++)
			ret_per_type[type] += vals[cpu];
	}
	free(vals);
	return 0;
}

void probes_received(const struct probes *p, uint64_t ret_per_type[8])
{
	memcpy(ret_per_type, p->received, sizeof(p->received));
}

uint64_t probes_malformed(const struct probes *p)
{
	return p->malformed;
}

const char *probes_event_name(uint32_t type)
{
	static const char *const names[] = { "unknown", "cgroup_mkdir", "cgroup_rmdir", "exec", "exit", "signal", "oom" };

	return type < sizeof(names) / sizeof(names[0]) ? names[type] : "other";
}

const char *probes_attach_mode(const struct probes *p)
{
	return p->attach_mode;
}

/* correlate (kernel side): sequences of probe events -> the records a user reads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/join/correlate.h"
#include "nodetrail/out/encode.h"
#include "nodetrail/out/sink.h"
#include "nodetrail/out/writer.h"
#include "golden.h"
#include "testutil.h"

#define POD_UID "0f3c2a9e-5b7d-4e21-9a1c-2b3d4e5f6a7b"
#define CTR_ID "a126df15fba5713f57f1abad9c484cb75569e9f48f1169bd9710f63bb8af0e46"
#define ROOT_ID 100
#define QOS_ID 101
#define POD_ID 102
#define CTR_CG 103
#define CHILD_CG 104
#define HOST_CG 7

struct captured {
	int n;
	char json[16][8192];
	char types[16][32];
};

static void capture(void *ctx, struct record *r)
{
	struct captured *cap = ctx;

	assert_true(cap->n < 16);
	assert_true(record_encode(r, cap->json[cap->n], sizeof(cap->json[0])) > 0);
	snprintf(cap->types[cap->n], sizeof(cap->types[0]), "%s", record_type_name(r->type));
	cap->n++;
}

static void assert_golden(struct captured *cap, const char *name);

struct fixture {
	struct correlator *c;
	struct captured cap;
	struct cgroup_mode mode;
	struct record_node node;
};

static void mkdir_ev(struct correlator *c, uint64_t id, uint64_t parent, int parent_tracked, const char *path)
{
	struct nt_cgroup_event ev = { 0 };

	ev.hdr.type = NT_EV_CGROUP_MKDIR;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ts_ns = 1000;
	ev.hdr.cgroup_id = id;
	ev.parent_id = parent;
	ev.parent_tracked = (uint32_t)parent_tracked;
	snprintf(ev.path, sizeof(ev.path), "%s", path);
	correlator_kernel_event(c, &ev.hdr);
}

static void exec_ev(struct correlator *c, uint64_t cg, uint32_t tgid, int first, int outside, const char *comm)
{
	struct nt_exec_event ev = { 0 };

	ev.hdr.type = NT_EV_EXEC;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ts_ns = 2000;
	ev.hdr.cgroup_id = cg;
	ev.hdr.pid = ev.hdr.tgid = tgid;
	ev.first = (uint32_t)first;
	ev.from_outside = (uint32_t)outside;
	snprintf(ev.comm, sizeof(ev.comm), "%s", comm);
	snprintf(ev.filename, sizeof(ev.filename), "/bin/%s", comm);
	correlator_kernel_event(c, &ev.hdr);
}

static void signal_ev_at(struct correlator *c, uint64_t cg, uint32_t tgid, uint32_t sig, uint64_t sender_cg,
			 int kernel, const char *sender, uint64_t ts_ns)
{
	struct nt_signal_event ev = { 0 };

	ev.hdr.type = NT_EV_SIGNAL;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ts_ns = ts_ns;
	ev.hdr.cgroup_id = cg;
	ev.hdr.pid = ev.hdr.tgid = tgid;
	ev.sig = sig;
	ev.sender_tgid = 55;
	ev.sender_cgroup_id = sender_cg;
	ev.sender_kernel = (uint32_t)kernel;
	snprintf(ev.sender_comm, sizeof(ev.sender_comm), "%s", sender);
	correlator_kernel_event(c, &ev.hdr);
}

static void signal_ev(struct correlator *c, uint64_t cg, uint32_t tgid, uint32_t sig, uint64_t sender_cg,
		      int kernel, const char *sender)
{
	signal_ev_at(c, cg, tgid, sig, sender_cg, kernel, sender, 3000);
}

static void exit_ev_comm(struct correlator *c, uint64_t cg, uint32_t tgid, uint32_t code, const char *comm);

static void exit_ev(struct correlator *c, uint64_t cg, uint32_t tgid, uint32_t code)
{
	exit_ev_comm(c, cg, tgid, code, "app");
}

static void exit_ev_comm(struct correlator *c, uint64_t cg, uint32_t tgid, uint32_t code, const char *comm)
{
	struct nt_exit_event ev = { 0 };

	ev.hdr.type = NT_EV_EXIT;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ts_ns = 5000000000ULL;
	ev.hdr.cgroup_id = cg;
	ev.hdr.pid = ev.hdr.tgid = tgid;
	ev.exit_code = code;
	ev.start_boot_ns = 2000000000ULL;
	snprintf(ev.comm, sizeof(ev.comm), "%s", comm);
	correlator_kernel_event(c, &ev.hdr);
}

/* kubelet's roots, a pod and its container, as cgroup_mkdir reports them */
static void kubelet_cgroups(struct correlator *c)
{
	mkdir_ev(c, ROOT_ID, 1, 0, "/kubepods");
	mkdir_ev(c, QOS_ID, ROOT_ID, 1, "/kubepods/burstable");
	mkdir_ev(c, POD_ID, QOS_ID, 1, "/kubepods/burstable/pod" POD_UID);
	mkdir_ev(c, CTR_CG, POD_ID, 1, "/kubepods/burstable/pod" POD_UID "/" CTR_ID);
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct correlate_options o = { 0 };

	f->mode.name = "v1";
	f->node.node_name = "node-a";
	f->node.cluster_name = "c1";
	o.node = &f->node;
	o.boot_id = "boot";
	o.mode = &f->mode;
	o.max_cgroups = 64;
	o.emit = capture;
	o.emit_ctx = &f->cap;
	assert_int_equal(correlator_new(&o, &f->c), 0);
	kubelet_cgroups(f->c);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	correlator_free(f->c);
	free(f);
	return 0;
}

static cJSON *record_at(struct fixture *f, int i)
{
	cJSON *o = cJSON_Parse(f->cap.json[i]);

	assert_non_null(o);
	return o;
}

static const char *str_at(cJSON *o, const char *a, const char *b)
{
	cJSON *v = cJSON_GetObjectItem(o, a);

	if (b)
		v = cJSON_GetObjectItem(v, b);
	return cJSON_GetStringValue(v);
}

static double num_at(cJSON *o, const char *a, const char *b)
{
	cJSON *v = cJSON_GetObjectItem(cJSON_GetObjectItem(o, a), b);

	assert_non_null(v);
	return cJSON_GetNumberValue(v);
}

static void test_exit_code(void **state)
{
	struct fixture *f = *state;
	cJSON *o;

	exec_ev(f->c, CTR_CG, 4242, 1, 1, "app");
	exit_ev(f->c, CTR_CG, 4242, 3 << 8);
	assert_int_equal(f->cap.n, 1);
	o = record_at(f, 0);
	assert_string_equal(str_at(o, "type", NULL), "container.exited");
	assert_string_equal(str_at(o, "pod", "uid"), POD_UID);
	assert_string_equal(str_at(o, "container", "id"), CTR_ID);
	assert_int_equal((int)num_at(o, "kernel", "exit_code"), 3);
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "signal"));
	assert_true(num_at(o, "kernel", "run_time_s") == 3.0);
	assert_non_null(strstr(str_at(o, "summary", NULL), "exited with code 3"));
	cJSON_Delete(o);

	/* a second exit of the same process is not a second record */
	exit_ev(f->c, CTR_CG, 4242, 3 << 8);
	assert_int_equal(f->cap.n, 1);
}

static void test_sigterm_external(void **state)
{
	struct fixture *f = *state;
	cJSON *o, *sigs, *s;

	exec_ev(f->c, CTR_CG, 4242, 1, 1, "app");
	signal_ev(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "runc");
	exit_ev(f->c, CTR_CG, 4242, 143 << 8);
	assert_int_equal(f->cap.n, 1);
	o = record_at(f, 0);
	assert_int_equal((int)num_at(o, "kernel", "exit_code"), 143);
	sigs = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "signals");
	assert_int_equal(cJSON_GetArraySize(sigs), 1);
	s = cJSON_GetArrayItem(sigs, 0);
	assert_string_equal(str_at(s, "signal", NULL), "SIGTERM");
	assert_string_equal(str_at(s, "sender", NULL), "external");
	assert_string_equal(str_at(s, "sender_comm", NULL), "runc");
	assert_non_null(strstr(str_at(o, "summary", NULL), "after SIGTERM from runc"));
	cJSON_Delete(o);
}

static void test_sigkill_self_from_child_cgroup(void **state)
{
	struct fixture *f = *state;
	cJSON *o;

	mkdir_ev(f->c, CHILD_CG, CTR_CG, 1, "/kubepods/burstable/pod" POD_UID "/" CTR_ID "/worker");
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "app");
	/* a process in the container's sub-cgroup kills the main process */
	signal_ev(f->c, CTR_CG, 4242, 9, CHILD_CG, 0, "killer");
	exit_ev(f->c, CTR_CG, 4242, 9);
	o = record_at(f, 0);
	assert_int_equal((int)num_at(o, "kernel", "signal"), 9);
	assert_string_equal(str_at(o, "kernel", "signal_name"), "SIGKILL");
	assert_string_equal(str_at(cJSON_GetObjectItem(o, "kernel"), "fatal_signal", "sender"), "self");
	cJSON_Delete(o);
}

static void test_oom(void **state)
{
	struct fixture *f = *state;
	struct nt_oom_event ev = { 0 };
	cJSON *o;

	exec_ev(f->c, CTR_CG, 4242, 1, 1, "app");
	ev.hdr.type = NT_EV_OOM;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ts_ns = 4000;
	ev.hdr.cgroup_id = CTR_CG;
	ev.hdr.pid = ev.hdr.tgid = 4242;
	ev.usage_bytes = 536870912 - 4096;
	ev.limit_bytes = 536870912;
	ev.victim_usage_bytes = ev.usage_bytes;
	ev.victim_limit_bytes = ev.limit_bytes;
	snprintf(ev.comm, sizeof(ev.comm), "app");
	correlator_kernel_event(f->c, &ev.hdr);
	signal_ev(f->c, CTR_CG, 4242, 9, HOST_CG, 1, "app");
	exit_ev(f->c, CTR_CG, 4242, 9);
	assert_int_equal(f->cap.n, 2);
	assert_string_equal(f->cap.types[0], "container.oom_killed");
	o = record_at(f, 0);
	assert_string_equal(str_at(o, "kernel", "limit_scope"), "container");
	assert_true(num_at(o, "kernel", "memory_limit_bytes") == 536870912.0);
	assert_non_null(strstr(str_at(o, "summary", NULL), "512.0 MiB container limit"));
	cJSON_Delete(o);
	o = record_at(f, 1);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "oom_killed")));
	assert_string_equal(str_at(cJSON_GetObjectItem(o, "kernel"), "fatal_signal", "sender"), "kernel");
	cJSON_Delete(o);
}

static void test_exec_from_outside_only(void **state)
{
	struct fixture *f = *state;
	cJSON *o;

	exec_ev(f->c, CTR_CG, 4242, 1, 1, "app");
	exec_ev(f->c, CTR_CG, 4300, 0, 0, "sleep");  /* the container's own fork+exec */
	exec_ev(f->c, CTR_CG, 4301, 0, 1, "sh");     /* kubectl exec */
	assert_int_equal(f->cap.n, 1);
	o = record_at(f, 0);
	assert_string_equal(str_at(o, "type", NULL), "container.exec");
	assert_string_equal(str_at(o, "kernel", "comm"), "sh");
	assert_string_equal(str_at(o, "kernel", "exe"), "/bin/sh");
	cJSON_Delete(o);
	/* an exec'd-in process exiting is not the container exiting */
	exit_ev(f->c, CTR_CG, 4301, 0);
	assert_int_equal(f->cap.n, 1);
}

/* runc re-execs its init from a memfd; when that lands in the new cgroup it
 * takes the kernel's "first exec" flag, and the container's command comes
 * after it, from outside */
static void test_runtime_reexec_is_not_the_command(void **state)
{
	struct fixture *f = *state;
	struct nt_exec_event ev = { 0 };

	ev.hdr.type = NT_EV_EXEC;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ts_ns = 1500;
	ev.hdr.cgroup_id = CTR_CG;
	ev.hdr.pid = ev.hdr.tgid = 4100;
	ev.first = 1;
	ev.from_outside = 1;
	snprintf(ev.comm, sizeof(ev.comm), "5");
	snprintf(ev.filename, sizeof(ev.filename), "/dev/fd/5");
	correlator_kernel_event(f->c, &ev.hdr);
	exec_ev(f->c, CTR_CG, 4242, 0, 1, "sh");
	exit_ev(f->c, CTR_CG, 4100, 0); /* runc init's stage 0 leaves */
	exit_ev(f->c, CTR_CG, 4242, 5 << 8);
	assert_int_equal(f->cap.n, 1);
	assert_string_equal(f->cap.types[0], "container.exited");
	assert_non_null(strstr(f->cap.json[0], "\"exit_code\":5"));
}

static void exec_path_ev(struct correlator *c, uint32_t tgid, const char *comm, const char *filename)
{
	struct nt_exec_event ev = { 0 };

	ev.hdr.type = NT_EV_EXEC;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ts_ns = 2000 + tgid;
	ev.hdr.cgroup_id = CTR_CG;
	ev.hdr.pid = ev.hdr.tgid = tgid;
	ev.from_outside = 1;
	snprintf(ev.comm, sizeof(ev.comm), "%s", comm);
	snprintf(ev.filename, sizeof(ev.filename), "%s", filename);
	correlator_kernel_event(c, &ev.hdr);
}

/* only the runtime's own re-exec paths are setup: a kubectl exec of /proc/self/root/bin/sh, or of a
 * binary whose name starts with runc, is recorded like any other */
static void test_exec_cannot_hide_as_the_runtime(void **state)
{
	struct fixture *f = *state;

	exec_ev(f->c, CTR_CG, 4242, 1, 1, "app");
	exec_path_ev(f->c, 4400, "exe", "/proc/self/exe");   /* old runc's re-exec: setup */
	exec_path_ev(f->c, 4401, "7", "/proc/self/fd/7");    /* runc's sealed copy: setup */
	assert_int_equal(f->cap.n, 0);
	exec_path_ev(f->c, 4402, "sh", "/proc/self/root/bin/sh");
	exec_path_ev(f->c, 4403, "runc-miner", "/tmp/runc-miner");
	exec_path_ev(f->c, 4404, "sh", "/dev/fd/../../bin/sh");
	assert_int_equal(f->cap.n, 3);
	for (int i = 0; i < 3; i++)
		assert_string_equal(f->cap.types[i], "container.exec");
	assert_non_null(strstr(f->cap.json[0], "/proc/self/root/bin/sh"));
	assert_non_null(strstr(f->cap.json[1], "runc-miner"));
}

/* a signal the kernel ignored (PID 1 without a handler, SIG_IGN) is said to be ignored; one already
 * pending is not a new signal */
static void test_signal_result(void **state)
{
	struct fixture *f = *state;
	struct correlate_stats st;
	struct nt_signal_event ev = { 0 };
	cJSON *o;

	exec_ev(f->c, CTR_CG, 4242, 1, 1, "app");
	ev.hdr.type = NT_EV_SIGNAL;
	ev.hdr.size = sizeof(ev);
	ev.hdr.cgroup_id = CTR_CG;
	ev.hdr.pid = ev.hdr.tgid = 4242;
	ev.sig = 15;
	ev.sender_cgroup_id = HOST_CG;
	snprintf(ev.sender_comm, sizeof(ev.sender_comm), "containerd-shim");
	ev.hdr.ts_ns = 3000;
	ev.result = 1; /* TRACE_SIGNAL_IGNORED */
	correlator_kernel_event(f->c, &ev.hdr);
	ev.hdr.ts_ns = 3100;
	ev.result = 2; /* TRACE_SIGNAL_ALREADY_PENDING */
	correlator_kernel_event(f->c, &ev.hdr);
	exit_ev(f->c, CTR_CG, 4242, 0);
	o = record_at(f, 0);
	assert_non_null(strstr(f->cap.json[0], "after SIGTERM from containerd-shim (external), which it ignored"));
	assert_string_equal(str_at(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "signals"), 0),
				   "result", NULL), "ignored");
	assert_string_equal(str_at(cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "signals"), 1),
				   "result", NULL), "already_pending");
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.signals_not_delivered, 1);
	cJSON_Delete(o);
}

static void test_outside_kubernetes_ignored(void **state)
{
	struct fixture *f = *state;
	struct correlate_stats st;

	mkdir_ev(f->c, 500, 1, 0, "/system.slice/cron.service");
	exec_ev(f->c, 500, 77, 1, 1, "cron");
	exit_ev(f->c, 500, 77, 0);
	/* the pod cgroup itself is not a container */
	exec_ev(f->c, POD_ID, 78, 1, 1, "odd");
	exit_ev(f->c, POD_ID, 78, 0);
	assert_int_equal(f->cap.n, 0);
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.containers, 1);
}

static void test_signal_list_bounded(void **state)
{
	struct fixture *f = *state;
	struct correlate_stats st;
	cJSON *o;

	exec_ev(f->c, CTR_CG, 4242, 1, 1, "app");
	for (int i = 0; i < 20; i++)
		signal_ev(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "kubelet");
	exit_ev(f->c, CTR_CG, 4242, 0);
	o = record_at(f, 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "signals")), 8);
	assert_int_equal((int)num_at(o, "kernel", "signals_dropped"), 12);
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.signals_dropped, 12);
	cJSON_Delete(o);
}

/* ---- the join with the API's view (issue: correlation) ---- */

struct jfx {
	bool explain_on;          /* the fake pod_events answers explain (default: no such stage) */
	int explain_asked;
	struct correlator *c;
	struct node_state *ns;
	struct interruption *it;
	struct captured cap;
	struct cgroup_mode mode;
	struct record_node node;
};

static bool fake_explain(void *ctx, const struct kube_pod *pod)
{
	struct jfx *f = ctx;

	f->explain_asked += f->explain_on;
	return f->explain_on;
}

static int jsetup(void **state)
{
	struct jfx *f = calloc(1, sizeof(*f));
	struct correlate_options o = { 0 };
	struct node_state_options no = { 0 };
	struct interruption_options io = { 0 };
	struct node_state_observer observer;

	f->mode.name = "v1";
	f->node.node_name = "node-a";
	io.node = &f->node;
	io.emit = capture;
	io.emit_ctx = &f->cap;
	assert_int_equal(interruption_new(&io, &f->it), 0);
	no.node = &f->node;
	no.emit = capture;
	no.emit_ctx = &f->cap;
	no.interruption = f->it;
	assert_int_equal(node_state_new(&no, &f->ns), 0);
	o.node = &f->node;
	o.boot_id = "boot";
	o.mode = &f->mode;
	o.max_cgroups = 64;
	o.emit = capture;
	o.emit_ctx = &f->cap;
	o.api = f->ns;
	o.interruption = f->it;
	o.join_window_ms = 60000;
	o.explain = fake_explain;
	o.explain_ctx = f;
	assert_int_equal(correlator_new(&o, &f->c), 0);
	observer = correlator_observer(f->c);
	node_state_set_observer(f->ns, &observer);
	node_state_relist_begin(f->ns, KUBE_PODS);
	node_state_relist_end(f->ns, KUBE_PODS);
	kubelet_cgroups(f->c);
	*state = f;
	return 0;
}

static int jteardown(void **state)
{
	struct jfx *f = *state;

	correlator_free(f->c);
	node_state_free(f->ns);
	interruption_free(f->it);
	free(f);
	return 0;
}

static void api_pod(struct jfx *f, const char *container_status)
{
	char json[4096];
	cJSON *o;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"uid\":\"" POD_UID "\",\"name\":\"api-7d9f\",\"namespace\":\"shop\","
		 "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"api-7d\"}]},"
		 "\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"api\",\"image\":\"shop/api:3\","
		 "\"resources\":{\"limits\":{\"memory\":\"512Mi\"}}}]},"
		 "\"status\":{\"phase\":\"Running\",\"qosClass\":\"Burstable\",\"containerStatuses\":[%s]}}",
		 container_status);
	o = cJSON_Parse(json);
	assert_non_null(o);
	node_state_apply(f->ns, KUBE_PODS, KUBE_EV_MODIFIED, o);
	cJSON_Delete(o);
}

#define RUNNING_STATUS "{\"name\":\"api\",\"containerID\":\"containerd://" CTR_ID "\",\"restartCount\":0,\"state\":{\"running\":{}}}"
#define TERMINATED_143_STATUS                                                                            \
	"{\"name\":\"api\",\"containerID\":\"containerd://" CTR_ID "\",\"restartCount\":0,\"state\":{\"terminated\":" \
	"{\"exitCode\":143,\"reason\":\"Error\",\"containerID\":\"containerd://" CTR_ID "\"}}}"
#define TERMINATED_0_STATUS                                                                              \
	"{\"name\":\"api\",\"containerID\":\"containerd://" CTR_ID "\",\"restartCount\":0,\"state\":{\"terminated\":" \
	"{\"exitCode\":0,\"reason\":\"Completed\",\"containerID\":\"containerd://" CTR_ID "\"}}}"
#define OOM_RESTARTED_STATUS                                                                             \
	"{\"name\":\"api\",\"containerID\":\"containerd://b7e0c4d2f1a3958677665544332211ffeeddccbbaa99887766554433221100ff\"," \
	"\"restartCount\":3,\"state\":{\"running\":{}},\"lastState\":{\"terminated\":{\"exitCode\":137,"      \
	"\"reason\":\"OOMKilled\",\"containerID\":\"containerd://" CTR_ID "\",\"finishedAt\":\"2026-11-24T10:00:01Z\"}}}"

/* an OOM kill at boot-time ts_ns; 0: now (what "recent" is judged against) */
static void oom_ev_at(struct correlator *c, uint64_t ts_ns)
{
	struct nt_oom_event ev = { 0 };
	struct timespec now;

	clock_gettime(CLOCK_BOOTTIME, &now);
	ev.hdr.type = NT_EV_OOM;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ts_ns = ts_ns ? ts_ns : (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec;
	ev.hdr.cgroup_id = CTR_CG;
	ev.hdr.pid = ev.hdr.tgid = 4242;
	ev.usage_bytes = ev.limit_bytes = 536870912;
	ev.victim_usage_bytes = ev.victim_limit_bytes = 536870912;
	snprintf(ev.comm, sizeof(ev.comm), "api");
	correlator_kernel_event(c, &ev.hdr);
}

static void oom_ev(struct correlator *c)
{
	oom_ev_at(c, 0);
}

static void assert_joined_oom(struct jfx *f, const char *golden)
{
	cJSON *o;

	assert_int_equal(f->cap.n, 2);
	assert_string_equal(f->cap.types[0], "container.oom_killed");
	assert_string_equal(f->cap.types[1], "container.exited");
	o = cJSON_Parse(f->cap.json[0]);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "reason")), "OOMKilled");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "restart_count")), 3);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "memory_limit_bytes")) == 536870912.0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "container"), "name")), "api");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "pod"), "name")), "api-7d9f");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "sources")), 2);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")),
			    "container api of pod shop/api-7d9f OOM-killed at 512.0 MiB of 512.0 MiB container limit "
			    "(api, pid 4242), restart #3");
	cJSON_Delete(o);
	assert_golden(&f->cap, golden);
}

static void test_join_oom_kernel_first(void **state)
{
	struct jfx *f = *state;

	api_pod(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	oom_ev_at(f->c, 4000000000ULL);
	signal_ev(f->c, CTR_CG, 4242, 9, HOST_CG, 1, "api");
	exit_ev(f->c, CTR_CG, 4242, 9);
	assert_int_equal(f->cap.n, 0); /* both wait for the API */
	api_pod(f, OOM_RESTARTED_STATUS);
	assert_joined_oom(f, "oom_with_restart_kernel_first");
}

static void test_join_oom_api_first(void **state)
{
	struct jfx *f = *state;

	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	api_pod(f, OOM_RESTARTED_STATUS);
	oom_ev_at(f->c, 4000000000ULL);
	exit_ev(f->c, CTR_CG, 4242, 9);
	assert_joined_oom(f, "oom_with_restart_api_first");
}

/* a static pod (kube-proxy from a manifest): its cgroup carries the kubelet's config hash, which the
 * mirror pod's kubernetes.io/config.mirror annotation repeats; the mirror's uid is another */
#define STATIC_HASH "b5d3a9c1e7f2046d8c1a2b3c4d5e6f70"
#define STATIC_CTR "c0ffee15fba5713f57f1abad9c484cb75569e9f48f1169bd9710f63bb8af0e46"

static void test_static_pod_joins_its_mirror(void **state)
{
	struct jfx *f = *state;
	char *txt;
	cJSON *o;

	o = cJSON_Parse("{\"metadata\":{\"uid\":\"7e1c9f0a-1111-4222-8333-944455556666\",\"name\":\"kube-proxy-node-a\","
			"\"namespace\":\"kube-system\",\"annotations\":{\"kubernetes.io/config.mirror\":\"" STATIC_HASH "\","
			"\"kubernetes.io/config.source\":\"file\"},\"ownerReferences\":[{\"kind\":\"Node\",\"name\":\"node-a\"}]},"
			"\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"kube-proxy\"}]},"
			"\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"kube-proxy\","
			"\"containerID\":\"containerd://" STATIC_CTR "\",\"restartCount\":0,\"state\":{\"running\":{}}}]}}");
	node_state_apply(f->ns, KUBE_PODS, KUBE_EV_MODIFIED, o);
	cJSON_Delete(o);
	mkdir_ev(f->c, 300, QOS_ID, 1, "/kubepods/burstable/pod" STATIC_HASH);
	mkdir_ev(f->c, 301, 300, 1, "/kubepods/burstable/pod" STATIC_HASH "/" STATIC_CTR);
	exec_ev(f->c, 301, 5100, 1, 1, "kube-proxy");
	exit_ev(f->c, 301, 5100, 2 << 8);
	assert_int_equal(f->cap.n, 0); /* it waits for the API's word on the exit */
	o = cJSON_Parse("{\"metadata\":{\"uid\":\"7e1c9f0a-1111-4222-8333-944455556666\",\"name\":\"kube-proxy-node-a\","
			"\"namespace\":\"kube-system\",\"annotations\":{\"kubernetes.io/config.mirror\":\"" STATIC_HASH "\"}},"
			"\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"kube-proxy\"}]},"
			"\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"kube-proxy\","
			"\"containerID\":\"containerd://" STATIC_CTR "\",\"restartCount\":0,\"state\":{\"terminated\":"
			"{\"exitCode\":2,\"reason\":\"Error\",\"containerID\":\"containerd://" STATIC_CTR "\"}}}]}}");
	node_state_apply(f->ns, KUBE_PODS, KUBE_EV_MODIFIED, o);
	cJSON_Delete(o);
	assert_int_equal(f->cap.n, 1); /* joined, through the mirror's annotation */
	o = cJSON_Parse(f->cap.json[0]);
	assert_string_equal(str_at(o, "pod", "name"), "kube-proxy-node-a");
	assert_string_equal(str_at(o, "pod", "uid"), "7e1c9f0a-1111-4222-8333-944455556666");
	assert_string_equal(str_at(o, "container", "name"), "kube-proxy");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "sources")), 2);
	assert_string_equal(str_at(o, "api", "reason"), "Error");
	cJSON_Delete(o);
	/* the checkpoint keeps the annotation: decode(encode(x)) == x */
	o = kube_pod_encode(node_state_pod(f->ns, STATIC_HASH));
	txt = cJSON_PrintUnformatted(o);
	assert_non_null(strstr(txt, "\"kubernetes.io/config.mirror\":\"" STATIC_HASH "\""));
	free(txt);
	cJSON_Delete(o);
}

static void test_exit_the_api_never_confirms(void **state)
{
	struct jfx *f = *state;
	struct correlate_stats st;
	cJSON *o;

	api_pod(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	exit_ev(f->c, CTR_CG, 4242, 1 << 8);
	correlator_tick(f->c);
	assert_int_equal(f->cap.n, 0);
	correlator_flush(f->c); /* the window closes (at stop, or its time) */
	assert_int_equal(f->cap.n, 1);
	o = cJSON_Parse(f->cap.json[0]);
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "confirmed")));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "container"), "name")), "api");
	cJSON_Delete(o);
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.unconfirmed, 1);
	assert_golden(&f->cap, "exit_the_api_never_confirms");
}

static void test_sandbox_folded(void **state)
{
	struct jfx *f = *state;
	struct correlate_stats st;

	/* the pause container: a cgroup of the pod that no container status names */
	mkdir_ev(f->c, 105, POD_ID, 1, "/kubepods/burstable/pod" POD_UID "/b7e0c4d2f1a3958677665544332211ffeeddccbbaa99887766554433221100ff");
	api_pod(f, RUNNING_STATUS);
	exec_ev(f->c, 105, 5000, 1, 1, "pause");
	exit_ev_comm(f->c, 105, 5000, 2, "pause");
	correlator_flush(f->c);
	assert_int_equal(f->cap.n, 0);
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.sandboxes_folded, 1);
}

static void api_pod_deleted(struct jfx *f, const char *container_status)
{
	char json[4096];
	cJSON *o;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"uid\":\"" POD_UID "\",\"name\":\"api-7d9f\",\"namespace\":\"shop\","
		 "\"deletionTimestamp\":\"2026-11-24T10:00:00Z\",\"deletionGracePeriodSeconds\":30},"
		 "\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"api\"}]},"
		 "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\","
		 "\"reason\":\"EvictionByEvictionAPI\"}],\"containerStatuses\":[%s]}}",
		 container_status);
	o = cJSON_Parse(json);
	assert_non_null(o);
	node_state_apply(f->ns, KUBE_PODS, KUBE_EV_DELETED, o);
	cJSON_Delete(o);
}

static const char *record_of(struct jfx *f, const char *type)
{
	for (int i = 0; i < f->cap.n; i++)
		if (strcmp(f->cap.types[i], type) == 0)
			return f->cap.json[i];
	return NULL;
}

/* ---- exec probes and hooks ---- */

#define PROBED_SPEC                                                                                      \
	"\"livenessProbe\":{\"exec\":{\"command\":[\"/bin/check\",\"--live\"]},\"periodSeconds\":5}," \
	"\"lifecycle\":{\"preStop\":{\"exec\":{\"command\":[\"/bin/sh\",\"-c\",\"sleep 5\"]}}}"

/* the pod of api_pod, its container with an exec liveness probe and an exec preStop hook */
static void api_pod_probed(struct jfx *f, const char *container_status)
{
	char json[4096];
	cJSON *o;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"uid\":\"" POD_UID "\",\"name\":\"api-7d9f\",\"namespace\":\"shop\"},"
		 "\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"api\",\"image\":\"shop/api:3\"," PROBED_SPEC "}]},"
		 "\"status\":{\"phase\":\"Running\",\"qosClass\":\"Burstable\",\"containerStatuses\":[%s]}}",
		 container_status);
	o = cJSON_Parse(json);
	assert_non_null(o);
	node_state_apply(f->ns, KUBE_PODS, KUBE_EV_MODIFIED, o);
	cJSON_Delete(o);
}

/* an exec from outside with this argv (NULL-terminated), at boot time ts_ns */
static void exec_argv(struct correlator *c, uint32_t tgid, const char *const *argv, uint64_t ts_ns)
{
	struct nt_exec_event ev = { 0 };
	uint32_t n = 0;

	ev.hdr.type = NT_EV_EXEC;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ts_ns = ts_ns;
	ev.hdr.cgroup_id = CTR_CG;
	ev.hdr.pid = ev.hdr.tgid = tgid;
	ev.from_outside = 1;
	snprintf(ev.comm, sizeof(ev.comm), "%s", strrchr(argv[0], '/') + 1);
	snprintf(ev.filename, sizeof(ev.filename), "%s", argv[0]);
	for (; *argv; argv++) {
		size_t len = strlen(*argv) + 1;

		if (n + len <= NT_ARGS_LEN)
			memcpy(ev.args + n, *argv, len);
		else if (n < NT_ARGS_LEN)
			memcpy(ev.args + n, *argv, NT_ARGS_LEN - n);
		ev.args_total += (uint32_t)len;
		n = ev.args_total < NT_ARGS_LEN ? ev.args_total : NT_ARGS_LEN;
	}
	ev.args_len = n;
	correlator_kernel_event(c, &ev.hdr);
}

/* a probe's process ends (after its exec: the exit's time is later than any exec's here) */
static void probe_exit(struct correlator *c, uint32_t tgid, int code)
{
	exit_ev_comm(c, CTR_CG, tgid, (uint32_t)code << 8, "check");
}

static const char *const LIVE[] = { "/bin/check", "--live", NULL };

/* the kubelet's exec probe is counted, not recorded; a person's exec that differs by one argument is */
static void test_exec_probe_counted_not_recorded(void **state)
{
	static const char *const person[] = { "/bin/check", "--live", "--verbose", NULL };
	struct jfx *f = *state;
	struct correlate_stats st;
	cJSON *o;

	api_pod_probed(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	for (uint32_t i = 0; i < 5; i++) {
		exec_argv(f->c, 5000 + i, LIVE, 10000 + i);
		probe_exit(f->c, 5000 + i, i == 2);
	}
	assert_null(record_of(f, "container.exec"));
	exec_argv(f->c, 6000, person, 20000);
	assert_non_null(record_of(f, "container.exec"));
	o = cJSON_Parse(record_of(f, "container.exec"));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "comm")), "check");
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "args")); /* --exec-args off */
	cJSON_Delete(o);
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.probe_runs, 5);
	assert_int_equal(st.probe_failures, 1);
	assert_int_equal(st.hook_runs, 0);
}

/* SIGTERM from the runtime after the liveness probe failed its threshold's times in a row: named */
static void test_liveness_kill_explained(void **state)
{
	struct jfx *f = *state;
	const char *rec;
	cJSON *o, *why;

	api_pod_probed(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	exec_argv(f->c, 5000, LIVE, 10000);
	probe_exit(f->c, 5000, 0);
	for (uint32_t i = 1; i <= 3; i++) {
		exec_argv(f->c, 5000 + i, LIVE, 10000 + i * 10);
		probe_exit(f->c, 5000 + i, 1);
	}
	signal_ev(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "runc");
	exit_ev(f->c, CTR_CG, 4242, 143 << 8);
	api_pod_probed(f, TERMINATED_143_STATUS);
	rec = record_of(f, "container.exited");
	assert_non_null(rec);
	o = cJSON_Parse(rec);
	why = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "killed_for_probe");
	assert_non_null(why);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(why, "probe")), "liveness probe");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(why, "failures_in_a_row")), 3);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(why, "last_exit_code")), 1);
	assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")),
			       "killed by the kubelet, liveness probe failed 3 times in a row (last exit code 1)"));
	cJSON_Delete(o);
}

/* the same stop with the probe passing (a kill for "definition changed"): no probe is named */
static void test_passing_probe_kill_not_explained(void **state)
{
	struct jfx *f = *state;
	cJSON *o;

	api_pod_probed(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	for (uint32_t i = 0; i < 3; i++) {
		exec_argv(f->c, 5000 + i, LIVE, 10000 + i * 10);
		probe_exit(f->c, 5000 + i, i < 2); /* two failures, then a pass */
	}
	signal_ev(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "runc");
	exit_ev(f->c, CTR_CG, 4242, 143 << 8);
	api_pod_probed(f, TERMINATED_143_STATUS);
	o = cJSON_Parse(record_of(f, "container.exited"));
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "killed_for_probe"));
	assert_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")), "probe"));
	assert_non_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "exec_probes"));
	cJSON_Delete(o);
}

/* ---- why the kubelet stopped it, in its own events ---- */

#define HTTP_SPEC                                                                                         \
	"\"livenessProbe\":{\"httpGet\":{\"path\":\"/healthz\",\"port\":8080},\"failureThreshold\":4},"   \
	"\"startupProbe\":{\"exec\":{\"command\":[\"/bin/check\",\"--live\"]}},"                              \
	"\"readinessProbe\":{\"tcpSocket\":{\"port\":8080}}"

static void api_pod_spec(struct jfx *f, const char *spec, const char *container_status, bool deleting)
{
	char json[4096];
	cJSON *o;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"uid\":\"" POD_UID "\",\"name\":\"api-7d9f\",\"namespace\":\"shop\"%s},"
		 "\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"api\",\"image\":\"shop/api:3\",%s}]},"
		 "\"status\":{\"phase\":\"Running\",\"qosClass\":\"Burstable\",\"containerStatuses\":[%s]}}",
		 deleting ? ",\"deletionTimestamp\":\"2026-11-24T10:00:00Z\"" : "", spec, container_status);
	o = cJSON_Parse(json);
	assert_non_null(o);
	node_state_apply(f->ns, KUBE_PODS, KUBE_EV_MODIFIED, o);
	cJSON_Delete(o);
}

/* one of the pod's events as the kubelet writes it (EKS-FACTS), at the container's end (exit_ev's time) */
static void kubelet_event(struct jfx *f, const char *reason, const char *container, const char *message, int count,
			  int64_t offset_s)
{
	char json[1024], at[CLOCK_TEXT_LEN];
	struct kube_event_obj e;
	cJSON *o;

	clock_format(clock_boot_to_real(5000000000LL) + offset_s * 1000000000LL, at);
	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"name\":\"api-7d9f.%s\",\"namespace\":\"shop\",\"uid\":\"ev-%s-%s\"},"
		 "\"involvedObject\":{\"kind\":\"Pod\",\"name\":\"api-7d9f\",\"namespace\":\"shop\",\"uid\":\"" POD_UID "\","
		 "\"fieldPath\":\"spec.containers{%s}\"},\"reason\":\"%s\",\"message\":\"%s\",\"type\":\"%s\","
		 "\"source\":{\"component\":\"kubelet\",\"host\":\"node-a\"},\"count\":%d,"
		 "\"firstTimestamp\":\"%s\",\"lastTimestamp\":\"%s\"}",
		 reason, reason, container, container, reason, message, strcmp(reason, "Killing") ? "Warning" : "Normal",
		 count, at, at);
	o = cJSON_Parse(json);
	assert_non_null(o);
	assert_int_equal(kube_event_obj_decode(o, &e), 0);
	correlator_pod_event(f->c, POD_UID, &e);
	cJSON_Delete(o);
}

/* the main process stopped by SIGTERM from the runtime, exit 143, the API's status says so */
static void kubelet_stop(struct jfx *f, const char *spec)
{
	api_pod_spec(f, spec, RUNNING_STATUS, false);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	signal_ev(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "runc");
	exit_ev(f->c, CTR_CG, 4242, 143 << 8);
	api_pod_spec(f, spec, TERMINATED_143_STATUS, false);
}

static cJSON *exited_record(struct jfx *f)
{
	const char *rec = record_of(f, "container.exited");

	assert_non_null(rec);
	return cJSON_Parse(rec);
}

/* an httpGet liveness probe: the kernel cannot see it; the kubelet's Killing and Unhealthy say why */
static void test_http_liveness_kill_explained_by_the_kubelet(void **state)
{
	struct jfx *f = *state;
	struct correlate_stats st;
	cJSON *o, *k;

	f->explain_on = true;
	kubelet_stop(f, HTTP_SPEC);
	assert_int_equal(f->explain_asked, 1);
	assert_null(record_of(f, "container.exited")); /* held for the pod's events */
	kubelet_event(f, "Unhealthy", "api", "Liveness probe failed: HTTP probe failed with statuscode: 500", 4, -2);
	kubelet_event(f, "Killing", "sidecar", "Container sidecar failed startup probe, will be restarted", 1, -1);
	kubelet_event(f, "Killing", "api", "Container api failed liveness probe, will be restarted", 1, -1);
	kubelet_event(f, "Pulled", "api", "Container image already present on machine", 1, 0);
	assert_null(record_of(f, "container.exited"));
	correlator_pod_event(f->c, POD_UID, NULL);
	o = exited_record(f);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")),
			    "container api of pod shop/api-7d9f exited with code 143 after SIGTERM from runc (external): "
			    "killed by the kubelet: liveness probe failed 4 times (HTTP probe failed with statuscode: 500); "
			    "API: Error, exit code 143");
	k = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "killed_by_kubelet");
	assert_non_null(k);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(k, "probe")), "liveness probe");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(k, "failure_threshold")), 4);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(k, "probe_message")),
			    "HTTP probe failed with statuscode: 500");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(k, "message")),
			    "Container api failed liveness probe, will be restarted");
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "killed_for_probe"));
	cJSON_Delete(o);
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.kill_causes_asked, 1);
	assert_int_equal(st.kill_causes_found, 1);
	assert_int_equal(st.kill_causes_unanswered, 0);
}

/* the kubelet restarted it because its spec changed; a Killing from long before names nothing */
static void test_definition_changed_named(void **state)
{
	struct jfx *f = *state;
	cJSON *o;

	f->explain_on = true;
	kubelet_stop(f, HTTP_SPEC);
	kubelet_event(f, "Killing", "api", "Container api failed liveness probe, will be restarted", 1, -3600);
	kubelet_event(f, "Killing", "api", "Container api definition changed, will be restarted", 1, -1);
	correlator_pod_event(f->c, POD_UID, NULL);
	o = exited_record(f);
	assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")),
			       "(external): stopped by the kubelet: its definition changed; API:"));
	assert_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")), "probe"));
	cJSON_Delete(o);
}

/* no Killing about it (a person's crictl stop), or the events never come: what the kernel saw, no cause */
static void test_kill_without_kubelet_word(void **state)
{
	struct jfx *f = *state;
	cJSON *o;

	f->explain_on = true;
	kubelet_stop(f, HTTP_SPEC);
	kubelet_event(f, "Unhealthy", "api", "Liveness probe failed: HTTP probe failed with statuscode: 500", 1, -2);
	correlator_pod_event(f->c, POD_UID, NULL);
	o = exited_record(f);
	assert_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")), "kubelet"));
	assert_null(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "killed_by_kubelet"));
	cJSON_Delete(o);
}

/* held, and the answer never comes: out at the stop as it was, counted */
static void test_kill_cause_unanswered(void **state)
{
	struct jfx *f = *state;
	struct correlate_stats st;
	cJSON *o;

	f->explain_on = true;
	kubelet_stop(f, HTTP_SPEC);
	assert_null(record_of(f, "container.exited"));
	correlator_flush(f->c);
	o = exited_record(f);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")),
			    "container api of pod shop/api-7d9f exited with code 143 after SIGTERM from runc (external); "
			    "API: Error, exit code 143");
	cJSON_Delete(o);
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.kill_causes_asked, 1);
	assert_int_equal(st.kill_causes_found, 0);
	assert_int_equal(st.kill_causes_unanswered, 1);
}

/* a pod being deleted: its own record tells; the events are not asked for */
static void test_deletion_asks_no_events(void **state)
{
	struct jfx *f = *state;

	f->explain_on = true;
	api_pod_spec(f, HTTP_SPEC, RUNNING_STATUS, true);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	signal_ev(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "runc");
	exit_ev(f->c, CTR_CG, 4242, 143 << 8);
	api_pod_spec(f, HTTP_SPEC, TERMINATED_143_STATUS, true);
	assert_non_null(record_of(f, "container.exited"));
	assert_int_equal(f->explain_asked, 0);
}

/* an exec argv the liveness and the startup probe share: the kubelet's Killing says which killed */
static void test_shared_argv_named_by_killing(void **state)
{
	struct jfx *f = *state;
	const char *spec = "\"livenessProbe\":{\"exec\":{\"command\":[\"/bin/check\",\"--live\"]},\"failureThreshold\":5},"
			   "\"startupProbe\":{\"exec\":{\"command\":[\"/bin/check\",\"--live\"]},\"failureThreshold\":2}";
	cJSON *o, *why;

	f->explain_on = true;
	api_pod_spec(f, spec, RUNNING_STATUS, false);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	for (uint32_t i = 1; i <= 2; i++) {
		exec_argv(f->c, 5000 + i, LIVE, 10000 + i * 10);
		probe_exit(f->c, 5000 + i, 1);
	}
	signal_ev(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "runc");
	exit_ev(f->c, CTR_CG, 4242, 143 << 8);
	api_pod_spec(f, spec, TERMINATED_143_STATUS, false);
	assert_int_equal(f->explain_asked, 1);
	kubelet_event(f, "Unhealthy", "api", "Startup probe failed: not ready", 2, -1);
	kubelet_event(f, "Killing", "api", "Container api failed startup probe, will be restarted", 1, 0);
	correlator_pod_event(f->c, POD_UID, NULL);
	o = exited_record(f);
	why = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "killed_for_probe");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(why, "probe")), "startup probe");
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(why, "failure_threshold")), 2);
	assert_non_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")),
			       "killed by the kubelet, startup probe failed 2 times in a row (last exit code 1)"));
	assert_null(strstr(cJSON_GetStringValue(cJSON_GetObjectItem(o, "summary")), "liveness or startup"));
	cJSON_Delete(o);
}

/* the exec preStop hook's run is in the pod's termination timeline */
static void test_prestop_hook_in_timeline(void **state)
{
	static const char *const hook[] = { "/bin/sh", "-c", "sleep 5", NULL };
	struct jfx *f = *state;
	struct correlate_stats st;
	cJSON *o, *c0, *h;

	api_pod_probed(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	exec_argv(f->c, 5100, hook, 1000000000ULL);
	probe_exit(f->c, 5100, 0);
	signal_ev(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "runc");
	exit_ev(f->c, CTR_CG, 4242, 0);
	api_pod_probed(f, TERMINATED_0_STATUS);
	api_pod_deleted(f, TERMINATED_0_STATUS);
	assert_null(record_of(f, "container.exec"));
	assert_non_null(record_of(f, "pod.terminated"));
	o = cJSON_Parse(record_of(f, "pod.terminated"));
	c0 = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "containers"), 0);
	h = cJSON_GetObjectItem(c0, "prestop_hook");
	assert_non_null(h);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(h, "exit_code")), 0);
	assert_non_null(cJSON_GetObjectItem(h, "ended_at"));
	cJSON_Delete(o);
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.hook_runs, 1);
	assert_int_equal(st.probe_runs, 0);
}

/* the pod is deleted before its status confirms the exit: the record goes out at once, named */
static void test_exit_pod_deleted_first(void **state)
{
	struct jfx *f = *state;
	cJSON *o;

	api_pod(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	exit_ev(f->c, CTR_CG, 4242, 0);
	api_pod_deleted(f, RUNNING_STATUS);
	assert_non_null(record_of(f, "container.exited"));
	o = cJSON_Parse(record_of(f, "container.exited"));
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "pod"), "name")), "api-7d9f");
	assert_false(cJSON_IsTrue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "confirmed")));
	cJSON_Delete(o);
}

#define TERMINATED_3_STATUS                                                                              \
	"{\"name\":\"api\",\"containerID\":\"containerd://" CTR_ID "\",\"restartCount\":0,\"state\":{\"terminated\":" \
	"{\"exitCode\":3,\"reason\":\"Error\",\"containerID\":\"containerd://" CTR_ID "\"}}}"

/* a terminated state that does not repeat the status's containerID: the status's container it is */
#define TERMINATED_3_STATUS_NO_ID                                                                       \
	"{\"name\":\"api\",\"containerID\":\"containerd://" CTR_ID "\",\"restartCount\":0,\"state\":{\"terminated\":" \
	"{\"exitCode\":3,\"reason\":\"Error\"}}}"

/* the API reports the exit and the pod is deleted before the kernel's exit is read (a late ring-buffer
 * wakeup, seen under load): the kernel's record still joins the API's report, once */
static void api_reported_and_deleted_before_kernel(struct jfx *f, const char *terminated)
{
	struct correlate_stats st;
	const char *rec;
	cJSON *o;

	api_pod(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	api_pod(f, terminated);
	api_pod_deleted(f, terminated);
	assert_null(record_of(f, "container.exited")); /* the API's report waits for the kernel's */
	exit_ev(f->c, CTR_CG, 4242, 3 << 8);
	correlator_flush(f->c);
	rec = record_of(f, "container.exited");
	assert_non_null(rec);
	o = cJSON_Parse(rec);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(o, "sources")), 2);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "kernel"), "exit_code")), 3);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "exit_code")), 3);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "pod"), "name")), "api-7d9f");
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "container"), "name")), "api");
	cJSON_Delete(o);
	for (int i = 0, n = 0; i < f->cap.n; i++)
		assert_true((n += !strcmp(f->cap.types[i], "container.exited")) <= 1);
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.joined, 1);
	assert_int_equal(st.unconfirmed, 0);
	assert_int_equal(st.api_only_exits, 0);
}

static void test_exit_api_reported_and_deleted_before_kernel(void **state)
{
	api_reported_and_deleted_before_kernel(*state, TERMINATED_3_STATUS);
}

static void test_exit_api_first_without_terminated_id(void **state)
{
	api_reported_and_deleted_before_kernel(*state, TERMINATED_3_STATUS_NO_ID);
}

static void test_graceful_eviction(void **state)
{
	struct jfx *f = *state;
	const char *rec;

	api_pod(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	signal_ev_at(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "containerd-shim", 1000000000ULL);
	exit_ev(f->c, CTR_CG, 4242, 143 << 8);
	api_pod_deleted(f, "{\"name\":\"api\",\"containerID\":\"containerd://" CTR_ID "\",\"state\":{\"terminated\":"
			   "{\"exitCode\":143,\"reason\":\"Error\",\"containerID\":\"containerd://" CTR_ID "\"}}}");
	rec = record_of(f, "pod.terminated");
	assert_non_null(rec);
	assert_non_null(strstr(rec, "\"verdict\":\"graceful\""));
	assert_non_null(strstr(rec, "\"sources\":[\"api\",\"kernel\"]"));
	assert_non_null(strstr(rec, "evicted (EvictionByEvictionAPI), grace period 30s; kernel: 1 of 1 container stopped gracefully"));
	assert_non_null(record_of(f, "container.exited")); /* joined by the same status */
	assert_golden(&f->cap, "graceful_eviction");
}

static void test_sigterm_ignored_killed_after_grace(void **state)
{
	struct jfx *f = *state;
	const char *rec;

	api_pod(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	signal_ev_at(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "containerd-shim", 1000000000ULL);
	signal_ev_at(f->c, CTR_CG, 4242, 9, HOST_CG, 0, "containerd-shim", 31000000000ULL);
	exit_ev(f->c, CTR_CG, 4242, 9);
	api_pod_deleted(f, "{\"name\":\"api\",\"containerID\":\"containerd://" CTR_ID "\",\"state\":{\"terminated\":"
			   "{\"exitCode\":137,\"reason\":\"Error\",\"containerID\":\"containerd://" CTR_ID "\"}}}");
	rec = record_of(f, "pod.terminated");
	assert_non_null(rec);
	assert_non_null(strstr(rec, "\"verdict\":\"killed_after_grace\""));
	assert_non_null(strstr(rec, "\"sigkill_sender\":\"external\""));
	assert_non_null(strstr(rec, "0 of 1 container stopped gracefully, 1 SIGKILLed after the grace period"));
	assert_golden(&f->cap, "eviction_sigterm_ignored_sigkill_after_grace");
}

static void node_condition(struct jfx *f, const char *status)
{
	char json[1024];
	cJSON *o;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"name\":\"node-a\",\"resourceVersion\":\"%s\"},\"spec\":{},\"status\":{\"conditions\":"
		 "[{\"type\":\"MemoryPressure\",\"status\":\"%s\",\"reason\":\"KubeletHasInsufficientMemory\","
		 "\"lastTransitionTime\":\"2026-11-24T10:00:00Z\"}]}}", status, status);
	o = cJSON_Parse(json);
	assert_non_null(o);
	node_state_apply(f->ns, KUBE_NODES, KUBE_EV_MODIFIED, o);
	cJSON_Delete(o);
}

static void test_memory_pressure_has_oom_context(void **state)
{
	struct jfx *f = *state;
	const char *rec;

	node_state_relist_begin(f->ns, KUBE_NODES);
	node_condition(f, "False");
	node_state_relist_end(f->ns, KUBE_NODES);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	oom_ev(f->c);
	node_condition(f, "True");
	rec = record_of(f, "node.condition");
	assert_non_null(rec);
	assert_non_null(strstr(rec, "\"oom_kills_last_5m\":1"));
	assert_non_null(strstr(rec, "\"sources\":[\"api\",\"kernel\"]"));
	assert_non_null(strstr(rec, "MemoryPressure: False -> True (KubeletHasInsufficientMemory); kernel: 1 OOM kill in the last 5 minutes"));
}

/* ---- scenarios against golden records ---- */

/* Every record of the scenario, whole (tests/unit/golden.h). */
static void assert_golden(struct captured *cap, const char *name)
{
	const char *records[16];

	for (int i = 0; i < cap->n; i++)
		records[i] = cap->json[i];
	golden_assert(name, records, cap->n);
}

#define CTR2 "b7e0c4d2f1a3958677665544332211ffeeddccbbaa99887766554433221100ff"
#define CTR3 "c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3c3"
#define CTR9 "d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9d9"

static void crashed_status(struct jfx *f, int restarts, const char *current, const char *last, const char *finished,
			   bool back_off)
{
	char st[2048];

	snprintf(st, sizeof(st),
		 "{\"name\":\"api\",\"containerID\":\"containerd://%s\",\"restartCount\":%d,\"state\":%s,"
		 "\"lastState\":{\"terminated\":{\"exitCode\":1,\"reason\":\"Error\",\"containerID\":\"containerd://%s\","
		 "\"finishedAt\":\"%s\"}}}",
		 current, restarts, back_off ? "{\"waiting\":{\"reason\":\"CrashLoopBackOff\"}}" : "{\"running\":{}}", last,
		 finished);
	api_pod(f, st);
}

/* three exits of one container, the API and the kernel in both orders:
 * each record carries the restart count and the series before it */
static void test_crash_loop_three_restarts(void **state)
{
	struct jfx *f = *state;
	cJSON *o, *loop;

	api_pod(f, RUNNING_STATUS);
	/* run 1: the kernel first */
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	exit_ev(f->c, CTR_CG, 4242, 1 << 8);
	crashed_status(f, 1, CTR2, CTR_ID, "2026-11-24T10:00:01Z", false);
	/* run 2: the API first */
	mkdir_ev(f->c, 105, POD_ID, 1, "/kubepods/burstable/pod" POD_UID "/" CTR2);
	exec_ev(f->c, 105, 4300, 1, 1, "api");
	crashed_status(f, 2, CTR2, CTR2, "2026-11-24T10:00:12Z", true);
	exit_ev(f->c, 105, 4300, 1 << 8);
	/* run 3: the kernel first */
	mkdir_ev(f->c, 106, POD_ID, 1, "/kubepods/burstable/pod" POD_UID "/" CTR3);
	exec_ev(f->c, 106, 4400, 1, 1, "api");
	exit_ev(f->c, 106, 4400, 1 << 8);
	crashed_status(f, 3, CTR3, CTR3, "2026-11-24T10:00:33Z", true);
	correlator_flush(f->c);
	assert_golden(&f->cap, "crash_loop_three_restarts");
	o = cJSON_Parse(f->cap.json[2]);
	loop = cJSON_GetObjectItem(cJSON_GetObjectItem(o, "api"), "crash_loop");
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(loop, "previous_exits")), 2);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(loop, "back_off")));
	cJSON_Delete(o);
}

/* the API reports an exit the kernel never saw: a record from the API alone that says so */
static void test_exit_only_the_api_saw(void **state)
{
	struct jfx *f = *state;
	struct correlate_stats st;
	const char *rec;

	api_pod(f, RUNNING_STATUS);
	crashed_status(f, 1, CTR_ID, CTR9, "2030-01-01T00:00:00Z", false);
	correlator_tick(f->c);
	assert_int_equal(f->cap.n, 0); /* waits for the kernel like any record */
	correlator_flush(f->c);
	assert_golden(&f->cap, "exit_only_the_api_saw");
	rec = record_of(f, "container.exited");
	assert_non_null(strstr(rec, "\"kernel\":{\"seen\":false,\"why\":\"not_seen\"}"));
	correlator_get_stats(f->c, &st);
	assert_int_equal(st.api_only_exits, 1);
	/* the same status again is not a second exit */
	crashed_status(f, 1, CTR_ID, CTR9, "2030-01-01T00:00:00Z", false);
	correlator_flush(f->c);
	assert_int_equal(f->cap.n, 1);
}

static void pod_in(struct jfx *f, const char *uid, const char *name, const char *ctr, enum kube_event_type type,
		   const char *meta_extra, const char *disruption, const char *state)
{
	char json[4096];
	cJSON *o;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"uid\":\"%s\",\"name\":\"%s\",\"namespace\":\"shop\"%s},"
		 "\"spec\":{\"nodeName\":\"node-a\",\"terminationGracePeriodSeconds\":30,\"containers\":[{\"name\":\"app\"}]},"
		 "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"%s\","
		 "\"reason\":\"%s\"}],\"containerStatuses\":[{\"name\":\"app\",\"containerID\":\"containerd://%s\","
		 "\"state\":%s}]}}",
		 uid, name, meta_extra, disruption[0] ? "True" : "False", disruption, ctr, state);
	o = cJSON_Parse(json);
	assert_non_null(o);
	node_state_apply(f->ns, KUBE_PODS, type, o);
	cJSON_Delete(o);
}

static void test_preemption(void **state)
{
	struct jfx *f = *state;

	pod_in(f, POD_UID, "batch-1", CTR_ID, KUBE_EV_MODIFIED, "", "", "{\"running\":{}}");
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "app");
	pod_in(f, POD_UID, "batch-1", CTR_ID, KUBE_EV_MODIFIED,
	       ",\"deletionTimestamp\":\"2026-11-24T10:00:00Z\",\"deletionGracePeriodSeconds\":30",
	       "PreemptionByScheduler", "{\"running\":{}}");
	signal_ev_at(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "containerd-shim", 1000000000ULL);
	exit_ev(f->c, CTR_CG, 4242, 0);
	pod_in(f, POD_UID, "batch-1", CTR_ID, KUBE_EV_DELETED,
	       ",\"deletionTimestamp\":\"2026-11-24T10:00:00Z\",\"deletionGracePeriodSeconds\":30",
	       "PreemptionByScheduler",
	       "{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\",\"containerID\":\"containerd://" CTR_ID "\"}}");
	correlator_flush(f->c);
	assert_golden(&f->cap, "preemption");
	assert_non_null(strstr(record_of(f, "pod.terminated"), "\"cause\":\"preempted\""));
}

#define POD_B "1b1b1b1b-5b7d-4e21-9a1c-2b3d4e5f6a7b"
#define POD_C "2c2c2c2c-5b7d-4e21-9a1c-2b3d4e5f6a7b"
#define CTR_B "b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1b1"
#define CTR_C "c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1c1"

static uint64_t boot_now(int64_t plus_ms)
{
	struct timespec now;

	clock_gettime(CLOCK_BOOTTIME, &now);
	return (uint64_t)now.tv_sec * 1000000000ULL + (uint64_t)now.tv_nsec + (uint64_t)(plus_ms * 1000000LL);
}

static void exit_ev_at(struct correlator *c, uint64_t cg, uint32_t tgid, uint32_t code, uint64_t ts)
{
	struct nt_exit_event ev = { 0 };

	ev.hdr.type = NT_EV_EXIT;
	ev.hdr.size = sizeof(ev);
	ev.hdr.ts_ns = ts;
	ev.hdr.cgroup_id = cg;
	ev.hdr.pid = ev.hdr.tgid = tgid;
	ev.exit_code = code;
	snprintf(ev.comm, sizeof(ev.comm), "app");
	correlator_kernel_event(c, &ev.hdr);
}

static void three_pods(struct jfx *f)
{
	mkdir_ev(f->c, 110, QOS_ID, 1, "/kubepods/burstable/pod" POD_B);
	mkdir_ev(f->c, 111, 110, 1, "/kubepods/burstable/pod" POD_B "/" CTR_B);
	mkdir_ev(f->c, 120, QOS_ID, 1, "/kubepods/burstable/pod" POD_C);
	mkdir_ev(f->c, 121, 120, 1, "/kubepods/burstable/pod" POD_C "/" CTR_C);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "app");
	exec_ev(f->c, 111, 4500, 1, 1, "app");
	exec_ev(f->c, 121, 4600, 1, 1, "app");
}

static int64_t real_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* a spot interruption with three pods: one stops gracefully, one ignores
 * SIGTERM and is SIGKILLed, one is still running at the deadline */
static void test_spot_interruption_three_pods(void **state)
{
	struct jfx *f = *state;
	int64_t notice = real_now();

	three_pods(f);
	interruption_claim(f->it, &(struct interruption_notice){ .src = ISRC_IMDS_ACTION, .kind = INTERRUPTION_SPOT,
								  .deadline_ns = notice + 120000000000LL, .exact = true,
								  .detail = "terminate" }, 0);
	signal_ev_at(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "kubelet", boot_now(10));
	signal_ev_at(f->c, 111, 4500, 15, HOST_CG, 0, "kubelet", boot_now(10));
	signal_ev_at(f->c, 121, 4600, 15, HOST_CG, 0, "kubelet", boot_now(10));
	exit_ev_at(f->c, CTR_CG, 4242, 0, boot_now(20));
	signal_ev_at(f->c, 111, 4500, 9, HOST_CG, 0, "kubelet", boot_now(30));
	exit_ev_at(f->c, 111, 4500, 9, boot_now(40));
	correlator_flush(f->c);
	correlator_drain_report(f->c, notice, notice + 120000000000LL, "at the deadline", true);
	assert_golden(&f->cap, "spot_interruption_three_pods");
}

/* ---- a drain of 250 pods, in pages ---- */

struct pages {
	int n;
	char *json[256];
	char ids[256][RECORD_ID_LEN + 1];
};

static void capture_page(void *ctx, struct record *r)
{
	struct pages *p = ctx;
	char *buf = malloc(SINK_ENCODE_MAX);
	int n;

	if (r->type != RECORD_NODE_DRAIN_REPORT) { /* the interruption's own record, the exits */
		free(buf);
		return;
	}
	assert_true(p->n < 256);
	n = record_encode(r, buf, SINK_ENCODE_MAX);
	assert_true(n > 0);
	/* each page is whole in one CRI line: "<30-byte time> stdout F " + json + newline */
	assert_true(41 + n + 1 <= WRITER_MAX_LINE);
	p->json[p->n] = buf;
	snprintf(p->ids[p->n], sizeof(p->ids[0]), "%s", r->record_id);
	p->n++;
}

#define DRAIN_PODS 250

static void pod_ids(int i, char uid[40], char cid[3][65])
{
	snprintf(uid, 40, "%08x-0000-4000-8000-%012x", i, i);
	for (int k = 0; k < 3; k++)
		snprintf(cid[k], 65, "%056x%08x", i, k);
}

/* 250 pods of three containers: a third stop gracefully, a third are SIGKILLed, a third still run.
 * The pages reassemble to exactly that: each pod on one page, each container once, each page under
 * 16 KiB, every page with the totals; written again (as after a kill -9), the same pages */
static void test_drain_of_250_pods_in_pages(void **state)
{
	struct record_node node = { .node_name = "node-a" };
	struct cgroup_mode mode = { .name = "v2" };
	struct pages pages = { 0 };
	struct interruption_options io = { .node = &node, .emit = capture_page, .emit_ctx = &pages };
	struct node_state_options no = { .node = &node, .emit = capture_page, .emit_ctx = &pages, .max_pods = 512 };
	struct correlate_options o = { .node = &node, .boot_id = "boot", .mode = &mode, .max_cgroups = 2048,
				       .emit = capture_page, .emit_ctx = &pages, .join_window_ms = 0 };
	struct node_state_observer observer;
	struct interruption *it;
	struct node_state *ns;
	struct correlator *c;
	int64_t notice = real_now();
	int seen[DRAIN_PODS] = { 0 }, verdicts[3] = { 0 }, first;
	char uid[40], cid[3][65], path[256], json[2048];

	(void)state;
	assert_int_equal(interruption_new(&io, &it), 0);
	no.interruption = it;
	assert_int_equal(node_state_new(&no, &ns), 0);
	o.api = ns;
	o.interruption = it;
	assert_int_equal(correlator_new(&o, &c), 0);
	observer = correlator_observer(c);
	node_state_set_observer(ns, &observer);
	node_state_relist_begin(ns, KUBE_PODS);
	node_state_relist_end(ns, KUBE_PODS);
	mkdir_ev(c, ROOT_ID, 1, 0, "/kubepods");
	mkdir_ev(c, QOS_ID, ROOT_ID, 1, "/kubepods/burstable");
	for (int i = 0; i < DRAIN_PODS; i++) {
		cJSON *obj;

		pod_ids(i, uid, cid);
		snprintf(json, sizeof(json),
			 "{\"metadata\":{\"uid\":\"%s\",\"name\":\"shop-app-%03d\",\"namespace\":\"shop\"},"
			 "\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"a\"},{\"name\":\"b\"},{\"name\":\"c\"}]},"
			 "\"status\":{\"phase\":\"Running\",\"containerStatuses\":["
			 "{\"name\":\"a\",\"containerID\":\"containerd://%s\",\"state\":{\"running\":{}}},"
			 "{\"name\":\"b\",\"containerID\":\"containerd://%s\",\"state\":{\"running\":{}}},"
			 "{\"name\":\"c\",\"containerID\":\"containerd://%s\",\"state\":{\"running\":{}}}]}}",
			 uid, i, cid[0], cid[1], cid[2]);
		obj = cJSON_Parse(json);
		node_state_apply(ns, KUBE_PODS, KUBE_EV_ADDED, obj);
		cJSON_Delete(obj);
		snprintf(path, sizeof(path), "/kubepods/burstable/pod%s", uid);
		mkdir_ev(c, 1000 + (uint64_t)i * 4, QOS_ID, 1, path);
		for (int k = 0; k < 3; k++) {
			snprintf(path, sizeof(path), "/kubepods/burstable/pod%.39s/%.64s", uid, cid[k]);
			mkdir_ev(c, 1001 + (uint64_t)i * 4 + (uint64_t)k, 1000 + (uint64_t)i * 4, 1, path);
			exec_ev(c, 1001 + (uint64_t)i * 4 + (uint64_t)k, 10000 + (uint32_t)(i * 4 + k), 1, 1, "app");
		}
	}
	interruption_claim(it, &(struct interruption_notice){ .src = ISRC_IMDS_ACTION, .kind = INTERRUPTION_SPOT,
							       .deadline_ns = notice + 120000000000LL, .exact = true,
							       .detail = "terminate" }, DRAIN_PODS);
	for (int i = 0; i < DRAIN_PODS; i++)
		for (int k = 0; k < 3 && i % 3 != 2; k++) {
			uint64_t cg = 1001 + (uint64_t)i * 4 + (uint64_t)k;
			uint32_t tgid = 10000 + (uint32_t)(i * 4 + k);

			signal_ev_at(c, cg, tgid, 15, HOST_CG, 0, "kubelet", boot_now(10));
			if (i % 3 == 1)
				signal_ev_at(c, cg, tgid, 9, HOST_CG, 0, "kubelet", boot_now(20));
			exit_ev_at(c, cg, tgid, i % 3 == 0 ? 0 : 9, boot_now(30));
		}
	correlator_flush(c);
	assert_int_equal(pages.n, 0);
	correlator_drain_report(c, notice, notice + 120000000000LL, "before the deadline", false);
	assert_true(pages.n > 1);
	for (int p = 0; p < pages.n; p++) {
		cJSON *doc = cJSON_Parse(pages.json[p]), *d = cJSON_GetObjectItem(doc, "drain"), *pod;

		assert_non_null(d);
		assert_null(cJSON_GetObjectItem(doc, "truncated"));
		assert_int_equal((int)num_at(doc, "drain", "page"), p + 1);
		assert_int_equal((int)num_at(doc, "drain", "pages"), pages.n);
		assert_int_equal((int)num_at(doc, "drain", "pods"), DRAIN_PODS);
		assert_int_equal((int)num_at(doc, "drain", "graceful"), 84 * 3);
		assert_int_equal((int)num_at(doc, "drain", "killed"), 83 * 3);
		assert_int_equal((int)num_at(doc, "drain", "still_running"), 83 * 3);
		cJSON_ArrayForEach(pod, cJSON_GetObjectItem(d, "by_pod")) {
			int i = (int)strtol(pod->string, NULL, 16);
			const cJSON *ctr;

			assert_true(i >= 0 && i < DRAIN_PODS);
			seen[i]++;
			assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(pod, "containers")), 3);
			snprintf(json, sizeof(json), "shop-app-%03d", i);
			assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(pod, "name")), json);
			cJSON_ArrayForEach(ctr, cJSON_GetObjectItem(pod, "containers")) {
				const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(ctr, "verdict"));
				int want = i % 3;

				assert_string_equal(v, want == 0 ? "graceful" : want == 1 ? "killed" : "still_running");
				verdicts[want]++;
			}
		}
		cJSON_Delete(doc);
	}
	for (int i = 0; i < DRAIN_PODS; i++)
		assert_int_equal(seen[i], 1);
	assert_int_equal(verdicts[0], 84 * 3);
	assert_int_equal(verdicts[1], 83 * 3);
	assert_int_equal(verdicts[2], 83 * 3);
	/* the same report again (a restart between two pages): the same pages, by id, so the sink
	 * writes only those not in the file yet */
	first = pages.n;
	correlator_drain_report(c, notice, notice + 120000000000LL, "before the deadline", false);
	assert_int_equal(pages.n, 2 * first);
	for (int p = 0; p < first; p++)
		assert_string_equal(pages.ids[p], pages.ids[first + p]);
	correlator_free(c);
	node_state_free(ns);
	interruption_free(it);
	for (int i = 0; i < pages.n; i++)
		free(pages.json[i]);
}

static void on_interruption_count(void *ctx, const struct interruption_info *info)
{
	(*(int *)ctx)++;
}

/* kill -9 in the middle of a drain: the next run takes the checkpoint
 * over; what ended while it was down is said to be unseen */
static void test_restart_mid_drain(void **state)
{
	struct jfx *f = *state;
	int64_t notice = real_now();
	struct correlate_options o = { 0 };
	struct node_state_options no = { 0 };
	struct interruption_options io = { 0 };
	struct node_state_observer observer;
	struct interruption *it2;
	struct correlator *c2;
	struct node_state *ns2;
	cJSON *ck, *nck, *ick;
	int armed = 0;

	three_pods(f);
	interruption_claim(f->it, &(struct interruption_notice){ .src = ISRC_TAINT_NTH, .kind = INTERRUPTION_SPOT,
								  .at_ns = notice, .detail = "aws-node-termination-handler/spot-itn" },
			   0);
	signal_ev_at(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "kubelet", boot_now(10));
	signal_ev_at(f->c, 111, 4500, 15, HOST_CG, 0, "kubelet", boot_now(10));
	signal_ev_at(f->c, 121, 4600, 15, HOST_CG, 0, "kubelet", boot_now(10));
	exit_ev_at(f->c, CTR_CG, 4242, 0, boot_now(20));
	correlator_flush(f->c);
	ck = correlator_save(f->c);
	nck = node_state_save(f->ns);
	ick = interruption_save(f->it);
	assert_non_null(ck);
	assert_non_null(nck);
	assert_non_null(ick);

	/* the next run: pod A's and B's cgroups are gone, C's is still there */
	io = (struct interruption_options){ .node = &f->node, .emit = capture, .emit_ctx = &f->cap,
					    .armed = on_interruption_count, .ctx = &armed };
	assert_int_equal(interruption_new(&io, &it2), 0);
	no.node = &f->node;
	no.emit = capture;
	no.emit_ctx = &f->cap;
	no.interruption = it2;
	assert_int_equal(node_state_new(&no, &ns2), 0);
	o = (struct correlate_options){ .node = &f->node, .boot_id = "boot", .mode = &f->mode, .max_cgroups = 64,
					.emit = capture, .emit_ctx = &f->cap, .api = ns2, .interruption = it2,
					.join_window_ms = 60000 };
	assert_int_equal(correlator_new(&o, &c2), 0);
	observer = correlator_observer(c2);
	node_state_set_observer(ns2, &observer);
	mkdir_ev(c2, ROOT_ID, 1, 0, "/kubepods");
	mkdir_ev(c2, QOS_ID, ROOT_ID, 1, "/kubepods/burstable");
	mkdir_ev(c2, 120, QOS_ID, 1, "/kubepods/burstable/pod" POD_C);
	mkdir_ev(c2, 121, 120, 1, "/kubepods/burstable/pod" POD_C "/" CTR_C);
	node_state_restore(ns2, nck);
	interruption_restore(it2, ick);
	correlator_restore(c2, ck, true, notice);
	assert_int_equal(armed, 1); /* the drain is due again, without a second node.interruption */
	exit_ev_at(c2, 121, 4600, 0, boot_now(50)); /* main pid and SIGTERM came from the checkpoint */
	correlator_flush(c2);
	correlator_drain_report(c2, notice, notice + 120000000000LL, "at the deadline", true);
	assert_golden(&f->cap, "restart_mid_drain");
	correlator_free(c2);
	node_state_free(ns2);
	interruption_free(it2);
	cJSON_Delete(ck);
	cJSON_Delete(nck);
	cJSON_Delete(ick);
}

/* a container restarted while the agent was down: reported from the
 * relist after the restart, saying the kernel did not see it */
static void test_restart_while_down(void **state)
{
	struct jfx *f = *state;
	struct node_state_observer observer;
	struct correlate_options o;
	struct correlator *c2;
	char finished[CLOCK_TEXT_LEN];
	cJSON *ck;
	int64_t written = real_now() - 60000000000LL;

	api_pod(f, RUNNING_STATUS);
	ck = correlator_save(f->c);
	o = (struct correlate_options){ .node = &f->node, .boot_id = "boot", .mode = &f->mode, .max_cgroups = 64,
					.emit = capture, .emit_ctx = &f->cap, .api = f->ns, .interruption = f->it,
					.join_window_ms = 60000 };
	assert_int_equal(correlator_new(&o, &c2), 0);
	correlator_restore(c2, ck, true, written);
	correlator_free(f->c);
	f->c = c2;
	observer = correlator_observer(c2);
	node_state_set_observer(f->ns, &observer);
	crashed_status(f, 1, CTR2, CTR_ID, clock_format(written + 30000000000LL, finished), false);
	correlator_flush(f->c);
	assert_golden(&f->cap, "restart_while_down");
	assert_non_null(strstr(f->cap.json[0], "\"why\":\"agent_not_running\""));
	cJSON_Delete(ck);
}

/* the agent restarts between the liveness probe's second and third failure: the count goes on */
static void test_probe_counts_survive_a_restart(void **state)
{
	struct jfx *f = *state;
	struct node_state_observer observer;
	struct correlate_options o;
	struct correlator *c2;
	cJSON *ck, *rec, *why;

	api_pod_probed(f, RUNNING_STATUS);
	exec_ev(f->c, CTR_CG, 4242, 1, 1, "api");
	for (uint32_t i = 0; i < 4; i++) {
		exec_argv(f->c, 5000 + i, LIVE, 10000 + i * 10);
		probe_exit(f->c, 5000 + i, i >= 2); /* two passes, then two failures */
	}
	ck = correlator_save(f->c);
	o = (struct correlate_options){ .node = &f->node, .boot_id = "boot", .mode = &f->mode, .max_cgroups = 64,
					.emit = capture, .emit_ctx = &f->cap, .api = f->ns, .interruption = f->it,
					.join_window_ms = 60000 };
	assert_int_equal(correlator_new(&o, &c2), 0);
	kubelet_cgroups(c2);
	correlator_restore(c2, ck, true, real_now());
	correlator_free(f->c);
	f->c = c2;
	observer = correlator_observer(c2);
	node_state_set_observer(f->ns, &observer);
	exec_argv(f->c, 6000, LIVE, 20000);
	probe_exit(f->c, 6000, 1);
	signal_ev(f->c, CTR_CG, 4242, 15, HOST_CG, 0, "runc");
	exit_ev(f->c, CTR_CG, 4242, 143 << 8);
	api_pod_probed(f, TERMINATED_143_STATUS);
	rec = exited_record(f);
	why = cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "kernel"), "killed_for_probe");
	assert_non_null(why);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(why, "failures_in_a_row")), 3);
	why = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(rec, "kernel"), "exec_probes"), 0);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(why, "runs")), 5);
	assert_int_equal(cJSON_GetNumberValue(cJSON_GetObjectItem(why, "failures")), 3);
	cJSON_Delete(rec);
	cJSON_Delete(ck);
}

static int counted;

static void count_only(void *ctx, struct record *r)
{
	counted++;
}

/* 1,000 pods, then 8 relists that find none: nothing that follows a pod is left behind */
static void test_relists_leave_nothing_behind(void **state)
{
	struct record_node node = { .node_name = "node-a" };
	struct node_state_options no = { .node = &node, .emit = count_only, .max_pods = 2048 };
	struct correlate_options o = { .node = &node, .boot_id = "boot", .max_cgroups = 16384, .emit = count_only,
				       .join_window_ms = 5000 };
	struct cgroup_mode mode = { .name = "v2" };
	struct node_state_observer observer;
	struct correlate_stats st;
	struct node_state *ns;
	struct correlator *c;
	char json[1024], ready[CLOCK_TEXT_LEN];

	o.mode = &mode;
	assert_int_equal(node_state_new(&no, &ns), 0);
	o.api = ns;
	assert_int_equal(correlator_new(&o, &c), 0);
	observer = correlator_observer(c);
	node_state_set_observer(ns, &observer);
	clock_format(real_now(), ready);
	node_state_relist_begin(ns, KUBE_PODS);
	for (int i = 0; i < 1000; i++) {
		cJSON *p;

		snprintf(json, sizeof(json),
			 "{\"metadata\":{\"uid\":\"uid-%d\",\"name\":\"p-%d\",\"namespace\":\"shop\"},"
			 "\"spec\":{\"nodeName\":\"node-a\",\"containers\":[{\"name\":\"app\"}]},"
			 "\"status\":{\"phase\":\"Running\",\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\","
			 "\"lastTransitionTime\":\"%s\"}],\"containerStatuses\":[{\"name\":\"app\",\"restartCount\":0,"
			 "\"state\":{\"running\":{}}}]}}",
			 i, i, ready);
		p = cJSON_Parse(json);
		node_state_apply(ns, KUBE_PODS, KUBE_EV_ADDED, p);
		cJSON_Delete(p);
	}
	node_state_relist_end(ns, KUBE_PODS);
	correlator_get_stats(c, &st);
	assert_int_equal(st.series, 1000);
	assert_int_equal(st.started, 1000);
	for (int i = 0; i < 8; i++) {
		node_state_relist_begin(ns, KUBE_PODS);
		node_state_relist_end(ns, KUBE_PODS);
	}
	correlator_get_stats(c, &st);
	assert_int_equal(st.series, 0);
	assert_int_equal(st.started, 0);
	correlator_free(c);
	node_state_free(ns);
}

static uint64_t ino_of(const char *dir, const char *rel)
{
	char path[512];
	struct stat st;

	snprintf(path, sizeof(path), "%s%s", dir, rel);
	assert_int_equal(stat(path, &st), 0);
	return (uint64_t)st.st_ino;
}

/* a container's cgroup_rmdir lost (a full ring buffer): the reconcile finds its directory gone */
static void test_lost_rmdir_reconciled(void **state)
{
	static const char *const dirs[] = { "/kubepods", "/kubepods/burstable", "/kubepods/burstable/pod" POD_UID,
					    "/kubepods/burstable/pod" POD_UID "/" CTR_ID };
	struct record_node node = { .node_name = "node-a" };
	struct correlate_options o = { .node = &node, .boot_id = "boot", .max_cgroups = 64, .emit = count_only };
	struct cgroup_mode mode = { .name = "v2" };
	struct correlate_stats st;
	struct correlator *c;
	char root[] = "/tmp/nodetrail-reconcile-XXXXXX", path[512];
	uint64_t ids[4];

	assert_non_null(mkdtemp(root));
	snprintf(mode.dir, sizeof(mode.dir), "%s", root);
	o.mode = &mode;
	assert_int_equal(correlator_new(&o, &c), 0);
	for (int i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		assert_int_equal(mkdir(path, 0755), 0);
		ids[i] = ino_of(root, dirs[i]);
		mkdir_ev(c, ids[i], i ? ids[i - 1] : 1, i > 0, dirs[i]);
	}
	correlator_reconcile(c);
	correlator_get_stats(c, &st);
	assert_int_equal((int)st.containers, 1);
	assert_int_equal((int)st.cgroups, 4);
	assert_int_equal((int)st.cgroups_reconciled, 0);
	/* the container and its pod go, their rmdirs never come: a pass suspects them (the kernel
	 * removes a directory before it writes its cgroup_rmdir), the next one forgets them */
	snprintf(path, sizeof(path), "%s%s", root, dirs[3]);
	assert_int_equal(rmdir(path), 0);
	snprintf(path, sizeof(path), "%s%s", root, dirs[2]);
	assert_int_equal(rmdir(path), 0);
	correlator_reconcile(c);
	correlator_get_stats(c, &st);
	assert_int_equal((int)st.containers, 1);
	assert_int_equal((int)st.cgroups_reconciled, 0);
	correlator_reconcile(c);
	correlator_get_stats(c, &st);
	assert_int_equal((int)st.containers, 0);
	assert_int_equal((int)st.cgroups, 2);
	assert_int_equal((int)st.cgroups_reconciled, 2);
	correlator_free(c);
	for (int i = 1; i >= 0; i--) {
		snprintf(path, sizeof(path), "%s%s", root, dirs[i]);
		rmdir(path);
	}
	rmdir(root);
}

int main_join(void);
int main_join(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_join_oom_kernel_first, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_join_oom_api_first, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_exit_api_reported_and_deleted_before_kernel, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_exit_api_first_without_terminated_id, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_exec_probe_counted_not_recorded, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_liveness_kill_explained, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_passing_probe_kill_not_explained, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_prestop_hook_in_timeline, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_http_liveness_kill_explained_by_the_kubelet, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_definition_changed_named, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_kill_without_kubelet_word, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_kill_cause_unanswered, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_deletion_asks_no_events, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_shared_argv_named_by_killing, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_probe_counts_survive_a_restart, jsetup, jteardown),
		cmocka_unit_test(test_relists_leave_nothing_behind),
		cmocka_unit_test(test_lost_rmdir_reconciled),
		cmocka_unit_test_setup_teardown(test_static_pod_joins_its_mirror, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_exit_the_api_never_confirms, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_sandbox_folded, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_exit_pod_deleted_first, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_graceful_eviction, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_sigterm_ignored_killed_after_grace, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_memory_pressure_has_oom_context, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_crash_loop_three_restarts, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_exit_only_the_api_saw, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_preemption, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_spot_interruption_three_pods, jsetup, jteardown),
		cmocka_unit_test(test_drain_of_250_pods_in_pages),
		cmocka_unit_test_setup_teardown(test_restart_mid_drain, jsetup, jteardown),
		cmocka_unit_test_setup_teardown(test_restart_while_down, jsetup, jteardown),
	};

	return cmocka_run_group_tests_name("join", tests, NULL, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_exit_code, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigterm_external, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sigkill_self_from_child_cgroup, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oom, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_from_outside_only, setup, teardown),
		cmocka_unit_test_setup_teardown(test_runtime_reexec_is_not_the_command, setup, teardown),
		cmocka_unit_test_setup_teardown(test_exec_cannot_hide_as_the_runtime, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_result, setup, teardown),
		cmocka_unit_test_setup_teardown(test_outside_kubernetes_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_signal_list_bounded, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL) | main_join();
}


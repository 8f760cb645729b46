/* kube_objects: real-shaped Kubernetes objects decode into bounded structs, and encode back. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/api/kube_objects.h"
#include "testutil.h"

#define NODE "ip-10-0-1-23.ec2.internal"
#define NODE_JSON(rv, taints, ready)                                                                 \
	"{\"metadata\":{\"name\":\"" NODE "\",\"uid\":\"n1\",\"resourceVersion\":\"" rv "\","           \
	"\"labels\":{\"eks.amazonaws.com/capacityType\":\"SPOT\",\"eks.amazonaws.com/nodegroup\":\"ng-spot\"," \
	"\"node.kubernetes.io/instance-type\":\"m5.large\",\"topology.kubernetes.io/zone\":\"us-east-1a\"}}," \
	"\"spec\":{\"taints\":[" taints "]},\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"" ready \
	"\",\"reason\":\"KubeletReady\",\"lastTransitionTime\":\"2026-11-24T10:00:00Z\"}]}}"

static cJSON *load(const char *name)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "k8s-objects/%s", name);
	return test_load_json(rel);
}

static void test_quantities(void **state)
{
	assert_int_equal(kube_quantity_bytes("512Mi"), 536870912);
	assert_int_equal(kube_quantity_bytes("1Gi"), 1073741824);
	assert_int_equal(kube_quantity_bytes("1G"), 1000000000);
	assert_int_equal(kube_quantity_bytes("1.5Gi"), 1610612736);
	assert_int_equal(kube_quantity_bytes("128974848"), 128974848);
	assert_int_equal(kube_quantity_bytes("129e6"), 129000000);
	assert_int_equal(kube_quantity_bytes(""), -1);
	assert_int_equal(kube_quantity_bytes("lots"), -1);
	assert_int_equal(kube_quantity_bytes("5Zi"), -1);
}

static void test_decode_oomkilled_pod(void **state)
{
	cJSON *o = load("pod-oomkilled-laststate.json");
	struct kube_pod p;
	const struct kube_container *c;

	assert_int_equal(kube_pod_decode(o, &p), 0);
	assert_string_equal(p.uid, "465142ab-e5aa-4203-a2c4-8a53763b3db8");
	assert_string_equal(p.qos_class, "Burstable");
	assert_string_equal(p.owner_kind, "DaemonSet");
	assert_int_equal(p.ncontainers, 1);
	c = &p.containers[0];
	assert_string_equal(c->runtime, "docker");
	assert_string_equal(c->container_id, "a679663ef486d6dc6f24e8157685eb561d26707193924555af537a158a34ec03");
	assert_int_equal(c->memory_limit_bytes, 1073741824);
	assert_int_equal(c->restart_count, 1);
	assert_string_equal(c->state, "running");
	assert_true(c->last_terminated.set);
	assert_int_equal(c->last_terminated.exit_code, 137);
	assert_string_equal(c->last_terminated.reason, "OOMKilled");
	/* the OOM-killed container was another one: its id is the old container's */
	assert_string_equal(c->last_terminated.container_id,
			    "9821ba51c94d650a7950daf2c32eb3d6582f84a3423ec555ad4b2e9161c4750b");
	cJSON_Delete(o);
}

static void test_decode_events_k8s_io_event(void **state)
{
	cJSON *list = load("eventlist-events-k8s-io-v1-scheduler-failedscheduling.json");
	struct kube_event_obj e;

	assert_int_equal(kube_event_obj_decode(cJSON_GetArrayItem(cJSON_GetObjectItem(list, "items"), 0), &e), 0);
	/* written with events.k8s.io/v1: no count, empty source, null timestamps */
	assert_int_equal(e.count, 1);
	assert_string_equal(e.source, "default-scheduler");
	assert_string_equal(e.first_time, "2023-12-24T13:37:16.335172Z");
	assert_string_equal(e.reason, "FailedScheduling");
	cJSON_Delete(list);
}

static void test_pod_encode_round_trip(void **state)
{
	static const char *const names[] = { "pod-oomkilled-laststate.json",
					     "pod-evicted-memory-pressure-burstable.status-only.json",
					     "pod-evicted-kubelet-disruptiontarget-no-status-reason.conditions-only.json",
					     "pod-terminating-deletiontimestamp.metadata-only.json" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		cJSON *o = load(names[i]), *enc;
		struct kube_pod *a = calloc(1, sizeof(*a)), *b = calloc(1, sizeof(*b));
		int r = kube_pod_decode(o, a);

		if (r == 0) {
			enc = kube_pod_encode(a);
			assert_non_null(enc);
			assert_int_equal(kube_pod_decode(enc, b), 0);
			assert_memory_equal(a, b, sizeof(*a));
			cJSON_Delete(enc);
		}
		free(a);
		free(b);
		cJSON_Delete(o);
	}
}

static void test_node_encode_round_trip(void **state)
{
	cJSON *o = cJSON_Parse(NODE_JSON("7", "{\"key\":\"aws-node-termination-handler/spot-itn\",\"effect\":\"NoSchedule\"}", "True")), *enc;
	struct kube_node a, b;

	assert_int_equal(kube_node_decode(o, &a), 0);
	enc = kube_node_encode(&a);
	assert_int_equal(kube_node_decode(enc, &b), 0);
	assert_memory_equal(&a, &b, sizeof(a));
	cJSON_Delete(enc);
	cJSON_Delete(o);
}

/* argv as the kernel holds it: each argument NUL-terminated */
static uint64_t argv_hash(const char *const *argv, uint32_t *len)
{
	char buf[2048];
	size_t n = 0;

	for (; *argv; argv++) {
		memcpy(buf + n, *argv, strlen(*argv) + 1);
		n += strlen(*argv) + 1;
	}
	*len = (uint32_t)n;
	return kube_argv_hash(buf, n, n);
}

/* aws-node's two exec probes (EKS-FACTS): one argv, liveness and readiness; a probe with $(VAR) and
 * $$ expanded as the kubelet does; a preStop hook taken as written */
static void test_exec_probes_and_hooks(void **state)
{
	static const char *grpc[] = { "/app/grpc-health-probe", "-addr=unix:///var/run/aws-node/ipamd.sock",
				      "-connect-timeout=5s", "-rpc-timeout=5s", NULL };
	static const char *expanded[] = { "/bin/check", "--port=61678", "--cost=$5", "$(UNSET)", "--from=", NULL };
	static const char *as_written[] = { "/bin/sh", "-c", "sleep $(GRACE)", NULL };
	static const char *hook_expanded[] = { "/bin/sh", "-c", "sleep 5", NULL };
	cJSON *o = cJSON_Parse(
		"{\"metadata\":{\"uid\":\"u1\",\"name\":\"aws-node-x\",\"namespace\":\"kube-system\"},\"spec\":{\"containers\":["
		"{\"name\":\"aws-node\",\"livenessProbe\":{\"exec\":{\"command\":[\"/app/grpc-health-probe\","
		"\"-addr=unix:///var/run/aws-node/ipamd.sock\",\"-connect-timeout=5s\",\"-rpc-timeout=5s\"]},"
		"\"initialDelaySeconds\":60,\"timeoutSeconds\":10},\"readinessProbe\":{\"exec\":{\"command\":["
		"\"/app/grpc-health-probe\",\"-addr=unix:///var/run/aws-node/ipamd.sock\",\"-connect-timeout=5s\","
		"\"-rpc-timeout=5s\"]},\"initialDelaySeconds\":1,\"timeoutSeconds\":10}},"
		"{\"name\":\"app\",\"env\":[{\"name\":\"PORT\",\"value\":\"1\"},{\"name\":\"PORT\",\"value\":\"61678\"},"
		"{\"name\":\"POD_IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}},{\"name\":\"GRACE\",\"value\":\"5\"}],"
		"\"startupProbe\":{\"exec\":{\"command\":[\"/bin/check\",\"--port=$(PORT)\",\"--cost=$$5\",\"$(UNSET)\","
		"\"--from=$(POD_IP)\"]},\"failureThreshold\":30},"
		"\"lifecycle\":{\"preStop\":{\"exec\":{\"command\":[\"/bin/sh\",\"-c\",\"sleep $(GRACE)\"]}}}}]}}");
	struct kube_pod p, back;
	const struct kube_exec *x;
	cJSON *enc;
	uint32_t len;
	uint64_t h;

	assert_non_null(o);
	assert_int_equal(kube_pod_decode(o, &p), 0);
	assert_int_equal(p.containers[0].nexecs, 1);
	h = argv_hash(grpc, &len);
	x = kube_container_exec(&p.containers[0], h, len);
	assert_non_null(x);
	assert_int_equal(x->kinds, KUBE_EXEC_LIVENESS | KUBE_EXEC_READINESS);
	assert_int_equal(x->liveness_threshold, 3); /* the default */
	assert_null(kube_container_exec(&p.containers[0], h, len + 1)); /* the length is part of it */

	assert_int_equal(p.containers[1].nexecs, 2);
	h = argv_hash(expanded, &len);
	x = kube_container_exec(&p.containers[1], h, len);
	assert_non_null(x);
	assert_int_equal(x->kinds, KUBE_EXEC_STARTUP);
	assert_int_equal(x->startup_threshold, 30);
	h = argv_hash(as_written, &len);
	x = kube_container_exec(&p.containers[1], h, len);
	assert_non_null(x);
	assert_int_equal(x->kinds, KUBE_EXEC_PRESTOP);
	h = argv_hash(hook_expanded, &len);
	assert_null(kube_container_exec(&p.containers[1], h, len));

	/* the checkpoint keeps the hashes */
	enc = kube_pod_encode(&p);
	assert_non_null(enc);
	assert_int_equal(kube_pod_decode(enc, &back), 0);
	assert_int_equal(back.containers[1].nexecs, 2);
	assert_memory_equal(back.containers[1].execs, p.containers[1].execs, sizeof(p.containers[1].execs));
	assert_memory_equal(back.containers[0].execs, p.containers[0].execs, sizeof(p.containers[0].execs));
	cJSON_Delete(enc);
	cJSON_Delete(o);
}

/* a long argv: the hash covers its first 256 bytes and its whole length */
static void test_long_argv_hash(void **state)
{
	char a[600], b[600];

	memset(a, 'x', sizeof(a));
	memcpy(b, a, sizeof(b));
	b[500] = 'y'; /* past what the kernel captures */
	assert_true(kube_argv_hash(a, 256, 600) == kube_argv_hash(b, 256, 600));
	assert_true(kube_argv_hash(a, 600, 600) == kube_argv_hash(b, 256, 600)); /* capture beyond 256 is cut */
	assert_true(kube_argv_hash(a, 256, 600) != kube_argv_hash(a, 256, 599));
	b[10] = 'y';
	assert_true(kube_argv_hash(a, 256, 600) != kube_argv_hash(b, 256, 600));
}

/* a container by its runtime id: the current one, or the one lastState remembers */
static void test_container_by_id(void **state)
{
	cJSON *o = load("pod-oomkilled-laststate.json");
	const struct kube_terminated *t;
	const struct kube_container *k;
	struct kube_pod p;

	assert_int_equal(kube_pod_decode(o, &p), 0);
	k = kube_pod_container_by_id(&p, "a679663ef486d6dc6f24e8157685eb561d26707193924555af537a158a34ec03", &t);
	assert_non_null(k);
	assert_null(t); /* running: not terminated */
	k = kube_pod_container_by_id(&p, "9821ba51c94d650a7950daf2c32eb3d6582f84a3423ec555ad4b2e9161c4750b", &t);
	assert_non_null(k);
	assert_non_null(t);
	assert_string_equal(t->reason, "OOMKilled");
	assert_null(kube_pod_container_by_id(&p, "ffff", &t));
	assert_null(kube_pod_container_by_id(NULL, "ffff", &t));
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantities),
		cmocka_unit_test(test_decode_oomkilled_pod),
		cmocka_unit_test(test_decode_events_k8s_io_event),
		cmocka_unit_test(test_pod_encode_round_trip),
		cmocka_unit_test(test_node_encode_round_trip),
		cmocka_unit_test(test_container_by_id),
		cmocka_unit_test(test_exec_probes_and_hooks),
		cmocka_unit_test(test_long_argv_hash),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

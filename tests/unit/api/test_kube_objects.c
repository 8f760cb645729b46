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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

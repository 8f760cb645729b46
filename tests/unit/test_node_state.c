/* kube_objects + node_state: real-shaped objects decode; transitions make records, once. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/node_state.h"
#include "golden.h"
#include "testutil.h"

#define NODE "ip-10-0-1-23.ec2.internal"

static cJSON *load(const char *name)
{
	char path[512], *buf;
	cJSON *o;

	snprintf(path, sizeof(path), FIXTURES_DIR "/k8s-objects/%s", name);
	buf = test_read_file(path, NULL);
	o = cJSON_Parse(buf);
	free(buf);
	assert_non_null(o);
	return o;
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

/* ---- node_state scenarios ---- */

struct fx {
	struct node_state *ns;
	struct record_node node;
	int n;
	char types[32][32];
	char json[32][4096];
};

static void capture(void *ctx, struct record *r)
{
	struct fx *f = ctx;

	assert_true(f->n < 32);
	r->seq = (uint64_t)f->n + 1;
	assert_true(record_encode(r, f->json[f->n], sizeof(f->json[0])) > 0);
	snprintf(f->types[f->n], sizeof(f->types[0]), "%s", r->type);
	f->n++;
}

/* every record of the scenario, whole (tests/unit/golden.h) */
static void assert_golden(struct fx *f, const char *name)
{
	const char *records[32];

	for (int i = 0; i < f->n; i++)
		records[i] = f->json[i];
	golden_assert(name, records, f->n);
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct node_state_options o = { 0 };

	f->node.node_name = NODE;
	f->node.cluster_name = "prod";
	o.node = &f->node;
	o.emit = capture;
	o.emit_ctx = f;
	o.max_events = 4;
	f->ns = node_state_new(&o);
	assert_non_null(f->ns);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	node_state_free(f->ns);
	free(f);
	return 0;
}

static void apply_json(struct fx *f, enum kube_resource res, enum kube_event_type type, const char *json)
{
	cJSON *o = cJSON_Parse(json);

	assert_non_null(o);
	node_state_apply(f->ns, res, type, o);
	cJSON_Delete(o);
}

static int count_type(struct fx *f, const char *type)
{
	int n = 0;

	for (int i = 0; i < f->n; i++)
		n += strcmp(f->types[i], type) == 0;
	return n;
}

static const char *find_record(struct fx *f, const char *type)
{
	for (int i = 0; i < f->n; i++)
		if (strcmp(f->types[i], type) == 0)
			return f->json[i];
	return NULL;
}

#define NODE_JSON(rv, taints, ready)                                                                 \
	"{\"metadata\":{\"name\":\"" NODE "\",\"uid\":\"n1\",\"resourceVersion\":\"" rv "\","           \
	"\"labels\":{\"eks.amazonaws.com/capacityType\":\"SPOT\",\"eks.amazonaws.com/nodegroup\":\"ng-spot\"," \
	"\"node.kubernetes.io/instance-type\":\"m5.large\",\"topology.kubernetes.io/zone\":\"us-east-1a\"}}," \
	"\"spec\":{\"taints\":[" taints "]},\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"" ready \
	"\",\"reason\":\"KubeletReady\",\"lastTransitionTime\":\"2026-11-24T10:00:00Z\"}]}}"

static void test_node_taints_and_conditions(void **state)
{
	struct fx *f = *state;

	node_state_relist_begin(f->ns, KUBE_NODES);
	apply_json(f, KUBE_NODES, KUBE_EV_ADDED, NODE_JSON("1", "", "True"));
	node_state_relist_end(f->ns, KUBE_NODES);
	assert_int_equal(f->n, 0); /* the baseline is state, not news */
	assert_string_equal(f->node.capacity_type, "SPOT");
	assert_string_equal(f->node.node_group, "ng-spot");

	/* NTH taints the node for a spot interruption (value: the event id, NoSchedule) */
	apply_json(f, KUBE_NODES, KUBE_EV_MODIFIED,
		   NODE_JSON("2", "{\"key\":\"aws-node-termination-handler/spot-itn\",\"value\":\"spot-itn-event-7f3a\",\"effect\":\"NoSchedule\"}", "True"));
	assert_int_equal(count_type(f, "node.taint"), 1);
	assert_int_equal(count_type(f, "node.interruption"), 1);
	assert_non_null(strstr(find_record(f, "node.taint"), "\"interruption\":true"));
	assert_non_null(strstr(find_record(f, "node.taint"), "\"CapacityType\":\"SPOT\""));
	/* a cordon on top: a second taint, the same interruption */
	apply_json(f, KUBE_NODES, KUBE_EV_MODIFIED,
		   NODE_JSON("3", "{\"key\":\"aws-node-termination-handler/spot-itn\",\"value\":\"spot-itn-event-7f3a\",\"effect\":\"NoSchedule\"},"
				  "{\"key\":\"node.kubernetes.io/unschedulable\",\"effect\":\"NoSchedule\"}", "False"));
	assert_int_equal(count_type(f, "node.taint"), 2);
	assert_int_equal(count_type(f, "node.interruption"), 1);
	assert_int_equal(count_type(f, "node.condition"), 1);
	assert_non_null(strstr(find_record(f, "node.condition"), "Ready: True -> False"));
	/* the same object again: no transition, no record */
	apply_json(f, KUBE_NODES, KUBE_EV_MODIFIED,
		   NODE_JSON("3", "{\"key\":\"aws-node-termination-handler/spot-itn\",\"value\":\"spot-itn-event-7f3a\",\"effect\":\"NoSchedule\"},"
				  "{\"key\":\"node.kubernetes.io/unschedulable\",\"effect\":\"NoSchedule\"}", "False"));
	assert_int_equal(f->n, 4);
	/* taint removed */
	apply_json(f, KUBE_NODES, KUBE_EV_MODIFIED, NODE_JSON("4", "", "False"));
	assert_int_equal(count_type(f, "node.taint"), 4);
	assert_golden(f, "node_taints_and_conditions");
}

#define EVENT_JSON(uid, reason, count)                                                            \
	"{\"metadata\":{\"uid\":\"" uid "\",\"name\":\"" NODE ".1\",\"namespace\":\"default\"},"       \
	"\"involvedObject\":{\"kind\":\"Node\",\"name\":\"" NODE "\"},\"reason\":\"" reason "\","       \
	"\"type\":\"Warning\",\"message\":\"m\",\"source\":{\"component\":\"kubelet\"},\"count\":" count "," \
	"\"firstTimestamp\":\"2026-11-24T10:00:00Z\",\"lastTimestamp\":\"2026-11-24T10:00:00Z\"}"

static void test_events_once(void **state)
{
	struct fx *f = *state;

	node_state_relist_begin(f->ns, KUBE_EVENTS);
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, EVENT_JSON("e1", "NodeNotReady", "1"));
	node_state_relist_end(f->ns, KUBE_EVENTS);
	assert_int_equal(count_type(f, "node.event"), 1);
	/* count/series updates and a relist of the same event: no new record */
	apply_json(f, KUBE_EVENTS, KUBE_EV_MODIFIED, EVENT_JSON("e1", "NodeNotReady", "2"));
	node_state_relist_begin(f->ns, KUBE_EVENTS);
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, EVENT_JSON("e1", "NodeNotReady", "3"));
	node_state_relist_end(f->ns, KUBE_EVENTS);
	/* the event's TTL ran out: we keep our record, nothing new */
	apply_json(f, KUBE_EVENTS, KUBE_EV_DELETED, EVENT_JSON("e1", "NodeNotReady", "3"));
	assert_int_equal(count_type(f, "node.event"), 1);
	/* an event about another node is not ours */
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED,
		   "{\"metadata\":{\"uid\":\"e9\"},\"involvedObject\":{\"kind\":\"Node\",\"name\":\"other\"},\"reason\":\"X\"}");
	assert_int_equal(count_type(f, "node.event"), 1);
	/* Karpenter's SpotInterrupted opens an interruption */
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, EVENT_JSON("e2", "SpotInterrupted", "1"));
	assert_int_equal(count_type(f, "node.event"), 2);
	assert_int_equal(count_type(f, "node.interruption"), 1);
	assert_golden(f, "node_events_once");
}

#define POD_JSON(uid, name, extra_meta, status)                                                           \
	"{\"metadata\":{\"uid\":\"" uid "\",\"name\":\"" name "\",\"namespace\":\"shop\"" extra_meta "},"      \
	"\"spec\":{\"nodeName\":\"" NODE "\",\"terminationGracePeriodSeconds\":30,\"containers\":[{\"name\":\"api\"," \
	"\"image\":\"api:1\",\"resources\":{\"limits\":{\"memory\":\"512Mi\"}}}]},\"status\":" status "}"

static void test_pod_evicted_by_kubelet(void **state)
{
	struct fx *f = *state;
	cJSON *cond = load("pod-evicted-kubelet-disruptiontarget-no-status-reason.conditions-only.json");
	char *status = cJSON_PrintUnformatted(cJSON_GetObjectItem(cond, "status"));
	char json[4096];

	node_state_relist_begin(f->ns, KUBE_PODS);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("p1", "api-1", "", "{\"phase\":\"Running\"}"));
	node_state_relist_end(f->ns, KUBE_PODS);
	/* the kubelet marks it (DisruptionTarget, no status.reason), then it is deleted */
	snprintf(json, sizeof(json), POD_JSON("p1", "api-1", ",\"deletionTimestamp\":\"2026-11-24T10:00:30Z\",\"deletionGracePeriodSeconds\":30", "%s"), status);
	apply_json(f, KUBE_PODS, KUBE_EV_MODIFIED, json);
	assert_int_equal(f->n, 0);
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED, json);
	assert_int_equal(count_type(f, "pod.terminated"), 1);
	assert_non_null(strstr(f->json[0], "\"cause\":\"evicted\""));
	assert_non_null(strstr(f->json[0], "\"disruption_reason\":\"TerminationByKubelet\""));
	assert_non_null(strstr(f->json[0], "\"grace_period_s\":30"));
	assert_non_null(strstr(f->json[0], "\"name\":\"api-1\""));
	assert_golden(f, "pod_evicted_by_kubelet");
	free(status);
	cJSON_Delete(cond);
}

static int64_t armed_deadline;

static void on_interruption(void *ctx, int64_t notice_ns, int64_t deadline_ns)
{
	armed_deadline = deadline_ns;
	(*(int *)ctx)++;
}

/* NTH's taint opens the interruption (deadline: notice + 120 s); IMDS's notice with the instance's own
 * time comes a second later and sets the deadline, without a second node.interruption */
static void test_imds_time_beats_the_estimate(void **state)
{
	struct fx *f = *state;
	struct node_state_options o = { 0 };
	int calls = 0;

	o.node = &f->node;
	o.emit = capture;
	o.emit_ctx = f;
	o.on_interruption = on_interruption;
	o.on_pod_ctx = &calls;
	node_state_free(f->ns);
	f->ns = node_state_new(&o);
	node_state_interruption(f->ns, "taint", "spot", 1000000000000LL, 0, "aws-node-termination-handler/spot-itn");
	assert_int_equal(armed_deadline, 1000000000000LL + 120000000000LL);
	node_state_interruption(f->ns, "imds", "spot", 1001000000000LL, 1030000000000LL, "terminate");
	assert_int_equal(calls, 2);
	assert_int_equal(armed_deadline, 1030000000000LL);
	node_state_interruption(f->ns, "event", "spot", 1002000000000LL, 0, "SpotInterruption");
	assert_int_equal(calls, 2);
	assert_int_equal(count_type(f, "node.interruption"), 1);
}

/* NTH drains a spot node through the Eviction API: the cause is the interruption */
static void test_pod_drained_by_interruption(void **state)
{
	struct fx *f = *state;

	node_state_relist_begin(f->ns, KUBE_PODS);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("p1", "api-1", "", "{\"phase\":\"Running\"}"));
	node_state_relist_end(f->ns, KUBE_PODS);
	node_state_interruption(f->ns, "taint", "spot", 0, 0, "aws-node-termination-handler/spot-itn");
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED,
		   POD_JSON("p1", "api-1", ",\"deletionTimestamp\":\"2026-11-24T10:00:30Z\"",
			    "{\"phase\":\"Running\",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\","
			    "\"reason\":\"EvictionByEvictionAPI\"}]}"));
	assert_int_equal(count_type(f, "pod.terminated"), 1);
	assert_non_null(strstr(find_record(f, "pod.terminated"), "\"cause\":\"spot_interruption\",\"interruption_source\":\"taint\",\"drained_by\":\"evicted\""));
	assert_non_null(strstr(find_record(f, "pod.terminated"), "terminated: spot interruption (EvictionByEvictionAPI)"));
	assert_golden(f, "pod_drained_by_interruption");
}

static void test_pod_evicted_status_then_deleted_once(void **state)
{
	struct fx *f = *state;
	cJSON *st = load("pod-evicted-memory-pressure.status-only.json");
	char *status = cJSON_PrintUnformatted(cJSON_GetObjectItem(st, "status"));
	char json[8192];

	node_state_relist_begin(f->ns, KUBE_PODS);
	node_state_relist_end(f->ns, KUBE_PODS);
	snprintf(json, sizeof(json), POD_JSON("p2", "cstor-0", "", "%s"), status);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, json);
	/* phase Failed, reason Evicted: reported at once, not again at deletion */
	assert_int_equal(count_type(f, "pod.terminated"), 1);
	assert_non_null(strstr(f->json[0], "\"status_reason\":\"Evicted\""));
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED, json);
	assert_int_equal(count_type(f, "pod.terminated"), 1);
	assert_golden(f, "pod_evicted_in_place");
	free(status);
	cJSON_Delete(st);
}

static void test_relist_finds_missed_deletion_once(void **state)
{
	struct fx *f = *state;
	struct node_state_stats s;

	node_state_relist_begin(f->ns, KUBE_PODS);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("a", "a", "", "{\"phase\":\"Running\"}"));
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("b", "b", "", "{\"phase\":\"Running\"}"));
	node_state_relist_end(f->ns, KUBE_PODS);
	/* a 410: the relist no longer has b */
	node_state_relist_begin(f->ns, KUBE_PODS);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("a", "a", "", "{\"phase\":\"Running\"}"));
	node_state_relist_end(f->ns, KUBE_PODS);
	assert_int_equal(count_type(f, "pod.terminated"), 1);
	assert_non_null(strstr(f->json[0], "\"observed\":\"relist\""));
	assert_non_null(strstr(f->json[0], "\"uid\":\"b\""));
	/* and again: nothing new */
	node_state_relist_begin(f->ns, KUBE_PODS);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("a", "a", "", "{\"phase\":\"Running\"}"));
	node_state_relist_end(f->ns, KUBE_PODS);
	assert_int_equal(count_type(f, "pod.terminated"), 1);
	assert_golden(f, "relist_missed_deletion");
	node_state_get_stats(f->ns, &s);
	assert_int_equal(s.pods, 1);
	assert_int_equal(s.missed_deletions, 1);
	assert_non_null(node_state_pod(f->ns, "a"));
	assert_null(node_state_pod(f->ns, "b"));
}

static void test_event_window_bounded(void **state)
{
	struct fx *f = *state;
	struct node_state_stats s;
	char uid[16], json[2048];

	node_state_relist_begin(f->ns, KUBE_EVENTS);
	node_state_relist_end(f->ns, KUBE_EVENTS);
	for (int i = 0; i < 10; i++) {
		snprintf(uid, sizeof(uid), "u%d", i);
		snprintf(json, sizeof(json), EVENT_JSON("%s", "Rebooted", "1"), uid);
		apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, json);
	}
	node_state_get_stats(f->ns, &s);
	assert_int_equal(s.events_reported, 10);
	assert_int_equal(s.events_forgotten, 6); /* max_events 4 */
}

static void test_bad_objects_counted(void **state)
{
	struct fx *f = *state;
	struct node_state_stats s;

	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, "{\"metadata\":{}}");
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, "{\"kind\":\"Event\"}");
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, "{\"metadata\":7,\"spec\":\"x\",\"status\":[]}");
	node_state_get_stats(f->ns, &s);
	assert_int_equal(s.decode_errors, 3);
	assert_int_equal(f->n, 0);
}

/* encode(decode(x)) decodes to the same struct, for every real-shaped pod */
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

/* The next run takes the pods and Node over: the first list is then a relist,
 * and what changed while the agent was down is reported, once. */
static void test_restore_then_relist(void **state)
{
	struct fx *f = *state;
	struct node_state_options o = { 0 };
	struct node_state *ns2;
	cJSON *ck;

	node_state_relist_begin(f->ns, KUBE_NODES);
	apply_json(f, KUBE_NODES, KUBE_EV_ADDED, NODE_JSON("1", "", "True"));
	node_state_relist_end(f->ns, KUBE_NODES);
	node_state_relist_begin(f->ns, KUBE_PODS);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("a", "a", "", "{\"phase\":\"Running\"}"));
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("b", "b", "", "{\"phase\":\"Running\"}"));
	node_state_relist_end(f->ns, KUBE_PODS);
	ck = node_state_checkpoint(f->ns);
	assert_non_null(ck);
	assert_int_equal(f->n, 0);

	o.node = &f->node;
	o.emit = capture;
	o.emit_ctx = f;
	ns2 = node_state_new(&o);
	assert_int_equal(node_state_restore(ns2, ck), 2);
	node_state_free(f->ns);
	f->ns = ns2;
	/* while down: b was deleted, the node was cordoned and tainted */
	node_state_relist_begin(f->ns, KUBE_NODES);
	apply_json(f, KUBE_NODES, KUBE_EV_ADDED,
		   NODE_JSON("9", "{\"key\":\"aws-node-termination-handler/spot-itn\",\"effect\":\"NoSchedule\"}", "True"));
	node_state_relist_end(f->ns, KUBE_NODES);
	node_state_relist_begin(f->ns, KUBE_PODS);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("a", "a", "", "{\"phase\":\"Running\"}"));
	node_state_relist_end(f->ns, KUBE_PODS);
	assert_int_equal(count_type(f, "pod.terminated"), 1);
	assert_non_null(strstr(find_record(f, "pod.terminated"), "\"uid\":\"b\""));
	assert_int_equal(count_type(f, "node.taint"), 1);
	assert_int_equal(count_type(f, "node.interruption"), 1);
	cJSON_Delete(ck);
}

/* found by fuzz_checkpoint: one pod uid twice in a checkpoint leaked the first */
static void test_restore_duplicate_pod(void **state)
{
	struct fx *f = *state;
	cJSON *ck = cJSON_Parse("{\"pods\":[{\"pod\":{\"metadata\":{\"uid\":\"a\",\"name\":\"x\"}}},"
				"{\"pod\":{\"metadata\":{\"uid\":\"a\",\"name\":\"y\"}}}]}");

	assert_int_equal(node_state_restore(f->ns, ck), 1);
	assert_string_equal(node_state_pod(f->ns, "a")->name, "y");
	cJSON_Delete(ck);
}

static void test_parse_time(void **state)
{
	assert_int_equal(node_state_parse_time("1970-01-01T00:00:01Z"), 1000000000LL);
	assert_int_equal(node_state_parse_time("2023-12-24T13:37:16.335172Z") % 1000000000LL, 335172000);
	assert_int_equal(node_state_parse_time("garbage"), 0);
	/* found by fuzz_imds: years whose ns do not fit in int64 */
	assert_int_equal(node_state_parse_time("6685-09-18T08:22:00Z"), 0);
	assert_int_equal(node_state_parse_time("1013-11-24T08:20:00Z"), 0);
	assert_int_equal(node_state_parse_time("2026-11-24T08:20:00+77737777:00"), 0);
	assert_int_equal(node_state_parse_time("1970-01-01T01:00:01+01:00"), 1000000000LL);
	assert_int_equal(node_state_parse_time(""), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_quantities),
		cmocka_unit_test(test_decode_oomkilled_pod),
		cmocka_unit_test(test_decode_events_k8s_io_event),
		cmocka_unit_test(test_parse_time),
		cmocka_unit_test_setup_teardown(test_node_taints_and_conditions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_evicted_by_kubelet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_evicted_status_then_deleted_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_drained_by_interruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_imds_time_beats_the_estimate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relist_finds_missed_deletion_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_window_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_objects_counted, setup, teardown),
		cmocka_unit_test(test_pod_encode_round_trip),
		cmocka_unit_test(test_node_encode_round_trip),
		cmocka_unit_test_setup_teardown(test_restore_then_relist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_duplicate_pod, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

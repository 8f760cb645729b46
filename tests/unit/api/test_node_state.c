/* node_state: transitions of pods, the Node and its events make records, once (with the join stage
 * as the observer, as the agent wires it). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/api/node_state.h"
#include "nodetrail/base/clock.h"
#include "nodetrail/join/correlate.h"
#include "nodetrail/out/encode.h"
#include "golden.h"
#include "testutil.h"

#define NODE "ip-10-0-1-23.ec2.internal"

static cJSON *load(const char *name)
{
	char rel[256];

	snprintf(rel, sizeof(rel), "k8s-objects/%s", name);
	return test_load_json(rel);
}

/* ---- node_state scenarios ---- */

/* the interruption's clock: the fixtures' morning (their events and deletions are of 2026-11-24) */
static int64_t fake_now;

static int64_t fake_clock(clockid_t id)
{
	return id == CLOCK_REALTIME ? fake_now : 1000000000LL;
}

/* the API side as the agent wires it: the node state, the interruption, and
 * the join stage as the observer that makes pod.terminated and node.condition */
struct fx {
	struct node_state *ns;
	struct interruption *it;
	struct correlator *c;
	struct cgroup_mode mode;
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
	snprintf(f->types[f->n], sizeof(f->types[0]), "%s", record_type_name(r->type));
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

static struct node_state *new_node_state(struct fx *f)
{
	struct node_state_options o = { .node = &f->node, .emit = capture, .emit_ctx = f, .interruption = f->it,
					.max_events = 4 };
	struct node_state_observer observer;
	struct node_state *ns;

	assert_int_equal(node_state_new(&o, &ns), 0);
	if (f->c) {
		observer = correlator_observer(f->c);
		node_state_set_observer(ns, &observer);
	}
	return ns;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct interruption_options io = { 0 };
	struct correlate_options co = { 0 };
	struct node_state_observer observer;

	f->node.node_name = NODE;
	f->node.cluster_name = "prod";
	f->mode.name = "v2";
	fake_now = clock_parse("2026-11-24T10:00:05Z");
	io.clock = fake_clock;
	io.node = &f->node;
	io.emit = capture;
	io.emit_ctx = f;
	assert_int_equal(interruption_new(&io, &f->it), 0);
	f->ns = new_node_state(f);
	co.node = &f->node;
	co.boot_id = "boot";
	co.mode = &f->mode;
	co.max_cgroups = 64;
	co.api = f->ns;
	co.interruption = f->it;
	co.join_window_ms = 60000;
	co.emit = capture;
	co.emit_ctx = f;
	assert_int_equal(correlator_new(&co, &f->c), 0);
	observer = correlator_observer(f->c);
	node_state_set_observer(f->ns, &observer);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	correlator_free(f->c);
	node_state_free(f->ns);
	interruption_free(f->it);
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

#define EVENT_AT(uid, reason, ns, time)                                                                    \
	"{\"metadata\":{\"uid\":\"" uid "\",\"name\":\"" NODE ".x\",\"namespace\":\"" ns "\"},"               \
	"\"involvedObject\":{\"kind\":\"Node\",\"name\":\"" NODE "\"},\"reason\":\"" reason "\","           \
	"\"type\":\"Normal\",\"message\":\"m\",\"reportingComponent\":\"kubelet\",\"count\":1,"              \
	"\"firstTimestamp\":\"" time "\"}"

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

/* NTH drains a spot node through the Eviction API: the cause is the interruption */
static void test_pod_drained_by_interruption(void **state)
{
	struct fx *f = *state;

	node_state_relist_begin(f->ns, KUBE_PODS);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("p1", "api-1", "", "{\"phase\":\"Running\"}"));
	node_state_relist_end(f->ns, KUBE_PODS);
	interruption_claim(f->it, &(struct interruption_notice){ .src = ISRC_TAINT_NTH, .kind = INTERRUPTION_SPOT,
								  .detail = "aws-node-termination-handler/spot-itn" }, 1);
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED,
		   POD_JSON("p1", "api-1", ",\"deletionTimestamp\":\"2026-11-24T10:00:30Z\"",
			    "{\"phase\":\"Running\",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\","
			    "\"reason\":\"EvictionByEvictionAPI\"}]}"));
	assert_int_equal(count_type(f, "pod.terminated"), 1);
	assert_non_null(strstr(find_record(f, "pod.terminated"), "\"cause\":\"spot_interruption\",\"interruption_source\":\"taint\",\"drained_by\":\"evicted\""));
	assert_non_null(strstr(find_record(f, "pod.terminated"), "terminated: spot interruption (EvictionByEvictionAPI)"));
	assert_golden(f, "pod_drained_by_interruption");
}

#define SPOT_TAINT "{\"key\":\"aws-node-termination-handler/spot-itn\",\"value\":\"spot-itn-7f3a\",\"effect\":\"NoSchedule\"}"
#define KARPENTER_TAINT "{\"key\":\"karpenter.sh/disrupted\",\"effect\":\"NoSchedule\"}"

static void with_node(struct fx *f, const char *rv_json_taints)
{
	node_state_relist_begin(f->ns, KUBE_NODES);
	apply_json(f, KUBE_NODES, KUBE_EV_ADDED, NODE_JSON("1", "", "True"));
	node_state_relist_end(f->ns, KUBE_NODES);
	node_state_relist_begin(f->ns, KUBE_PODS);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("p1", "api-1", "", "{\"phase\":\"Running\"}"));
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("p2", "api-2", "", "{\"phase\":\"Running\"}"));
	node_state_relist_end(f->ns, KUBE_PODS);
	node_state_relist_begin(f->ns, KUBE_EVENTS);
	node_state_relist_end(f->ns, KUBE_EVENTS);
	if (rv_json_taints)
		apply_json(f, KUBE_NODES, KUBE_EV_MODIFIED, rv_json_taints);
}

#define EVICTED_BY(uid, name, reason, when)                                                                   \
	POD_JSON(uid, name, ",\"deletionTimestamp\":\"" when "\"",                                              \
		 "{\"phase\":\"Running\",\"conditions\":[{\"type\":\"DisruptionTarget\",\"status\":\"True\","     \
		 "\"reason\":\"" reason "\"}]}")

/* a kubelet node-pressure eviction while a spot interruption is open keeps its own cause: the
 * interruption is context; a plain deletion too */
static void test_own_cause_during_interruption(void **state)
{
	struct fx *f = *state;
	cJSON *st = load("pod-evicted-memory-pressure.status-only.json");
	char *status = cJSON_PrintUnformatted(cJSON_GetObjectItem(st, "status"));
	char json[8192];
	const char *r;

	with_node(f, NODE_JSON("2", SPOT_TAINT, "True"));
	assert_int_equal(count_type(f, "node.interruption"), 1);
	snprintf(json, sizeof(json), POD_JSON("p1", "api-1", "", "%s"), status);
	apply_json(f, KUBE_PODS, KUBE_EV_MODIFIED, json);
	r = find_record(f, "pod.terminated");
	assert_non_null(r);
	assert_non_null(strstr(r, "\"cause\":\"evicted\""));
	assert_non_null(strstr(r, "\"during_interruption\":{\"kind\":\"spot_interruption\",\"source\":\"taint\","
				 "\"confirmed\":true"));
	assert_non_null(strstr(r, "The node was low on resource: memory"));
	assert_non_null(strstr(r, "terminated: evicted (Evicted), during a spot interruption,"));
	/* a deletion with no DisruptionTarget: a deletion, whoever made it */
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED,
		   POD_JSON("p2", "api-2", ",\"deletionTimestamp\":\"2026-11-24T10:00:40Z\"", "{\"phase\":\"Running\"}"));
	assert_int_equal(count_type(f, "pod.terminated"), 2);
	assert_non_null(strstr(f->json[f->n - 1], "\"cause\":\"deleted\""));
	assert_non_null(strstr(f->json[f->n - 1], "\"during_interruption\""));
	assert_golden(f, "own_cause_during_interruption");
	free(status);
	cJSON_Delete(st);
}

/* an interruption known only from an Event (self-declared) is context, never the cause */
static void test_event_alone_is_never_a_cause(void **state)
{
	struct fx *f = *state;
	const char *r;

	with_node(f, NULL);
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED,
		   EVENT_AT("s1", "SpotInterrupted", "default", "2026-11-24T10:00:01Z"));
	r = find_record(f, "node.interruption");
	assert_non_null(r);
	assert_non_null(strstr(r, "reported by kubelet in an event, unconfirmed"));
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED, EVICTED_BY("p1", "api-1", "EvictionByEvictionAPI", "2026-11-24T10:00:20Z"));
	r = find_record(f, "pod.terminated");
	assert_non_null(strstr(r, "\"cause\":\"evicted\""));
	assert_non_null(strstr(r, "\"confirmed\":false,\"reported_by\":\"kubelet\""));
	assert_non_null(strstr(r, "during a spot interruption (unconfirmed)"));
	/* the taint confirms it: the next eviction is the drain */
	apply_json(f, KUBE_NODES, KUBE_EV_MODIFIED, NODE_JSON("3", SPOT_TAINT, "True"));
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED, EVICTED_BY("p2", "api-2", "EvictionByEvictionAPI", "2026-11-24T10:00:30Z"));
	assert_non_null(strstr(f->json[f->n - 1], "\"cause\":\"spot_interruption\""));
}

/* Karpenter consolidates (its taint, its event's reason), drains one pod, then cancels */
static void test_karpenter_consolidation_cancelled(void **state)
{
	struct fx *f = *state;
	const char *r;

	with_node(f, NODE_JSON("2", KARPENTER_TAINT, "True"));
	r = find_record(f, "node.interruption");
	assert_non_null(strstr(r, "\"kind\":\"karpenter_disruption\""));
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED,
		   "{\"metadata\":{\"uid\":\"k1\",\"name\":\"" NODE ".k\",\"namespace\":\"default\"},"
		   "\"involvedObject\":{\"kind\":\"Node\",\"name\":\"" NODE "\"},\"reason\":\"DisruptionTerminating\","
		   "\"type\":\"Normal\",\"message\":\"Disrupting Node: Underutilized\",\"source\":{\"component\":\"karpenter\"},"
		   "\"count\":1,\"firstTimestamp\":\"2026-11-24T10:00:02Z\",\"lastTimestamp\":\"2026-11-24T10:00:02Z\"}");
	assert_non_null(strstr(f->json[f->n - 1], "\"changed\":[\"reason\"]"));
	assert_non_null(strstr(f->json[f->n - 1], "(Underutilized)"));
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED, EVICTED_BY("p1", "api-1", "EvictionByEvictionAPI", "2026-11-24T10:00:20Z"));
	r = find_record(f, "pod.terminated");
	assert_non_null(strstr(r, "\"cause\":\"karpenter_disruption\""));
	assert_non_null(strstr(r, "terminated: Karpenter disruption (EvictionByEvictionAPI)"));
	/* cancelled: the taint goes, the event's word with it */
	apply_json(f, KUBE_NODES, KUBE_EV_MODIFIED, NODE_JSON("3", "", "True"));
	assert_non_null(strstr(f->json[f->n - 1], "\"ended\":\"withdrawn\""));
	assert_false(interruption_get(f->it)->open);
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED, EVICTED_BY("p2", "api-2", "EvictionByEvictionAPI", "2026-11-24T10:01:20Z"));
	assert_non_null(strstr(f->json[f->n - 1], "\"cause\":\"evicted\""));
	assert_null(strstr(f->json[f->n - 1], "during_interruption"));
	assert_golden(f, "karpenter_consolidation_cancelled");
}

/* the NodeClaim's terminationGracePeriod: Karpenter's hard deadline, on the Node as an annotation */
#define KARPENTER_NODE(rv, deadline)                                                                          \
	"{\"metadata\":{\"name\":\"" NODE "\",\"uid\":\"n1\",\"resourceVersion\":\"" rv "\",\"annotations\":{"      \
	"\"karpenter.sh/nodeclaim-termination-timestamp\":\"" deadline "\"}},\"spec\":{\"taints\":[" KARPENTER_TAINT \
	"]},\"status\":{}}"

static void test_karpenter_termination_deadline(void **state)
{
	struct fx *f = *state;
	const char *r;

	with_node(f, KARPENTER_NODE("2", "2026-11-24T10:30:00Z"));
	r = find_record(f, "node.interruption");
	assert_non_null(strstr(r, "\"deadline\":\"2026-11-24T10:30:00"));
	assert_null(strstr(r, "no deadline"));
	assert_true(interruption_get(f->it)->deadline_ns == clock_parse("2026-11-24T10:30:00Z"));
	/* Karpenter moves it: an update with the new deadline */
	apply_json(f, KUBE_NODES, KUBE_EV_MODIFIED, KARPENTER_NODE("3", "2026-11-24T10:20:00Z"));
	assert_non_null(strstr(f->json[f->n - 1], "\"changed\":[\"deadline\"]"));
	assert_true(interruption_get(f->it)->deadline_ns == clock_parse("2026-11-24T10:20:00Z"));
}

/* Karpenter force-deletes what its drain has not evicted when the node's terminationGracePeriod runs
 * out, with the grace left until the node's termination time (its `Disrupted` pod event; no
 * DisruptionTarget): that is the drain. A deletion at another time stays a deletion. */
static void test_karpenter_deletion_at_node_deadline(void **state)
{
	struct fx *f = *state;
	const char *r;

	with_node(f, KARPENTER_NODE("2", "2026-11-24T10:30:00Z"));
	/* deleted at 10:29:31 with 28 s of grace: deletionTimestamp 10:29:59, the seconds truncated */
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED,
		   POD_JSON("p1", "api-1", ",\"deletionTimestamp\":\"2026-11-24T10:29:59Z\",\"deletionGracePeriodSeconds\":28",
			    "{\"phase\":\"Running\"}"));
	r = find_record(f, "pod.terminated");
	assert_non_null(r);
	assert_non_null(strstr(r, "\"cause\":\"karpenter_disruption\",\"interruption_source\":\"taint\","
				  "\"drained_by\":\"deleted_at_deadline\""));
	assert_non_null(strstr(r, "(deleted at the node's termination time), grace period 28s"));
	assert_null(strstr(r, "during_interruption"));
	/* someone deletes the other pod ten minutes before: a deletion, the disruption as context */
	apply_json(f, KUBE_PODS, KUBE_EV_DELETED,
		   POD_JSON("p2", "api-2", ",\"deletionTimestamp\":\"2026-11-24T10:20:30Z\",\"deletionGracePeriodSeconds\":30",
			    "{\"phase\":\"Running\"}"));
	r = f->json[f->n - 1];
	assert_non_null(strstr(r, "\"type\":\"pod.terminated\""));
	assert_non_null(strstr(r, "\"cause\":\"deleted\",\"during_interruption\":{\"kind\":\"karpenter_disruption\""));
	assert_null(strstr(r, "drained_by"));
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

/* an Event about the node written outside `default` is anyone's word: no record, no interruption */
static void test_event_other_namespace_ignored(void **state)
{
	struct fx *f = *state;
	struct node_state_stats s;

	node_state_relist_begin(f->ns, KUBE_EVENTS);
	node_state_relist_end(f->ns, KUBE_EVENTS);
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED,
		   EVENT_AT("x1", "SpotInterrupted", "attacker", "2026-11-24T10:00:00Z"));
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, "{\"metadata\":{\"uid\":\"x2\"},\"involvedObject\":"
						  "{\"kind\":\"Node\",\"name\":\"" NODE "\"},\"reason\":\"X\"}");
	node_state_get_stats(f->ns, &s);
	assert_int_equal(f->n, 0);
	assert_int_equal(s.events_other_namespace, 2);
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, EVENT_AT("x3", "NodeReady", "default", "2026-11-24T10:00:00Z"));
	assert_int_equal(count_type(f, "node.event"), 1);
	assert_non_null(strstr(f->json[0], "\"namespace\":\"default\""));
	assert_non_null(strstr(f->json[0], "\"reporting_component\":\"kubelet\""));
}

/* a flapping node: ten records per reason in ten minutes, then how many were held back */
static void test_event_rate_limited_per_reason(void **state)
{
	struct fx *f = *state;
	struct node_state_stats s;
	char uid[16], json[2048], t[32];

	node_state_relist_begin(f->ns, KUBE_EVENTS);
	node_state_relist_end(f->ns, KUBE_EVENTS);
	/* NodeNotReady every 20 s for 9 minutes: 27 events */
	for (int i = 0; i < 27; i++) {
		snprintf(uid, sizeof(uid), "n%d", i);
		snprintf(t, sizeof(t), "2026-11-24T10:%02d:%02dZ", i * 20 / 60, i * 20 % 60);
		snprintf(json, sizeof(json), EVENT_AT("%s", "NodeNotReady", "default", "%s"), uid, t);
		apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, json);
	}
	/* another reason in the same minutes is not held back by the first */
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, EVENT_AT("r1", "Rebooted", "default", "2026-11-24T10:05:00Z"));
	node_state_get_stats(f->ns, &s);
	assert_int_equal(count_type(f, "node.event"), 11);
	assert_int_equal(s.events_rate_limited, 17);
	assert_null(strstr(f->json[9], "suppressed_before"));
	/* the next window: written again, saying how many were not */
	apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, EVENT_AT("n99", "NodeNotReady", "default", "2026-11-24T10:11:00Z"));
	assert_int_equal(count_type(f, "node.event"), 12);
	assert_non_null(strstr(f->json[11], "\"suppressed_before\":17"));
	assert_non_null(strstr(f->json[11], "17 earlier of this reason not written: rate limit"));
}

/* more reasons than the table holds: the least recently heard is forgotten, and counted */
static void test_event_reasons_bounded(void **state)
{
	struct fx *f = *state;
	struct node_state_stats s;
	char uid[16], reason[24], json[2048];

	f->n = 0;
	node_state_relist_begin(f->ns, KUBE_EVENTS);
	node_state_relist_end(f->ns, KUBE_EVENTS);
	for (int i = 0; i < 70; i++) {
		snprintf(uid, sizeof(uid), "q%d", i);
		snprintf(reason, sizeof(reason), "Reason%d", i);
		snprintf(json, sizeof(json), EVENT_AT("%s", "%s", "default", "2026-11-24T10:00:00Z"), uid, reason);
		apply_json(f, KUBE_EVENTS, KUBE_EV_ADDED, json);
		f->n = 0; /* the capture holds 32 */
	}
	node_state_get_stats(f->ns, &s);
	assert_int_equal(s.events_reported, 70);
	assert_int_equal(s.event_reasons_forgotten, 6);
	assert_int_equal(s.events_rate_limited, 0);
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

/* The next run takes the pods and Node over: the first list is then a relist,
 * and what changed while the agent was down is reported, once. */
static void test_restore_then_relist(void **state)
{
	struct fx *f = *state;
	struct node_state *ns2;
	cJSON *ck;

	node_state_relist_begin(f->ns, KUBE_NODES);
	apply_json(f, KUBE_NODES, KUBE_EV_ADDED, NODE_JSON("1", "", "True"));
	node_state_relist_end(f->ns, KUBE_NODES);
	node_state_relist_begin(f->ns, KUBE_PODS);
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("a", "a", "", "{\"phase\":\"Running\"}"));
	apply_json(f, KUBE_PODS, KUBE_EV_ADDED, POD_JSON("b", "b", "", "{\"phase\":\"Running\"}"));
	node_state_relist_end(f->ns, KUBE_PODS);
	ck = node_state_save(f->ns);
	assert_non_null(ck);
	assert_int_equal(f->n, 0);

	ns2 = new_node_state(f);
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_node_taints_and_conditions, setup, teardown),
		cmocka_unit_test_setup_teardown(test_events_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_evicted_by_kubelet, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_evicted_status_then_deleted_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_own_cause_during_interruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_alone_is_never_a_cause, setup, teardown),
		cmocka_unit_test_setup_teardown(test_karpenter_consolidation_cancelled, setup, teardown),
		cmocka_unit_test_setup_teardown(test_karpenter_termination_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_karpenter_deletion_at_node_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pod_drained_by_interruption, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relist_finds_missed_deletion_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_window_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_other_namespace_ignored, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_rate_limited_per_reason, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_reasons_bounded, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_objects_counted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_then_relist, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_duplicate_pod, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

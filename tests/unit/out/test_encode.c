/* encode: a record as one JSON object, against a golden file; the counts as EMF. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/out/encode.h"
#include "testutil.h"

static void test_encode_golden(void **state)
{
	struct record_node node = { .cluster_name = "prod-eks", .node_name = "ip-10-0-1-23.ec2.internal" };
	struct record r = { 0 };
	char buf[4096], *want;
	cJSON *k;
	int n;

	k = cJSON_Parse("{\"pid\":4242,\"comm\":\"api\",\"exit_code\":3}");
	r.type = RECORD_CONTAINER_EXITED;
	r.event_time_ns = 1764000000123456789LL;
	r.seq = 17;
	strcpy(r.record_id, "0123456789abcdef");
	r.node = &node;
	r.pod_uid = "87c52d60-fefd-45a9-a420-895256fc03b5";
	r.qos_class = "burstable";
	r.container_id = "a126df15fba5713f57f1abad9c484cb75569e9f48f1169bd9710f63bb8af0e46";
	r.runtime = "containerd";
	r.cgroup_path = "/kubepods/burstable/pod87c52d60-fefd-45a9-a420-895256fc03b5/a126df15fba5713f57f1abad9c484cb75569e9f48f1169bd9710f63bb8af0e46";
	r.detail_key = "kernel";
	r.detail = k;
	r.sources[0] = "kernel";
	r.summary = "container a126df15fba5 (api) exited with code 3";
	n = record_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	want = test_read_file(DATA_DIR "/record/container_exited.json", NULL);
	want[strcspn(want, "\n")] = '\0';
	assert_string_equal(buf, want);
	free(want);

	/* no pod, no container: those keys are left out, not empty */
	r.pod_uid = NULL;
	r.container_id = "";
	n = record_encode(&r, buf, sizeof(buf));
	assert_true(n > 0);
	assert_null(strstr(buf, "\"pod\""));
	assert_null(strstr(buf, "\"container\""));

	/* a buffer too small is an error, never a cut record */
	assert_int_equal(record_encode(&r, buf, 40), -ENOSPC);
	cJSON_Delete(k);
}

/* --emf: the records that count carry CloudWatch Embedded Metric Format, the rest do not */
static cJSON *encode_emf(int emf, enum record_type type, struct record_counts counts)
{
	static char buf[8192];
	struct record_node node = { .cluster_name = "prod-eks", .node_name = "ip-10-0-1-23.ec2.internal", .emf = emf };
	struct record r = { 0 };
	cJSON *o;

	strcpy(node.instance_id, "i-0abc");
	strcpy(node.node_group, "ng-spot");
	r.type = type;
	r.event_time_ns = 1764000000123456789LL;
	strcpy(r.record_id, "0123456789abcdef");
	r.node = &node;
	r.summary = "s";
	r.counts = counts;
	assert_true(record_encode(&r, buf, sizeof(buf)) > 0);
	o = cJSON_Parse(buf);
	assert_non_null(o);
	return o;
}

static void test_emf(void **state)
{
	cJSON *o, *cwm;
	char *dims;

	o = encode_emf(RECORD_EMF_CLUSTER, RECORD_CONTAINER_OOM_KILLED, (struct record_counts){ .oom_kills = 1 });
	cwm = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "_aws"), "CloudWatchMetrics"), 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cwm, "Namespace")), "nodetrail");
	dims = cJSON_PrintUnformatted(cJSON_GetObjectItem(cwm, "Dimensions"));
	assert_string_equal(dims, "[[\"ClusterName\"],[\"ClusterName\",\"NodeGroup\"]]");
	free(dims);
	assert_int_equal(cJSON_GetObjectItem(o, "OOMKills")->valueint, 1);
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "_aws"), "Timestamp")->valuedouble == 1764000000123.0);
	cJSON_Delete(o);

	o = encode_emf(RECORD_EMF_NODE, RECORD_POD_TERMINATED, (struct record_counts){ .evictions = 1, .non_graceful = 1 });
	cwm = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "_aws"), "CloudWatchMetrics"), 0);
	dims = cJSON_PrintUnformatted(cJSON_GetObjectItem(cwm, "Dimensions"));
	assert_string_equal(dims, "[[\"ClusterName\"],[\"ClusterName\",\"NodeGroup\"],[\"ClusterName\",\"NodeName\",\"InstanceId\"]]");
	free(dims);
	assert_int_equal(cJSON_GetObjectItem(o, "Evictions")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(o, "NonGracefulTerminations")->valueint, 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cwm, "Metrics")), 2);
	cJSON_Delete(o);

	/* a record that counts nothing, and --emf off: no _aws */
	o = encode_emf(RECORD_EMF_NODE, RECORD_CONTAINER_EXITED, (struct record_counts){ 0 });
	assert_null(cJSON_GetObjectItem(o, "_aws"));
	cJSON_Delete(o);
	o = encode_emf(RECORD_EMF_OFF, RECORD_NODE_INTERRUPTION, (struct record_counts){ .interruptions = 1 });
	assert_null(cJSON_GetObjectItem(o, "_aws"));
	cJSON_Delete(o);
	o = encode_emf(RECORD_EMF_CLUSTER, RECORD_NODE_INTERRUPTION, (struct record_counts){ .interruptions = 1 });
	assert_int_equal(cJSON_GetObjectItem(o, "Interruptions")->valueint, 1);
	cJSON_Delete(o);
	/* a Karpenter consolidation is a disruption, not an interruption */
	o = encode_emf(RECORD_EMF_CLUSTER, RECORD_NODE_INTERRUPTION, (struct record_counts){ .disruptions = 1 });
	assert_int_equal(cJSON_GetObjectItem(o, "Disruptions")->valueint, 1);
	assert_null(cJSON_GetObjectItem(o, "Interruptions"));
	cJSON_Delete(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_golden),
		cmocka_unit_test(test_emf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

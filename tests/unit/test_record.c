/* record: exit-status decoding, the encoder against golden files, ids, seq recovery. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <regex.h>

#include "nodetrail/record.h"
#include "testutil.h"

static void test_exit_status(void **state)
{
	static const struct {
		uint32_t raw;
		int exited, code, signal, core;
	} cases[] = {
		{ 0x0000, 1, 0, 0, 0 },     /* exit(0) */
		{ 0x0300, 1, 3, 0, 0 },     /* exit(3) */
		{ 0xff00, 1, 255, 0, 0 },   /* exit(-1) */
		{ 0x8f00, 1, 143, 0, 0 },   /* a shell's exit after SIGTERM: 128+15 */
		{ 0x0009, 0, 0, 9, 0 },     /* SIGKILL */
		{ 0x000f, 0, 0, 15, 0 },    /* SIGTERM */
		{ 0x0086, 0, 0, 6, 1 },     /* SIGABRT with core */
		{ 0x008b, 0, 0, 11, 1 },    /* SIGSEGV with core */
	};
	struct exit_status es;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		exit_status_decode(cases[i].raw, &es);
		assert_int_equal(es.exited, cases[i].exited);
		assert_int_equal(es.code, cases[i].code);
		assert_int_equal(es.signal, cases[i].signal);
		assert_int_equal(es.core_dumped, cases[i].core);
	}
	assert_string_equal(signal_name(9), "SIGKILL");
	assert_string_equal(signal_name(15), "SIGTERM");
	assert_string_equal(signal_name(0), "none");
}

static void test_encode_golden(void **state)
{
	struct record_node node = { .cluster_name = "prod-eks", .node_name = "ip-10-0-1-23.ec2.internal" };
	struct record r = { 0 };
	char buf[4096], *want;
	cJSON *k;
	int n;

	k = cJSON_Parse("{\"pid\":4242,\"comm\":\"api\",\"exit_code\":3}");
	r.type = "container.exited";
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

static void test_record_id(void **state)
{
	char a[RECORD_ID_LEN + 1], b[RECORD_ID_LEN + 1], c[RECORD_ID_LEN + 1];

	record_make_id("container.exited", "boot-1", 1, 2, 3, a);
	record_make_id("container.exited", "boot-1", 1, 2, 3, b);
	record_make_id("container.exited", "boot-2", 1, 2, 3, c);
	assert_int_equal(strlen(a), RECORD_ID_LEN);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	for (int i = 0; i < RECORD_ID_LEN; i++)
		assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
}

/* --emf: the records that count carry CloudWatch Embedded Metric Format, the rest do not */
static cJSON *encode_emf(int emf, const char *type, const char *detail, const char *detail2)
{
	static char buf[8192];
	struct record_node node = { .cluster_name = "prod-eks", .node_name = "ip-10-0-1-23.ec2.internal", .emf = emf };
	struct record r = { 0 };
	cJSON *d = detail ? cJSON_Parse(detail) : NULL, *d2 = detail2 ? cJSON_Parse(detail2) : NULL, *o;

	strcpy(node.instance_id, "i-0abc");
	strcpy(node.node_group, "ng-spot");
	r.type = type;
	r.event_time_ns = 1764000000123456789LL;
	strcpy(r.record_id, "0123456789abcdef");
	r.node = &node;
	r.detail_key = "api";
	r.detail = d;
	r.detail2_key = "kernel";
	r.detail2 = d2;
	r.summary = "s";
	assert_true(record_encode(&r, buf, sizeof(buf)) > 0);
	cJSON_Delete(d);
	cJSON_Delete(d2);
	o = cJSON_Parse(buf);
	assert_non_null(o);
	return o;
}

static void test_emf(void **state)
{
	cJSON *o, *cwm;
	char *dims;

	o = encode_emf(RECORD_EMF_CLUSTER, "container.oom_killed", "{}", NULL);
	cwm = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "_aws"), "CloudWatchMetrics"), 0);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(cwm, "Namespace")), "nodetrail");
	dims = cJSON_PrintUnformatted(cJSON_GetObjectItem(cwm, "Dimensions"));
	assert_string_equal(dims, "[[\"ClusterName\"],[\"ClusterName\",\"NodeGroup\"]]");
	free(dims);
	assert_int_equal(cJSON_GetObjectItem(o, "OOMKills")->valueint, 1);
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "_aws"), "Timestamp")->valuedouble == 1764000000123.0);
	cJSON_Delete(o);

	o = encode_emf(RECORD_EMF_NODE, "pod.terminated", "{\"cause\":\"spot_interruption\",\"drained_by\":\"evicted\"}",
		       "{\"containers\":[{\"verdict\":\"graceful\"},{\"verdict\":\"killed_after_grace\"}]}");
	cwm = cJSON_GetArrayItem(cJSON_GetObjectItem(cJSON_GetObjectItem(o, "_aws"), "CloudWatchMetrics"), 0);
	dims = cJSON_PrintUnformatted(cJSON_GetObjectItem(cwm, "Dimensions"));
	assert_string_equal(dims, "[[\"ClusterName\"],[\"ClusterName\",\"NodeGroup\"],[\"ClusterName\",\"NodeName\",\"InstanceId\"]]");
	free(dims);
	assert_int_equal(cJSON_GetObjectItem(o, "Evictions")->valueint, 1);
	assert_int_equal(cJSON_GetObjectItem(o, "NonGracefulTerminations")->valueint, 1);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cwm, "Metrics")), 2);
	cJSON_Delete(o);

	/* a record that counts nothing, and --emf off: no _aws */
	o = encode_emf(RECORD_EMF_NODE, "container.exited", "{}", NULL);
	assert_null(cJSON_GetObjectItem(o, "_aws"));
	cJSON_Delete(o);
	o = encode_emf(RECORD_EMF_OFF, "node.interruption", "{}", NULL);
	assert_null(cJSON_GetObjectItem(o, "_aws"));
	cJSON_Delete(o);
	o = encode_emf(RECORD_EMF_CLUSTER, "node.interruption", "{}", NULL);
	assert_int_equal(cJSON_GetObjectItem(o, "Interruptions")->valueint, 1);
	cJSON_Delete(o);
}

/* --exec-args on: arguments, with what looks like a secret redacted */
static void test_exec_args_redacted(void **state)
{
	static const char raw[] = "psql\0--password\0hunter2\0DB_TOKEN=abc123\0--host=db\0-c\0select 1\0pin-7781";
	regex_t extra;
	cJSON *args;
	char *text;

	assert_int_equal(regcomp(&extra, "^pin-[0-9]+$", REG_EXTENDED | REG_NOSUB), 0);
	args = record_exec_args(raw, sizeof(raw) - 1, &extra);
	text = cJSON_PrintUnformatted(args);
	assert_string_equal(text, "[\"psql\",\"--password\",\"<redacted>\",\"DB_TOKEN=<redacted>\",\"--host=db\",\"-c\","
				  "\"select 1\",\"<redacted>\"]");
	free(text);
	cJSON_Delete(args);
	/* cut at the capture size mid-argument: what is there, no overrun */
	args = record_exec_args("sleep\0" "30", 8, NULL);
	text = cJSON_PrintUnformatted(args);
	assert_string_equal(text, "[\"sleep\",\"30\"]");
	free(text);
	cJSON_Delete(args);
	regfree(&extra);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_encode_golden),
		cmocka_unit_test(test_emf),
		cmocka_unit_test(test_exec_args_redacted),
		cmocka_unit_test(test_record_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

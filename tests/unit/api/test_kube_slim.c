/* kube_slim: what nodetrail reads of a pod, a node and an event is the same slimmed or not (real
 * shapes: a pod with managedFields, args, volumes, probes with $(VAR), the last-applied annotation);
 * hostile objects (460,000 empty args, a 1 MiB message, 100,000 labels) shrink to what is used and
 * still join; long strings are cut on character and escape boundaries; malformed text is refused.
 * And a list streamed item by item, cut anywhere. */
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
#include "nodetrail/api/kube_slim.h"
#include "nodetrail/api/kube_watch.h"
#include "nodetrail/base/utf8.h"
#include "testutil.h"

#define POD                                                                                                     \
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"aws-node-x2k9p\",\"namespace\":\"kube-system\"," \
	"\"uid\":\"5b0e7d1c-3a2f-4e6d-9c8b-7a6f5e4d3c2b\",\"resourceVersion\":\"81234\",\"labels\":{\"k8s-app\":\"aws-node\"}," \
	"\"annotations\":{\"kubernetes.io/config.mirror\":\"0c2b6c3e1a8e4a2b9d1e6b0c5a7f3e21\","                     \
	"\"kubectl.kubernetes.io/last-applied-configuration\":\"{\\\"apiVersion\\\":\\\"v1\\\",\\\"kind\\\":\\\"Pod\\\"}\"}," \
	"\"ownerReferences\":[{\"apiVersion\":\"apps/v1\",\"kind\":\"DaemonSet\",\"name\":\"aws-node\",\"uid\":\"u\"}],"       \
	"\"managedFields\":[{\"manager\":\"kubelet\",\"operation\":\"Update\",\"fieldsV1\":{\"f:status\":{}}}]},"  \
	"\"spec\":{\"nodeName\":\"ip-10-0-1-23.ec2.internal\",\"terminationGracePeriodSeconds\":10,"             \
	"\"volumes\":[{\"name\":\"cni-bin-dir\",\"hostPath\":{\"path\":\"/opt/cni/bin\"}}],"                     \
	"\"tolerations\":[{\"operator\":\"Exists\"}],\"containers\":[{\"name\":\"aws-node\","                     \
	"\"image\":\"602401143452.dkr.ecr.us-east-1.amazonaws.com/amazon-k8s-cni:v1.18.1\",\"args\":[\"--a\",\"--b\"]," \
	"\"env\":[{\"name\":\"PORT\",\"value\":\"50051\"}],\"ports\":[{\"containerPort\":61678}],"               \
	"\"resources\":{\"limits\":{\"memory\":\"256Mi\"}},"                                                      \
	"\"livenessProbe\":{\"exec\":{\"command\":[\"/app/grpc-health-probe\",\"-addr=:$(PORT)\"]},\"periodSeconds\":10}," \
	"\"readinessProbe\":{\"exec\":{\"command\":[\"/app/grpc-health-probe\",\"-addr=:$(PORT)\"]}},"           \
	"\"startupProbe\":{\"httpGet\":{\"path\":\"/\",\"port\":80},\"failureThreshold\":30},"                    \
	"\"volumeMounts\":[{\"mountPath\":\"/host/opt/cni/bin\",\"name\":\"cni-bin-dir\"}]}]},"                   \
	"\"status\":{\"phase\":\"Running\",\"qosClass\":\"Burstable\",\"conditions\":[{\"type\":\"PodScheduled\","  \
	"\"status\":\"True\",\"lastTransitionTime\":\"2026-11-30T00:00:00Z\"}],\"podIPs\":[{\"ip\":\"10.0.1.23\"}]," \
	"\"containerStatuses\":[{\"name\":\"aws-node\",\"containerID\":\"containerd://"                            \
	"4f1e3a9d2c8b7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f\",\"restartCount\":2,"                  \
	"\"state\":{\"running\":{\"startedAt\":\"2026-11-30T00:00:05Z\"}},\"lastState\":{\"terminated\":{"        \
	"\"exitCode\":137,\"reason\":\"OOMKilled\",\"finishedAt\":\"2026-11-30T00:00:04Z\"}}}]}}"

static char *slimmed(const char *in, size_t len, struct kube_slim_stats *st, long *n)
{
	char *out = malloc(len + 1);

	assert_non_null(out);
	*n = kube_slim(in, len, out, st);
	return out;
}

/* what the agent keeps of a pod (kube_pod_encode of kube_pod_decode), from its text */
static char *pod_as_kept(const char *text, size_t len)
{
	cJSON *o = cJSON_ParseWithLength(text, len), *enc;
	struct kube_pod *p = calloc(1, sizeof(*p));
	char *s;

	assert_non_null(o);
	assert_int_equal(kube_pod_decode(o, p), 0);
	enc = kube_pod_encode(p);
	s = cJSON_PrintUnformatted(enc);
	cJSON_Delete(enc);
	cJSON_Delete(o);
	free(p);
	return s;
}

static void test_pod_reads_the_same(void **state)
{
	struct kube_slim_stats st = { 0 };
	long n;
	char *out = slimmed(POD, strlen(POD), &st, &n), *a, *b;

	assert_true(n > 0);
	assert_null(strstr(out, "managedFields"));
	assert_null(strstr(out, "\"args\""));
	assert_null(strstr(out, "volumes"));
	assert_null(strstr(out, "last-applied"));
	assert_non_null(strstr(out, "kubernetes.io/config.mirror"));
	a = pod_as_kept(POD, strlen(POD));
	b = pod_as_kept(out, (size_t)n);
	assert_string_equal(a, b);
	assert_int_equal(st.objects, 1);
	assert_int_equal(st.objects_cut, 1);
	assert_int_equal(st.values_dropped, 8); /* the unused keys above, each once */
	free(a);
	free(b);
	free(out);
}

/* the real objects of the fixtures: every one reads the same */
static void test_fixtures_read_the_same(void **state)
{
	static const char *const pods[] = { "k8s-objects/pod-oomkilled-laststate.json" };
	static const char *const events[] = { "k8s-objects/event-core-v1-kubelet-killing.json",
					      "k8s-objects/event-npd-oomkilling.trimmed.json" };

	for (size_t i = 0; i < sizeof(pods) / sizeof(pods[0]); i++) {
		char path[512], *text, *out, *a, *b;
		size_t len;
		long n;

		snprintf(path, sizeof(path), FIXTURES_DIR "/%s", pods[i]);
		text = test_read_file(path, &len);
		out = slimmed(text, len, NULL, &n);
		assert_true(n > 0);
		a = pod_as_kept(text, len);
		b = pod_as_kept(out, (size_t)n);
		assert_string_equal(a, b);
		free(a);
		free(b);
		free(out);
		free(text);
	}
	{
		/* the pods of a real watch stream, line by line */
		char *text = test_read_file(FIXTURES_DIR "/k8s-objects/watch-stream-pods.assembled.ndjson", NULL), *line, *save;
		int seen = 0;

		for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			cJSON *o = cJSON_Parse(line), *s_o;
			char *out, *a, *b, *ta, *tb;
			long n;

			assert_non_null(o);
			if (strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "type")), "ADDED") &&
			    strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(o, "type")), "MODIFIED")) {
				cJSON_Delete(o); /* a BOOKMARK, an ERROR: no pod to compare */
				continue;
			}
			out = slimmed(line, strlen(line), NULL, &n);
			assert_true(n > 0);
			s_o = cJSON_ParseWithLength(out, (size_t)n);
			assert_non_null(s_o);
			ta = cJSON_PrintUnformatted(cJSON_GetObjectItem(o, "object"));
			tb = cJSON_PrintUnformatted(cJSON_GetObjectItem(s_o, "object"));
			a = pod_as_kept(ta, strlen(ta));
			b = pod_as_kept(tb, strlen(tb));
			assert_string_equal(a, b);
			seen++;
			free(a);
			free(b);
			free(ta);
			free(tb);
			free(out);
			cJSON_Delete(o);
			cJSON_Delete(s_o);
		}
		assert_int_equal(seen, 4);
		free(text);
	}
	for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
		char path[512], *text, *out;
		struct kube_event_obj a, b;
		cJSON *o;
		size_t len;
		long n;

		snprintf(path, sizeof(path), FIXTURES_DIR "/%s", events[i]);
		text = test_read_file(path, &len);
		out = slimmed(text, len, NULL, &n);
		o = cJSON_Parse(text);
		memset(&a, 0, sizeof(a));
		memset(&b, 0, sizeof(b));
		assert_int_equal(kube_event_obj_decode(o, &a), 0);
		cJSON_Delete(o);
		o = cJSON_Parse(out);
		assert_int_equal(kube_event_obj_decode(o, &b), 0);
		cJSON_Delete(o);
		assert_memory_equal(&a, &b, sizeof(a));
		free(out);
		free(text);
	}
}

/* 460,000 empty args (1.4 MiB), 100,000 labels, a 1 MiB message: what is used survives, small */
static void test_hostile_pod_shrinks_and_joins(void **state)
{
	const char *head = "{\"metadata\":{\"name\":\"big\",\"namespace\":\"shop\",\"uid\":\"u-big\",\"labels\":{";
	const char *mid = "}},\"spec\":{\"nodeName\":\"n\",\"containers\":[{\"name\":\"app\",\"args\":[";
	const char *tail = "]}]},\"status\":{\"phase\":\"Running\",\"message\":\"%s\",\"containerStatuses\":[{\"name\":\"app\","
			   "\"containerID\":\"containerd://4f1e3a9d2c8b7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f\","
			   "\"restartCount\":7,\"state\":{\"running\":{}}}]}}";
	size_t cap = 8u << 20, o = 0;
	char *text = malloc(cap), *msg = malloc(1u << 20), *out;
	struct kube_slim_stats st = { 0 };
	struct kube_pod *p = calloc(1, sizeof(*p));
	cJSON *parsed;
	long n;

	memset(msg, 'x', (1u << 20) - 1);
	msg[(1u << 20) - 1] = '\0';
	o += (size_t)snprintf(text + o, cap - o, "%s", head);
	for (int i = 0; i < 100000; i++)
		o += (size_t)snprintf(text + o, cap - o, "%s\"l%d\":\"v\"", i ? "," : "", i);
	o += (size_t)snprintf(text + o, cap - o, "%s", mid);
	for (int i = 0; i < 460000; i++)
		o += (size_t)snprintf(text + o, cap - o, "%s\"\"", i ? "," : "");
	o += (size_t)snprintf(text + o, cap - o, tail, msg);
	assert_true(o < cap - 1);
	out = slimmed(text, o, &st, &n);
	assert_true(n > 0);
	assert_true(n < 64 * 1024); /* from 5 MiB */
	parsed = cJSON_ParseWithLength(out, (size_t)n);
	assert_non_null(parsed);
	assert_int_equal(kube_pod_decode(parsed, p), 0);
	assert_string_equal(p->uid, "u-big");
	assert_int_equal(p->ncontainers, 1);
	assert_string_equal(p->containers[0].name, "app");
	assert_int_equal(p->containers[0].restart_count, 7);
	assert_string_equal(p->containers[0].container_id,
			    "4f1e3a9d2c8b7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f");
	assert_true(st.values_dropped >= 100000 - KUBE_SLIM_ELEMENTS + 1);
	assert_int_equal(st.strings_cut, 1);
	cJSON_Delete(parsed);
	free(p);
	free(out);
	free(msg);
	free(text);
}

/* a long string is cut between characters and escapes, and stays valid */
static void test_strings_cut_on_boundaries(void **state)
{
	char *text = malloc(3 * KUBE_SLIM_STRING), *out;
	const char *pieces[] = { "\xc3\xa9", "\\u00e9", "\\ud83d\\udc33", "\\\"", "a" };
	cJSON *o;
	long n;

	for (size_t k = 0; k < sizeof(pieces) / sizeof(pieces[0]); k++) {
		for (size_t shift = 0; shift < 12; shift++) {
			size_t t = 0;

			text[t++] = '"';
			for (size_t i = 0; i < shift; i++)
				text[t++] = 'x';
			while (t < 2 * KUBE_SLIM_STRING)
				t += (size_t)sprintf(text + t, "%s", pieces[k]);
			text[t++] = '"';
			out = slimmed(text, t, NULL, &n);
			assert_true(n > 0 && n <= KUBE_SLIM_STRING + 2);
			o = cJSON_ParseWithLength(out, (size_t)n);
			assert_non_null(o);
			assert_true(utf8_valid(o->valuestring, strlen(o->valuestring)));
			cJSON_Delete(o);
			free(out);
		}
	}
	free(text);
}

static void test_malformed_refused(void **state)
{
	static const char *const bad[] = { "", "{", "{\"a\":}", "{\"a\" 1}", "[1,]", "{\"a\":1,}", "\"abc",
					   "{\"a\":\"\\", "{\"a\":1} x", "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]" };
	char out[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(kube_slim(bad[i], strlen(bad[i]), out, NULL), -1);
	assert_int_equal(kube_slim(" [1, true, null, -2.5e3, {}] ", 29, out, NULL), 23);
	assert_string_equal(out, "[1,true,null,-2.5e3,{}]");
}

/* ---- lists, item by item ---- */

struct items {
	int n;
	char text[8][512];
};

static void take(void *ctx, const char *text, size_t len)
{
	struct items *it = ctx;

	assert_true(it->n < 8 && len < 512);
	assert_int_equal(strlen(text), len);
	memcpy(it->text[it->n++], text, len + 1);
}

#define LIST "{\"kind\":\"PodList\",\"apiVersion\":\"v1\",\"metadata\":{\"resourceVersion\":\"4242\"},\"items\":[" \
	     "{\"metadata\":{\"name\":\"a\",\"annotations\":{\"x\":\"}]{[\\\"\"}}},{\"metadata\":{\"name\":\"b\"},\"spec\":[]}," \
	     "{\"metadata\":{\"name\":\"big\",\"labels\":{\"l\":\"" "0123456789012345678901234567890123456789" "\"}}}]}"

static void test_list_items_at_every_cut(void **state)
{
	size_t len = strlen(LIST);

	for (size_t cut = 0; cut <= len; cut++) {
		struct kube_list_splitter ls;
		struct items it = { 0 };
		char rv[32];

		kube_list_splitter_init(&ls, 80); /* the third item is over the cap */
		assert_int_equal(kube_list_splitter_feed(&ls, LIST, cut, take, &it), 0);
		assert_int_equal(kube_list_splitter_feed(&ls, LIST + cut, len - cut, take, &it), 0);
		assert_int_equal(kube_list_splitter_finish(&ls, rv, sizeof(rv)), 0);
		assert_string_equal(rv, "4242");
		assert_int_equal(it.n, 2);
		assert_string_equal(it.text[0], "{\"metadata\":{\"name\":\"a\",\"annotations\":{\"x\":\"}]{[\\\"\"}}}");
		assert_string_equal(it.text[1], "{\"metadata\":{\"name\":\"b\"},\"spec\":[]}");
		assert_int_equal(ls.items, 2);
		assert_int_equal(ls.oversized, 1);
		kube_list_splitter_free(&ls);
	}
}

/* a Status, a list cut short, not JSON: no resourceVersion, the caller retries */
static void test_list_not_whole(void **state)
{
	static const char *const bad[] = { "{\"kind\":\"Status\",\"code\":410}", "[1,2]", "{\"metadata\":{\"resourceVersion\":\"1\"},\"items\":[{\"a\":1}",
					   "{\"items\":[]}", "}" };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct kube_list_splitter ls;
		struct items it = { 0 };
		char rv[32];

		kube_list_splitter_init(&ls, 0);
		kube_list_splitter_feed(&ls, bad[i], strlen(bad[i]), take, &it);
		assert_int_equal(kube_list_splitter_finish(&ls, rv, sizeof(rv)), -EINVAL);
		kube_list_splitter_free(&ls);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pod_reads_the_same),
		cmocka_unit_test(test_fixtures_read_the_same),
		cmocka_unit_test(test_hostile_pod_shrinks_and_joins),
		cmocka_unit_test(test_strings_cut_on_boundaries),
		cmocka_unit_test(test_malformed_refused),
		cmocka_unit_test(test_list_items_at_every_cut),
		cmocka_unit_test(test_list_not_whole),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

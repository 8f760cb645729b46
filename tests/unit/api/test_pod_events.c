/* pod_events: which pods are in trouble, when their events are listed, what is written (once per
 * event and count), and what the caps refuse. The list is the test's: it answers by hand. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/api/pod_events.h"
#include "nodetrail/base/redact.h"
#include "nodetrail/out/encode.h"

#define UID_A "5b0e7d1c-3a2f-4e6d-9c8b-7a6f5e4d3c2b"
#define UID_B "6c1f8e2d-4b3a-4f7e-8d9c-8b7a6f5e4d3c"
#define UID_C "7d2a9f3e-5c4b-4a8f-9e0d-9c8b7a6f5e4d"
#define T0 1795996800000000000LL /* 2026-11-30T00:00:00Z */

static int64_t fake_now;

static int64_t fake_clock(void)
{
	return fake_now;
}

struct call {
	char ns[64], resource[32], selector[128];
	kube_fetch_done done;
	void *ctx;
};

struct fx {
	int observed;             /* events the observer saw */
	int observed_done;        /* lists it saw end */
	char observed_uid[40];
	struct pod_events *pe;
	struct record_node node;
	struct call calls[16];
	int ncalls;
	int n;
	char types[16][32];
	char json[16][4096];
};

static int fake_fetch(void *fctx, const char *ns, const char *resource, const char *selector, kube_fetch_done done,
		      void *ctx)
{
	struct fx *f = fctx;
	struct call *c = &f->calls[f->ncalls++];

	assert_true(f->ncalls <= 16);
	snprintf(c->ns, sizeof(c->ns), "%s", ns);
	snprintf(c->resource, sizeof(c->resource), "%s", resource);
	snprintf(c->selector, sizeof(c->selector), "%s", selector);
	c->done = done;
	c->ctx = ctx;
	return 0;
}

static void capture(void *ctx, struct record *r)
{
	struct fx *f = ctx;

	assert_true(f->n < 16);
	r->seq = (uint64_t)f->n + 1;
	assert_true(record_encode(r, f->json[f->n], sizeof(f->json[0])) > 0);
	snprintf(f->types[f->n], sizeof(f->types[0]), "%s", record_type_name(r->type));
	f->n++;
}

static void fake_observe(void *ctx, const char *uid, const struct kube_event_obj *e)
{
	struct fx *f = ctx;

	snprintf(f->observed_uid, sizeof(f->observed_uid), "%s", uid);
	if (e)
		f->observed++;
	else
		f->observed_done++;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct pod_events_options o = { .node = &f->node, .emit = capture, .emit_ctx = f, .fetch = fake_fetch,
					.fetch_ctx = f, .clock = fake_clock, .per_minute = 2, .observe = fake_observe,
					.observe_ctx = f };

	f->node.node_name = "ip-10-0-1-23.ec2.internal";
	fake_now = T0;
	assert_int_equal(pod_events_new(&o, &f->pe), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	pod_events_free(f->pe);
	free(f);
	return 0;
}

/* a pod of this node: phase, and its container's waiting reason ("" for running) */
static void pod(struct fx *f, const char *uid, const char *name, const char *phase, const char *waiting, bool deleted)
{
	char json[2048];
	struct kube_pod *p = malloc(sizeof(*p));
	cJSON *o;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"uid\":\"%s\",\"name\":\"%s\",\"namespace\":\"shop\"},\"spec\":{\"nodeName\":\"n\","
		 "\"containers\":[{\"name\":\"app\"}]},\"status\":{\"phase\":\"%s\",\"conditions\":[{\"type\":"
		 "\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"2026-11-30T00:00:00Z\"}],"
		 "\"containerStatuses\":[{\"name\":\"app\",\"state\":{%s%s%s}}]}}",
		 uid, name, phase, waiting[0] ? "\"waiting\":{\"reason\":\"" : "\"running\":{}", waiting,
		 waiting[0] ? "\"}" : "");
	o = cJSON_Parse(json);
	assert_non_null(o);
	assert_int_equal(kube_pod_decode(o, p), 0);
	pod_events_pod_changed(f->pe, p, deleted);
	cJSON_Delete(o);
	free(p);
}

#define EVENT(uid, type, reason, count, msg)                                                                   \
	"{\"metadata\":{\"uid\":\"" uid "\",\"namespace\":\"shop\"},\"type\":\"" type "\",\"reason\":\"" reason "\"," \
	"\"count\":" #count ",\"message\":\"" msg "\",\"source\":{\"component\":\"kubelet\"},"                    \
	"\"involvedObject\":{\"kind\":\"Pod\",\"fieldPath\":\"spec.containers{app}\"},"                          \
	"\"firstTimestamp\":\"2026-11-30T00:00:00Z\",\"lastTimestamp\":\"2026-11-30T00:01:00Z\"}"

static void answer(struct fx *f, int call, const char *items)
{
	char json[8192];
	cJSON *o;

	snprintf(json, sizeof(json), "{\"kind\":\"EventList\",\"items\":[%s]}", items);
	o = cJSON_Parse(json);
	assert_non_null(o);
	f->calls[call].done(f->calls[call].ctx, o, 200, "");
	cJSON_Delete(o);
}

static cJSON *record(struct fx *f, int i)
{
	cJSON *o = cJSON_Parse(f->json[i]);

	assert_non_null(o);
	return o;
}

static const char *str(cJSON *o, const char *a, const char *b)
{
	cJSON *x = cJSON_GetObjectItem(o, a);

	return cJSON_GetStringValue(b ? cJSON_GetObjectItem(x, b) : x);
}

/* CrashLoopBackOff: the events at once, Warning ones and Killing written, once per count */
static void test_crash_loop_events_once_per_count(void **state)
{
	struct fx *f = *state;
	struct pod_events_stats st;
	cJSON *o;

	pod(f, UID_A, "api-1", "Running", "CrashLoopBackOff", false);
	assert_int_equal(f->ncalls, 1);
	assert_string_equal(f->calls[0].ns, "shop");
	assert_string_equal(f->calls[0].resource, "events");
	assert_string_equal(f->calls[0].selector, "involvedObject.uid=" UID_A);
	answer(f, 0, EVENT("e1", "Warning", "BackOff", 5, "Back-off restarting failed container app") ","
		     EVENT("e2", "Normal", "Pulled", 6, "Container image already present on machine") ","
		     EVENT("e3", "Normal", "Killing", 1, "Container app failed liveness probe, will be restarted"));
	assert_int_equal(f->n, 2);
	o = record(f, 0);
	assert_string_equal(str(o, "type", NULL), "pod.event");
	assert_string_equal(str(o, "api", "reason"), "BackOff");
	assert_string_equal(str(o, "api", "trouble"), "CrashLoopBackOff");
	assert_string_equal(str(o, "pod", "name"), "api-1");
	assert_string_equal(str(o, "container", "name"), "app");
	assert_string_equal(str(o, "summary", NULL),
			    "pod shop/api-1 container app event BackOff (Warning, kubelet): Back-off restarting failed "
			    "container app (5 times)");
	cJSON_Delete(o);
	o = record(f, 1);
	assert_string_equal(str(o, "api", "reason"), "Killing");
	cJSON_Delete(o);
	/* the next status of the same trouble: no list before the interval */
	pod(f, UID_A, "api-1", "Running", "CrashLoopBackOff", false);
	assert_int_equal(f->ncalls, 1);
	fake_now += 301 * 1000000000LL;
	pod_events_tick(f->pe);
	assert_int_equal(f->ncalls, 2);
	answer(f, 1, EVENT("e1", "Warning", "BackOff", 5, "Back-off restarting failed container app") ","
		     EVENT("e3", "Normal", "Killing", 1, "Container app failed liveness probe, will be restarted"));
	assert_int_equal(f->n, 2); /* nothing new */
	fake_now += 301 * 1000000000LL;
	pod_events_tick(f->pe);
	answer(f, 2, EVENT("e1", "Warning", "BackOff", 6, "Back-off restarting failed container app"));
	assert_int_equal(f->n, 3); /* the count moved */
	/* out of trouble: no longer listed */
	pod(f, UID_A, "api-1", "Running", "", false);
	fake_now += 301 * 1000000000LL;
	pod_events_tick(f->pe);
	assert_int_equal(f->ncalls, 3);
	pod_events_get_stats(f->pe, &st);
	assert_int_equal(st.fetches, 3);
	assert_int_equal(st.written, 3);
	assert_int_equal(st.troubled, 0);
}

/* Pending: nothing before the threshold, then the events, named by how long */
static void test_pending_past_threshold(void **state)
{
	struct fx *f = *state;
	cJSON *o;

	fake_now = T0 + 30 * 1000000000LL;
	pod(f, UID_B, "web-1", "Pending", "ContainerCreating", false);
	pod_events_tick(f->pe);
	assert_int_equal(f->ncalls, 0);
	fake_now = T0 + 75 * 1000000000LL;
	pod_events_tick(f->pe);
	assert_int_equal(f->ncalls, 1);
	answer(f, 0, EVENT("e9", "Warning", "FailedCreatePodSandBox", 3,
			   "Failed to create pod sandbox: plugin type=aws-cni name=aws-cni failed (add): add cmd: "
			   "failed to assign an IP address to container"));
	assert_int_equal(f->n, 1);
	o = record(f, 0);
	assert_string_equal(str(o, "api", "trouble"), "Pending for 75 s");
	assert_string_equal(str(o, "api", "reason"), "FailedCreatePodSandBox");
	cJSON_Delete(o);
}

/* the per-minute budget: the third list waits for the next minute; a failed list is counted and retried */
static void test_budget_and_failures(void **state)
{
	struct fx *f = *state;
	struct pod_events_stats st;

	pod(f, UID_A, "a", "Running", "ImagePullBackOff", false);
	pod(f, UID_B, "b", "Running", "ErrImagePull", false);
	pod(f, UID_C, "c", "Running", "CreateContainerConfigError", false);
	assert_int_equal(f->ncalls, 2);
	pod_events_get_stats(f->pe, &st);
	assert_int_equal(st.rate_limited, 1);
	assert_int_equal(st.troubled, 3);
	f->calls[0].done(f->calls[0].ctx, NULL, 403, "HTTP 403");
	fake_now += 61 * 1000000000LL;
	pod_events_tick(f->pe);
	assert_int_equal(f->ncalls, 3);
	assert_string_equal(f->calls[2].selector, "involvedObject.uid=" UID_C);
	pod_events_get_stats(f->pe, &st);
	assert_int_equal(st.fetch_errors, 1);
	/* a pod deleted while its list is in flight: the answer writes nothing */
	pod(f, UID_B, "b", "Running", "ErrImagePull", true);
	answer(f, 1, EVENT("e5", "Warning", "Failed", 1, "Failed to pull image"));
	assert_int_equal(f->n, 0);
}

/* a probe's message quotes argv or output: secrets redacted, the message capped */
static void test_message_redacted_and_capped(void **state)
{
	struct fx *f = *state;
	char long_msg[600], out[POD_EVENTS_MESSAGE_MAX + 8];
	cJSON *o;

	pod(f, UID_A, "db-0", "Running", "CrashLoopBackOff", false);
	answer(f, 0, EVENT("e7", "Warning", "Unhealthy", 3,
			   "Liveness probe failed: mysqladmin --password hunter2 DB_TOKEN=abc ping: connect refused"));
	o = record(f, 0);
	assert_string_equal(str(o, "api", "message"),
			    "Liveness probe failed: mysqladmin --password <redacted> DB_TOKEN=<redacted> ping: connect "
			    "refused");
	assert_null(strstr(f->json[0], "hunter2"));
	cJSON_Delete(o);
	memset(long_msg, 'x', sizeof(long_msg) - 1);
	long_msg[sizeof(long_msg) - 1] = '\0';
	redact_text(long_msg, POD_EVENTS_MESSAGE_MAX, out, sizeof(out));
	assert_int_equal(strlen(out), POD_EVENTS_MESSAGE_MAX + 3);
	assert_string_equal(out + POD_EVENTS_MESSAGE_MAX, "...");
}

/* stopped from outside and restarted (an HTTP liveness probe's kill): the kubelet's Unhealthy and Killing,
 * once; the same without a fresh restart, or with the pod being deleted, lists nothing */
static void test_probe_restart_lists_once(void **state)
{
	struct fx *f = *state;
	char json[2048];
	struct kube_pod *p = malloc(sizeof(*p));
	cJSON *o;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"uid\":\"" UID_A "\",\"name\":\"web-1\",\"namespace\":\"shop\"},\"spec\":{\"containers\":"
		 "[{\"name\":\"app\"}]},\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"app\","
		 "\"restartCount\":1,\"state\":{\"running\":{}},\"lastState\":{\"terminated\":{\"exitCode\":137,"
		 "\"reason\":\"Error\",\"finishedAt\":\"2026-11-29T23:59:30Z\"}}}]}}");
	o = cJSON_Parse(json);
	assert_int_equal(kube_pod_decode(o, p), 0);
	pod_events_pod_changed(f->pe, p, false);
	assert_int_equal(f->ncalls, 1);
	answer(f, 0, EVENT("u1", "Warning", "Unhealthy", 3, "Liveness probe failed: HTTP probe failed with statuscode: 500")
		     "," EVENT("k1", "Normal", "Killing", 1, "Container app failed liveness probe, will be restarted"));
	assert_int_equal(f->n, 2);
	assert_non_null(strstr(f->json[0], "\"trouble\":\"restarted after exit code 137\""));
	pod_events_pod_changed(f->pe, p, false);
	assert_int_equal(f->ncalls, 1); /* the same restart: listed once */
	/* killed again 20 s later: that restart's events, at once */
	cJSON_Delete(o);
	*strstr(json, "23:59:30Z") = '\0';
	strcat(json, "23:59:50Z\"}}}]}}");
	o = cJSON_Parse(json);
	assert_int_equal(kube_pod_decode(o, p), 0);
	pod_events_pod_changed(f->pe, p, false);
	assert_int_equal(f->ncalls, 2);
	answer(f, 1, EVENT("u1", "Warning", "Unhealthy", 6, "Liveness probe failed: HTTP probe failed with statuscode: 500")
		     "," EVENT("k1", "Normal", "Killing", 2, "Container app failed liveness probe, will be restarted"));
	assert_int_equal(f->n, 4);
	fake_now += 301 * 1000000000LL;
	pod_events_tick(f->pe);
	assert_int_equal(f->ncalls, 2); /* a restart is listed once */
	pod_events_pod_changed(f->pe, p, false);
	assert_int_equal(f->ncalls, 2); /* the restart is old news now */
	cJSON_Delete(o);
	free(p);
}

/* the correlator asks why a container was stopped: one list at once, every event observed, then its end,
 * even when the pod is gone by the answer; a pod in no other trouble is not followed afterwards */
static void test_explain_lists_once_and_observes(void **state)
{
	struct fx *f = *state;
	char json[1024];
	struct kube_pod *p = malloc(sizeof(*p));
	cJSON *o;

	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"uid\":\"" UID_A "\",\"name\":\"web-1\",\"namespace\":\"shop\"},\"spec\":{\"containers\":"
		 "[{\"name\":\"app\"}]},\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"app\","
		 "\"state\":{\"terminated\":{\"exitCode\":0,\"reason\":\"Completed\"}}}]}}");
	o = cJSON_Parse(json);
	assert_int_equal(kube_pod_decode(o, p), 0);
	assert_true(pod_events_explain(f->pe, p));
	assert_int_equal(f->ncalls, 1);
	assert_string_equal(f->calls[0].selector, "involvedObject.uid=" UID_A);
	assert_true(pod_events_explain(f->pe, p)); /* the list in flight answers both */
	pod_events_pod_changed(f->pe, p, false);
	assert_int_equal(f->ncalls, 1);
	answer(f, 0, EVENT("u1", "Warning", "Unhealthy", 3, "Liveness probe failed: HTTP probe failed with statuscode: 500")
		     "," EVENT("k1", "Normal", "Killing", 1, "Container app failed liveness probe, will be restarted")
		     "," EVENT("p1", "Normal", "Pulled", 1, "Container image already present on machine"));
	assert_int_equal(f->observed, 3);
	assert_int_equal(f->observed_done, 1);
	assert_string_equal(f->observed_uid, UID_A);
	assert_int_equal(f->n, 2); /* Unhealthy and Killing as pod.event records, as for any list */
	fake_now += 301 * 1000000000LL;
	pod_events_tick(f->pe);
	assert_int_equal(f->ncalls, 1); /* asked once: not listed again */
	/* asked again, then the pod is deleted before the answer; then a list that fails */
	fake_now += 61 * 1000000000LL;
	assert_true(pod_events_explain(f->pe, p));
	assert_int_equal(f->ncalls, 2);
	pod_events_pod_changed(f->pe, p, true);
	answer(f, 1, EVENT("k2", "Normal", "Killing", 2, "Container app definition changed, will be restarted"));
	assert_int_equal(f->observed, 4);
	assert_int_equal(f->observed_done, 2);
	assert_true(pod_events_explain(f->pe, p));
	f->calls[2].done(f->calls[2].ctx, NULL, 403, "forbidden");
	assert_int_equal(f->observed_done, 3);
	cJSON_Delete(o);
	free(p);
}

/* restarts past the per-minute budget: the one put off is listed at the next minute, its events written */
static void test_restart_put_off_then_listed(void **state)
{
	struct fx *f = *state;
	const char *uids[] = { UID_A, UID_B, UID_C };
	char json[2048];
	struct kube_pod *p = malloc(sizeof(*p));

	for (int i = 0; i < 3; i++) {
		cJSON *o;

		snprintf(json, sizeof(json),
			 "{\"metadata\":{\"uid\":\"%s\",\"name\":\"w%d\",\"namespace\":\"shop\"},\"spec\":{\"containers\":"
			 "[{\"name\":\"app\"}]},\"status\":{\"phase\":\"Running\",\"containerStatuses\":[{\"name\":\"app\","
			 "\"restartCount\":1,\"state\":{\"running\":{}},\"lastState\":{\"terminated\":{\"exitCode\":143,"
			 "\"reason\":\"Error\",\"finishedAt\":\"2026-11-29T23:59:50Z\"}}}]}}",
			 uids[i], i);
		o = cJSON_Parse(json);
		assert_int_equal(kube_pod_decode(o, p), 0);
		pod_events_pod_changed(f->pe, p, false);
		cJSON_Delete(o);
	}
	assert_int_equal(f->ncalls, 2);
	answer(f, 0, EVENT("a1", "Normal", "Killing", 1, "Container app failed liveness probe, will be restarted"));
	answer(f, 1, EVENT("b1", "Normal", "Killing", 1, "Container app failed liveness probe, will be restarted"));
	for (int i = 1; i <= 12; i++) {
		fake_now += 5 * 1000000000LL;
		pod_events_tick(f->pe);
	}
	assert_int_equal(f->ncalls, 3);
	assert_string_equal(f->calls[2].selector, "involvedObject.uid=" UID_C);
	answer(f, 2, EVENT("c1", "Normal", "Killing", 1, "Container app failed liveness probe, will be restarted"));
	assert_int_equal(f->n, 3);
	free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_crash_loop_events_once_per_count, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pending_past_threshold, setup, teardown),
		cmocka_unit_test_setup_teardown(test_budget_and_failures, setup, teardown),
		cmocka_unit_test_setup_teardown(test_message_redacted_and_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_probe_restart_lists_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restart_put_off_then_listed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_explain_lists_once_and_observes, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

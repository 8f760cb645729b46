/* series: each exit of a container once, history told from news, a crash loop summarised. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/join/series.h"

static void pod_with(struct kube_pod *pod, struct kube_container **k, const char *cid, const char *finished,
		     int restarts, const char *waiting)
{
	memset(pod, 0, sizeof(*pod));
	strcpy(pod->uid, "0f3c2a9e-5b7d-4e21-9a1c-2b3d4e5f6a7b");
	pod->ncontainers = 1;
	*k = &pod->containers[0];
	strcpy((*k)->name, "api");
	(*k)->restart_count = restarts;
	snprintf((*k)->waiting_reason, sizeof((*k)->waiting_reason), "%s", waiting);
	(*k)->last_terminated.set = true;
	(*k)->last_terminated.exit_code = 1;
	strcpy((*k)->last_terminated.reason, "Error");
	snprintf((*k)->last_terminated.container_id, sizeof((*k)->last_terminated.container_id), "%s", cid);
	snprintf((*k)->last_terminated.finished_at, sizeof((*k)->last_terminated.finished_at), "%s", finished);
}

static void test_news_once_and_history(void **state)
{
	struct kube_pod pod;
	struct kube_container *k;
	struct series *s;
	int64_t now = 1764000000000000000LL;

	assert_int_equal(series_new(4, &s), 0);
	/* first seen with an exit from long ago: history, not news */
	pod_with(&pod, &k, "c1", "2020-01-01T00:00:00Z", 1, "");
	assert_int_equal(series_note(s, &pod, k, &k->last_terminated, now), SERIES_HISTORY);
	assert_int_equal(series_note(s, &pod, k, &k->last_terminated, now), SERIES_SEEN);
	/* the next exit of the same container: news */
	pod_with(&pod, &k, "c2", "2026-11-24T10:00:01Z", 2, "CrashLoopBackOff");
	assert_int_equal(series_note(s, &pod, k, &k->last_terminated, now), SERIES_NEW);
	assert_int_equal(series_count(s), 1);
	series_forget_pod(s, &pod);
	assert_int_equal(series_count(s), 0);
	series_free(s);
}

static void test_summary(void **state)
{
	struct kube_pod pod;
	struct kube_container *k;
	struct series *s;
	char text[128];
	cJSON *api = cJSON_CreateObject(), *saved;

	assert_int_equal(series_new(4, &s), 0);
	pod_with(&pod, &k, "c1", "2026-11-24T10:00:01Z", 1, "");
	series_note(s, &pod, k, &k->last_terminated, 0);
	pod_with(&pod, &k, "c2", "2026-11-24T10:00:12Z", 2, "CrashLoopBackOff");
	series_note(s, &pod, k, &k->last_terminated, 0);
	/* the record of c2's exit: one exit before it, and the kubelet backing off */
	series_add_to_detail(s, api, pod.uid, k, "c2");
	series_summary(api, text, sizeof(text));
	assert_string_equal(text, ", exit 2 of a series since 2026-11-24T10:00:01.000000000Z, CrashLoopBackOff");
	/* across a restart */
	saved = series_save(s);
	series_free(s);
	assert_int_equal(series_new(4, &s), 0);
	series_restore(s, saved);
	assert_int_equal(series_count(s), 1);
	assert_int_equal(series_note(s, &pod, k, &k->last_terminated, 0), SERIES_SEEN);
	cJSON_Delete(saved);
	cJSON_Delete(api);
	series_free(s);
}

/* the cap: a container not followed is counted, never news twice */
static void test_cap(void **state)
{
	struct kube_pod pod;
	struct kube_container *k;
	struct series *s;

	assert_int_equal(series_new(1, &s), 0);
	pod_with(&pod, &k, "c1", "2026-11-24T10:00:01Z", 1, "");
	series_note(s, &pod, k, &k->last_terminated, 0);
	strcpy(pod.uid, "1b1b1b1b-5b7d-4e21-9a1c-2b3d4e5f6a7b");
	assert_int_equal(series_note(s, &pod, k, &k->last_terminated, 0), SERIES_UNTRACKED);
	assert_int_equal(series_dropped(s), 1);
	series_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_news_once_and_history),
		cmocka_unit_test(test_summary),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

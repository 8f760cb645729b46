/* kube_watch: framing at every chunk boundary, oversized lines, event decoding of real lines. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/api/kube_watch.h"
#include "testutil.h"

#define STREAM FIXTURES_DIR "/k8s-objects/watch-stream-pods.assembled.ndjson"

struct lines {
	int n;
	char *text[16];
};

static void collect(void *ctx, const char *line, size_t len)
{
	struct lines *l = ctx;

	assert_true(l->n < 16);
	assert_int_equal(strlen(line), len);
	l->text[l->n++] = strdup(line);
}

static void free_lines(struct lines *l)
{
	for (int i = 0; i < l->n; i++)
		free(l->text[i]);
	l->n = 0;
}

/* the same lines whatever the chunking: every split point, and 1-byte chunks */
static void test_every_boundary(void **state)
{
	struct lines want = { 0 }, got = { 0 };
	struct kube_framer f;
	size_t len;
	char *stream = test_read_file(STREAM, &len);

	kube_framer_init(&f, 0);
	assert_int_equal(kube_framer_feed(&f, stream, len, collect, &want), 0);
	assert_int_equal(want.n, 6);
	for (size_t cut = 0; cut <= len; cut++) {
		kube_framer_reset(&f);
		kube_framer_feed(&f, stream, cut, collect, &got);
		kube_framer_feed(&f, stream + cut, len - cut, collect, &got);
		assert_int_equal(got.n, want.n);
		for (int i = 0; i < want.n; i++)
			assert_string_equal(got.text[i], want.text[i]);
		free_lines(&got);
	}
	kube_framer_reset(&f);
	for (size_t i = 0; i < len; i++)
		kube_framer_feed(&f, stream + i, 1, collect, &got);
	assert_int_equal(got.n, want.n);
	for (int i = 0; i < want.n; i++)
		assert_string_equal(got.text[i], want.text[i]);
	free_lines(&got);
	free_lines(&want);
	kube_framer_free(&f);
	free(stream);
}

static void test_oversized_line_skipped(void **state)
{
	struct lines got = { 0 };
	struct kube_framer f;
	char big[3000];

	memset(big, 'x', sizeof(big));
	kube_framer_init(&f, 1024);
	kube_framer_feed(&f, "{\"a\":1}\n", 8, collect, &got);
	/* a 3000-byte line in three chunks: dropped, counted once, the stream goes on */
	kube_framer_feed(&f, big, 1000, collect, &got);
	kube_framer_feed(&f, big, 1000, collect, &got);
	kube_framer_feed(&f, big, 1000, collect, &got);
	kube_framer_feed(&f, "\n{\"b\":2}\r\n", 10, collect, &got);
	assert_int_equal(got.n, 2);
	assert_string_equal(got.text[0], "{\"a\":1}");
	assert_string_equal(got.text[1], "{\"b\":2}");
	assert_int_equal(f.oversized, 1);
	free_lines(&got);
	kube_framer_free(&f);
}

static void test_decode_real_lines(void **state)
{
	struct kube_event ev;
	size_t len;
	char *line;

	line = test_read_file(FIXTURES_DIR "/k8s-objects/watch-line-error-410-expired.json", &len);
	assert_int_equal(kube_event_decode(line, len, &ev, NULL), 0);
	assert_int_equal(ev.type, KUBE_EV_ERROR);
	assert_int_equal(ev.code, 410);
	kube_event_free(&ev);
	free(line);

	line = test_read_file(FIXTURES_DIR "/k8s-objects/watch-line-bookmark-pod.k8s-docs.json", &len);
	assert_int_equal(kube_event_decode(line, len, &ev, NULL), 0);
	assert_int_equal(ev.type, KUBE_EV_BOOKMARK);
	assert_string_equal(ev.resource_version, "12746");
	kube_event_free(&ev);
	free(line);

	line = test_read_file(FIXTURES_DIR "/k8s-objects/watch-line-modified-event-core-v1-kubelet-failedmount.json", &len);
	assert_int_equal(kube_event_decode(line, len, &ev, NULL), 0);
	assert_int_equal(ev.type, KUBE_EV_MODIFIED);
	assert_true(ev.resource_version[0] != '\0');
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(ev.object, "reason")), "FailedMount");
	kube_event_free(&ev);
	free(line);
}

static void test_decode_malformed(void **state)
{
	static const char *const bad[] = {
		"", "{", "not json", "[]", "{\"type\":\"ADDED\"}", "{\"type\":\"ADDED\",\"object\":[]}",
		"{\"type\":\"EXPLODED\",\"object\":{}}", "{\"type\":7,\"object\":{}}",
	};
	struct kube_event ev;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(kube_event_decode(bad[i], strlen(bad[i]), &ev, NULL), -EINVAL);
		assert_int_equal(ev.type, KUBE_EV_INVALID);
		assert_null(ev.root);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_boundary),
		cmocka_unit_test(test_oversized_line_skipped),
		cmocka_unit_test(test_decode_real_lines),
		cmocka_unit_test(test_decode_malformed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

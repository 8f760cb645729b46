/* cgroup path parser: every real path in tests/data/fixtures, and our own golden cases. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/kernel/cgroup.h"

#define MAX_COLS 9

/* split a TSV line in place; returns the number of columns */
static int split_tsv(char *line, char *cols[MAX_COLS])
{
	int n = 0;

	line[strcspn(line, "\r\n")] = '\0';
	cols[n++] = line;
	for (char *p = line; *p && n < MAX_COLS; p++) {
		if (*p == '\t') {
			*p = '\0';
			cols[n++] = p + 1;
		}
	}
	return n;
}

static const char *const no_container_roles[] = { "host", "qos", "kubepods-root", "mount-unit", "conmon",
						   "truncated", "host-view-of-container" };

static void test_fixture_paths(void **state)
{
	FILE *f = fopen(FIXTURES_DIR "/cgroup-paths.tsv", "r");
	char line[4096], *cols[MAX_COLS];
	int rows = 0, failures = 0;

	assert_non_null(f); /* tests/data/fixtures */
	assert_non_null(fgets(line, sizeof(line), f)); /* header */
	while (fgets(line, sizeof(line), f)) {
		struct cgroup_ref ref;
		const char *role;

		if (split_tsv(line, cols) < 8)
			continue;
		rows++;
		role = cols[7];
		assert_int_equal(cgroup_parse_path(cols[0], &ref), 0);
		if (strcmp(ref.pod_uid, cols[1]) != 0 || strcmp(ref.container_id, cols[2]) != 0) {
			print_error("fixture %s\n  pod_uid  got '%s' want '%s'\n  container got '%s' want '%s'\n",
				    cols[0], ref.pod_uid, cols[1], ref.container_id, cols[2]);
			failures++;
		}
		for (size_t i = 0; i < sizeof(no_container_roles) / sizeof(no_container_roles[0]); i++) {
			if (strcmp(role, no_container_roles[i]) == 0 && cgroup_kind_is_container(ref.kind)) {
				print_error("fixture %s (role %s) parsed as %s\n", cols[0], role,
					    cgroup_kind_name(ref.kind));
				failures++;
			}
		}
		/* a Kubernetes container row must come out as a container */
		if ((strcmp(role, "container") == 0 || strcmp(role, "sandbox") == 0) && cols[1][0] &&
		    ref.kind != CGROUP_KIND_CONTAINER) {
			print_error("fixture %s (role %s) parsed as %s\n", cols[0], role, cgroup_kind_name(ref.kind));
			failures++;
		}
	}
	fclose(f);
	assert_true(rows >= 100);
	assert_int_equal(failures, 0);
}

static void test_golden_paths(void **state)
{
	FILE *f = fopen(DATA_DIR "/cgroup/paths.tsv", "r");
	char line[8192], *cols[MAX_COLS];
	int rows = 0, failures = 0;

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		struct cgroup_ref ref;

		if (line[0] == '#' || line[0] == '\n' || split_tsv(line, cols) < 6)
			continue;
		rows++;
		assert_int_equal(cgroup_parse_path(cols[0], &ref), 0);
		if (strcmp(cgroup_kind_name(ref.kind), cols[1]) || strcmp(ref.pod_uid, cols[2]) ||
		    strcmp(ref.container_id, cols[3]) || strcmp(cgroup_runtime_name(ref.runtime), cols[4]) ||
		    strcmp(cgroup_qos_name(ref.qos), cols[5])) {
			print_error("golden %s\n  got  %s '%s' '%s' %s %s\n  want %s '%s' '%s' %s %s\n", cols[0],
				    cgroup_kind_name(ref.kind), ref.pod_uid, ref.container_id,
				    cgroup_runtime_name(ref.runtime), cgroup_qos_name(ref.qos), cols[1], cols[2],
				    cols[3], cols[4], cols[5]);
			failures++;
		}
	}
	fclose(f);
	assert_true(rows >= 25);
	assert_int_equal(failures, 0);
}

static void test_container_path_len(void **state)
{
	const char *child = "/kubepods/besteffort/pod0f3c2a9e-5b7d-4e21-9a1c-2b3d4e5f6a7b/"
			    "a126df15fba5713f57f1abad9c484cb75569e9f48f1169bd9710f63bb8af0e46/kube-proxy/x";
	struct cgroup_ref ref;

	assert_int_equal(cgroup_parse_path(child, &ref), 0);
	assert_int_equal(ref.kind, CGROUP_KIND_CONTAINER_CHILD);
	assert_int_equal(ref.container_path_len, strlen(child) - strlen("/kube-proxy/x"));
}

static void test_bad_input(void **state)
{
	struct cgroup_ref ref;
	char *huge = malloc(1 << 20);

	assert_int_equal(cgroup_parse_path(NULL, &ref), -EINVAL);
	assert_int_equal(cgroup_parse_path("", &ref), -EINVAL);
	/* a megabyte of slashes and junk: no crash, nothing found */
	for (int i = 0; i < (1 << 20) - 1; i++)
		huge[i] = "/kubepods:-_.pod"[i % 16];
	huge[(1 << 20) - 1] = '\0';
	assert_int_equal(cgroup_parse_path(huge, &ref), 0);
	assert_false(cgroup_kind_is_container(ref.kind));
	free(huge);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fixture_paths),
		cmocka_unit_test(test_golden_paths),
		cmocka_unit_test(test_container_path_len),
		cmocka_unit_test(test_bad_input),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

/* cgroup_map: entries, child-to-container mapping, the cap (without a kernel: no probes). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "nodetrail/kernel/cgroup_map.h"

#define UID "87c52d60-fefd-45a9-a420-895256fc03b5"
#define CID "a126df15fba5713f57f1abad9c484cb75569e9f48f1169bd9710f63bb8af0e46"
#define SYSTEMD_CTR "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod87c52d60_fefd_45a9_a420_895256fc03b5.slice/cri-containerd-" CID ".scope"

static void test_put_get_child(void **state)
{
	struct cgroup_map *m;
	const struct cgroup_entry *e;

	assert_int_equal(cgroup_map_new(8, NULL, &m), 0);
	assert_int_equal(cgroup_map_track(m, 10, 1, SYSTEMD_CTR, 123, false, &e), 0);
	assert_int_equal(e->ref.kind, CGROUP_KIND_CONTAINER);
	assert_string_equal(e->ref.pod_uid, UID);
	assert_string_equal(e->ref.container_id, CID);
	assert_int_equal(e->container_cgroup_id, 10);
	assert_int_equal(e->created_boot_ns, 123);

	/* a sub-cgroup below the container belongs to it */
	assert_int_equal(cgroup_map_track(m, 11, 10, SYSTEMD_CTR "/init", 0, false, &e), 0);
	assert_int_equal(e->ref.kind, CGROUP_KIND_CONTAINER_CHILD);
	assert_int_equal(e->container_cgroup_id, 10);
	assert_string_equal(e->ref.container_id, CID);

	assert_non_null(cgroup_map_get(m, 10));
	assert_int_equal(cgroup_map_untrack(m, 10), 0);
	assert_null(cgroup_map_get(m, 10));
	assert_int_equal(cgroup_map_untrack(m, 10), -ENOENT);
	assert_int_equal(cgroup_map_count(m), 1);
	cgroup_map_free(m);
}

static void test_cap(void **state)
{
	struct cgroup_map *m;

	assert_int_equal(cgroup_map_new(4, NULL, &m), 0);
	for (uint64_t id = 1; id <= 10; id++)
		cgroup_map_track(m, id, 0, "/kubepods/besteffort", 0, false, NULL);
	assert_int_equal(cgroup_map_count(m), 4);
	assert_int_equal(cgroup_map_dropped(m), 6);
	/* replacing an entry is not a drop */
	assert_int_equal(cgroup_map_track(m, 1, 0, "/kubepods", 0, false, NULL), 0);
	assert_int_equal(cgroup_map_dropped(m), 6);
	cgroup_map_free(m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_put_get_child),
		cmocka_unit_test(test_cap),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

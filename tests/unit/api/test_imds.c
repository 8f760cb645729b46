/* imds: the answers IMDS gives (real ones, from the fixtures) parse into notices; anything else is refused. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/api/imds.h"
#include "nodetrail/base/clock.h"
#include "testutil.h"

static char *fixture(const char *name)
{
	char path[512];

	snprintf(path, sizeof(path), FIXTURES_DIR "/imds/%s", name);
	return test_read_file(path, NULL);
}

static void test_spot_action(void **state)
{
	struct imds_notice n;
	char *body = fixture("spot-instance-action.terminate.json");

	assert_int_equal(imds_parse_spot_action(body, &n), 0);
	assert_string_equal(n.what, "terminate");
	assert_int_equal(n.time_ns, clock_parse("2017-09-18T08:22:00Z"));
	free(body);
	body = fixture("spot-instance-action.stop.json");
	assert_int_equal(imds_parse_spot_action(body, &n), 0);
	assert_string_equal(n.what, "stop");
	free(body);
	/* the 404 page, a truncated answer, the wrong shape */
	body = fixture("not-found.404.html");
	assert_int_equal(imds_parse_spot_action(body, &n), -EINVAL);
	free(body);
	assert_int_equal(imds_parse_spot_action("{\"action\": \"terminate\", \"ti", &n), -EINVAL);
	assert_int_equal(imds_parse_spot_action("[\"terminate\"]", &n), -EINVAL);
}

static void test_rebalance(void **state)
{
	struct imds_notice n;
	char *body = fixture("events-recommendations-rebalance.json");

	assert_int_equal(imds_parse_rebalance(body, &n), 0);
	assert_int_equal(n.time_ns, clock_parse("2020-10-27T08:22:00Z"));
	free(body);
	assert_int_equal(imds_parse_rebalance("{\"noticeTime\": \"soon\"}", &n), -EINVAL);
}

static void test_maintenance(void **state)
{
	struct imds_notice n;
	char *body = fixture("events-maintenance-scheduled.json");

	assert_int_equal(imds_parse_maintenance(body, &n), 1);
	assert_string_equal(n.what, "system-reboot");
	assert_int_equal(n.time_ns, 1548061243LL * 1000000000LL); /* 21 Jan 2019 09:00:43 GMT */
	free(body);
	/* canceled and completed events are history, not notices */
	body = fixture("events-maintenance-history.json");
	assert_int_equal(imds_parse_maintenance(body, &n), 0);
	free(body);
	assert_int_equal(imds_parse_maintenance("[]", &n), 0);
	assert_int_equal(imds_parse_maintenance("{\"Code\": \"system-reboot\"}", &n), -EINVAL);
	assert_int_equal(imds_parse_maintenance("[1, \"x\", null]", &n), 0);
	/* found by fuzz_imds: a year past 2262 overflowed; the notice stands, its time is unknown */
	assert_int_equal(imds_parse_maintenance("[{\"NotBefore\": \"25 Nov 4052 09:00:43 GMT\", \"Code\": \"x\"}]", &n), 1);
	assert_int_equal(n.time_ns, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spot_action),
		cmocka_unit_test(test_rebalance),
		cmocka_unit_test(test_maintenance),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

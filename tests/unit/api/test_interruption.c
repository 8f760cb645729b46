/* interruption: one per node; the first notice opens it, the instance's own time beats the
 * estimate, the drain report is due at the deadline, and a restart takes it over. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/api/interruption.h"
#include "nodetrail/out/encode.h"

struct fx {
	struct interruption *it;
	struct record_node node;
	int records;
	char json[4][4096];
	int armed;
	int64_t armed_deadline;
};

static void capture(void *ctx, struct record *r)
{
	struct fx *f = ctx;

	assert_true(f->records < 4);
	assert_int_equal(r->type, RECORD_NODE_INTERRUPTION);
	assert_true(r->durable);
	assert_int_equal(r->counts.interruptions, 1);
	assert_true(record_encode(r, f->json[f->records++], sizeof(f->json[0])) > 0);
}

static void on_armed(void *ctx, const struct interruption_info *info)
{
	struct fx *f = ctx;

	f->armed++;
	f->armed_deadline = info->deadline_ns;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct interruption_options o = { .node = &f->node, .emit = capture, .emit_ctx = f, .armed = on_armed, .ctx = f };

	f->node.node_name = "ip-10-0-1-23.ec2.internal";
	assert_int_equal(interruption_new(&o, &f->it), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;

	interruption_free(f->it);
	free(f);
	return 0;
}

/* NTH's taint opens the interruption (deadline: notice + 120 s); IMDS's notice with the instance's own
 * time comes a second later and sets the deadline, without a second node.interruption */
static void test_imds_time_beats_the_estimate(void **state)
{
	struct fx *f = *state;

	interruption_notice(f->it, "taint", "spot", 1000000000000LL, 0, "aws-node-termination-handler/spot-itn", 3);
	assert_int_equal(f->armed_deadline, 1000000000000LL + 120000000000LL);
	assert_non_null(strstr(f->json[0], "\"pods_on_node\":3"));
	assert_non_null(strstr(f->json[0], "\"api\":{\"source\":\"taint\""));
	interruption_notice(f->it, "imds", "spot", 1001000000000LL, 1030000000000LL, "terminate", 3);
	assert_int_equal(f->armed, 2);
	assert_int_equal(f->armed_deadline, 1030000000000LL);
	interruption_notice(f->it, "event", "spot", 1002000000000LL, 0, "SpotInterruption", 3);
	assert_int_equal(f->armed, 2);
	assert_int_equal(f->records, 1);
	assert_true(interruption_get(f->it)->deadline_exact);
}

static void test_drain_due_once(void **state)
{
	struct fx *f = *state;

	assert_false(interruption_drain_pending(f->it));
	interruption_notice(f->it, "imds", "spot", 1000000000000LL, 1120000000000LL, "terminate", 0);
	assert_non_null(strstr(f->json[0], "\"imds\":{"));
	assert_true(interruption_drain_pending(f->it));
	assert_false(interruption_drain_due(f->it, 1119999999999LL));
	assert_true(interruption_drain_due(f->it, 1120000000000LL));
	interruption_drain_reported(f->it);
	assert_false(interruption_drain_due(f->it, 1130000000000LL));
}

/* the next run takes it over: no second record, the drain report due again */
static void test_restore(void **state)
{
	struct fx *f = *state, g = { 0 };
	struct interruption_options o = { .node = &f->node, .emit = capture, .emit_ctx = &g, .armed = on_armed, .ctx = &g };
	struct interruption *it2;
	cJSON *saved;

	assert_null(interruption_save(f->it));
	interruption_notice(f->it, "taint", "karpenter", 1000000000000LL, 0, "karpenter.sh/disrupted", 0);
	saved = interruption_save(f->it);
	assert_non_null(saved);
	assert_int_equal(interruption_new(&o, &it2), 0);
	interruption_restore(it2, saved);
	assert_int_equal(g.records, 0);
	assert_int_equal(g.armed, 1);
	assert_true(interruption_get(it2)->open);
	assert_string_equal(interruption_get(it2)->source, "taint");
	assert_int_equal(interruption_get(it2)->deadline_ns, 1120000000000LL);
	assert_true(interruption_drain_pending(it2));
	interruption_restore(it2, NULL); /* nothing to take over: nothing changes */
	assert_true(interruption_get(it2)->open);
	interruption_free(it2);
	cJSON_Delete(saved);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_imds_time_beats_the_estimate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_due_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

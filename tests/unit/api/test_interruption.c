/* interruption: one per node, a lifecycle per notice. It opens on the first claim, is updated by a
 * better deadline, another kind or a confirmation, and ends (withdrawn, did not happen, happened),
 * one record per transition; a restart takes an open one over and never resurrects an ended one.
 * The clock is the test's: time moves by hours without waiting. */
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

#define S 1000000000LL
#define MIN (60 * S)
#define T0 (1795000000LL * S) /* 2026-11-18 */

static int64_t fake_real, fake_mono, fake_boot;

static int64_t fake_clock(clockid_t id)
{
	return id == CLOCK_REALTIME ? fake_real : id == CLOCK_BOOTTIME ? fake_boot : fake_mono;
}

/* time passes awake (both monotonic clocks move) or asleep (only BOOTTIME does) */
static void pass(int64_t ns, bool asleep)
{
	fake_real += ns;
	fake_boot += ns;
	if (!asleep)
		fake_mono += ns;
}

struct fx {
	struct interruption *it;
	struct record_node node;
	int records;
	char json[16][4096];
	struct record_counts counts[16];
	int armed, ended;
	int64_t armed_deadline;
	enum interruption_end how;
};

static void capture(void *ctx, struct record *r)
{
	struct fx *f = ctx;

	assert_true(f->records < 16);
	assert_int_equal(r->type, RECORD_NODE_INTERRUPTION);
	f->counts[f->records] = r->counts;
	assert_true(record_encode(r, f->json[f->records++], sizeof(f->json[0])) > 0);
}

static void on_armed(void *ctx, const struct interruption_info *info)
{
	struct fx *f = ctx;

	f->armed++;
	f->armed_deadline = info->deadline_ns;
}

static void on_ended(void *ctx, const struct interruption_info *info)
{
	struct fx *f = ctx;

	f->ended++;
	f->how = info->ended;
}

static struct interruption *new_it(struct fx *f, const char *boot_id)
{
	struct interruption_options o = { .node = &f->node, .emit = capture, .emit_ctx = f, .armed = on_armed,
					  .ended = on_ended, .ctx = f, .boot_id = boot_id, .clock = fake_clock };
	struct interruption *it;

	f->node.node_name = "ip-10-0-1-23.ec2.internal";
	assert_int_equal(interruption_new(&o, &it), 0);
	return it;
}

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	fake_real = T0;
	fake_mono = 3600 * S;
	fake_boot = 3700 * S;
	f->it = new_it(f, "boot-1");
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

static void claim(struct fx *f, enum interruption_source src, enum interruption_kind kind, int64_t deadline,
		  const char *detail, const char *reporter)
{
	struct interruption_notice n = { .src = src, .kind = kind, .deadline_ns = deadline,
					 .exact = src == ISRC_IMDS_ACTION || src == ISRC_IMDS_MAINTENANCE,
					 .detail = detail, .reporter = reporter };

	interruption_claim(f->it, &n, 3);
}

static const char *last(struct fx *f)
{
	assert_true(f->records > 0);
	return f->json[f->records - 1];
}

#define HAS(json, text) assert_non_null(strstr((json), (text)))

/* NTH's taint opens it (deadline: notice + 120 s, estimated); IMDS's notice with the instance's
 * own time updates it; Karpenter's event of the same interruption changes nothing */
static void test_imds_time_beats_the_estimate(void **state)
{
	struct fx *f = *state;

	claim(f, ISRC_TAINT_NTH, INTERRUPTION_SPOT, 0, "aws-node-termination-handler/spot-itn", NULL);
	assert_int_equal(f->records, 1);
	assert_int_equal(f->armed_deadline, T0 + 120 * S);
	HAS(f->json[0], "\"transition\":\"opened\",\"kind\":\"spot_interruption\",\"source\":\"taint\",\"confirmed\":true");
	HAS(f->json[0], "\"pods_on_node\":3");
	HAS(f->json[0], "(estimated), 3 pods on the node");
	assert_int_equal(f->counts[0].interruptions, 1);
	pass(S, false);
	claim(f, ISRC_IMDS_ACTION, INTERRUPTION_SPOT, T0 + 100 * S, "terminate", NULL);
	assert_int_equal(f->records, 2);
	assert_int_equal(f->armed, 2);
	assert_int_equal(f->armed_deadline, T0 + 100 * S);
	HAS(f->json[1], "\"transition\":\"updated\"");
	HAS(f->json[1], "\"changed\":[\"deadline\"]");
	HAS(f->json[1], "\"sources\":[\"imds\",\"api\"]");
	assert_int_equal(f->counts[1].interruptions, 0); /* counted once */
	claim(f, ISRC_EVENT, INTERRUPTION_SPOT, 0, "SpotInterrupted", "karpenter");
	claim(f, ISRC_IMDS_ACTION, INTERRUPTION_SPOT, T0 + 100 * S, "terminate", NULL); /* every poll */
	assert_int_equal(f->records, 2);
	assert_true(interruption_get(f->it)->deadline_exact);
}

/* the report is due a lead before the deadline (Fluent Bit ships it while the node is there), the
 * final one at the deadline; each once */
static void test_drain_due_once(void **state)
{
	struct fx *f = *state, g = { 0 };
	struct interruption_options o = { .node = &f->node, .emit = capture, .emit_ctx = &g, .clock = fake_clock,
					  .drain_lead_ns = 15 * S };
	struct interruption *it;

	assert_false(interruption_drain_pending(f->it, false));
	claim(f, ISRC_IMDS_ACTION, INTERRUPTION_SPOT, T0 + 120 * S, "terminate", NULL);
	HAS(f->json[0], "\"imds\":{");
	assert_true(interruption_drain_pending(f->it, false));
	assert_true(interruption_drain_pending(f->it, true));
	assert_false(interruption_drain_due(f->it, T0 + 120 * S - 1));
	assert_true(interruption_drain_due(f->it, T0 + 120 * S));
	interruption_drain_reported(f->it, false);
	assert_false(interruption_drain_due(f->it, T0 + 130 * S));
	assert_true(interruption_drain_pending(f->it, true)); /* the final one is still owed */
	interruption_drain_reported(f->it, true);
	assert_false(interruption_drain_pending(f->it, true));

	assert_int_equal(interruption_new(&o, &it), 0);
	interruption_claim(it, &(struct interruption_notice){ .src = ISRC_IMDS_ACTION, .kind = INTERRUPTION_SPOT,
							       .deadline_ns = T0 + 120 * S, .exact = true }, 0);
	assert_false(interruption_drain_due(it, T0 + 105 * S - 1));
	assert_true(interruption_drain_due(it, T0 + 105 * S));
	/* a disruption has no deadline: its report is never due by the clock, it is owed until it ends */
	interruption_free(it);
}

/* Karpenter consolidates, then cancels (its taint removed): the disruption ends, withdrawn. Then a
 * real spot interruption, first only from an Event (unconfirmed, counted nowhere), then IMDS. */
static void test_karpenter_cancelled_then_spot(void **state)
{
	struct fx *f = *state;

	claim(f, ISRC_TAINT_KARPENTER, INTERRUPTION_DISRUPTION, 0, "karpenter.sh/disrupted", NULL);
	HAS(f->json[0], "\"kind\":\"karpenter_disruption\"");
	HAS(f->json[0], "Karpenter disruption of node ip-10-0-1-23.ec2.internal announced by taint (reason unknown): "
			"no deadline (drained, then gone)");
	assert_null(strstr(f->json[0], "\"deadline\""));
	assert_int_equal(f->counts[0].disruptions, 1);
	assert_int_equal(f->counts[0].interruptions, 0); /* consolidation is not a spot interruption */
	assert_int_equal(f->armed, 1);
	interruption_disruption_reason(f->it, "Underutilized");
	assert_int_equal(f->records, 2);
	HAS(f->json[1], "\"reason\":\"Underutilized\"");
	HAS(f->json[1], "\"changed\":[\"reason\"]");
	pass(5 * MIN, false);
	interruption_withdraw(f->it, ISRC_TAINT_KARPENTER);
	assert_int_equal(f->records, 3);
	HAS(f->json[2], "\"transition\":\"ended\"");
	HAS(f->json[2], "\"ended\":\"withdrawn\"");
	assert_int_equal(f->ended, 1);
	assert_false(interruption_get(f->it)->open);

	pass(MIN, false);
	claim(f, ISRC_EVENT, INTERRUPTION_SPOT, 0, "SpotInterrupted", "karpenter");
	assert_int_equal(f->records, 4);
	HAS(f->json[3], "\"transition\":\"opened\",\"kind\":\"spot_interruption\",\"source\":\"event\",\"confirmed\":false");
	HAS(f->json[3], "spot interruption of node ip-10-0-1-23.ec2.internal reported by karpenter in an event, unconfirmed");
	assert_int_equal(f->counts[3].interruptions, 0);
	claim(f, ISRC_IMDS_ACTION, INTERRUPTION_SPOT, fake_real + 110 * S, "terminate", NULL);
	assert_int_equal(f->records, 5);
	HAS(f->json[4], "\"changed\":[\"deadline\",\"confirmed\"]");
	HAS(f->json[4], "announced by event");
	assert_int_equal(f->counts[4].interruptions, 1);
	assert_string_not_equal(f->json[0] + 30, f->json[3] + 30); /* two interruptions, two ids */
}

/* one interruption at a time: Karpenter's taint, then its SpotInterrupted event upgrades the kind */
static void test_kind_upgrades_not_a_second(void **state)
{
	struct fx *f = *state;

	claim(f, ISRC_TAINT_KARPENTER, INTERRUPTION_DISRUPTION, 0, "karpenter.sh/disrupted", NULL);
	claim(f, ISRC_EVENT, INTERRUPTION_SPOT, 0, "SpotInterrupted", "karpenter");
	assert_int_equal(f->records, 2);
	HAS(f->json[1], "\"transition\":\"updated\",\"kind\":\"spot_interruption\"");
	HAS(f->json[1], "\"changed\":[\"kind\",\"deadline\"]");
	assert_int_equal(f->counts[1].interruptions, 1);
	assert_int_equal(interruption_get(f->it)->kind, INTERRUPTION_SPOT);
	assert_true(interruption_get(f->it)->confirmed); /* the taint confirms it */
	/* an Event's lesser word does not take it back down */
	claim(f, ISRC_EVENT, INTERRUPTION_DISRUPTION, 0, "DisruptionTerminating", "karpenter");
	assert_int_equal(f->records, 2);
}

/* a scheduled maintenance three weeks out is a risk, recorded once; it opens only within the
 * window before NotBefore, and a completed one ends it */
static void test_maintenance_weeks_out(void **state)
{
	struct fx *f = *state;
	int64_t not_before = T0 + 21 * 24 * 60 * MIN;

	claim(f, ISRC_IMDS_MAINTENANCE, INTERRUPTION_MAINTENANCE, not_before, "system-reboot", NULL);
	assert_int_equal(f->records, 1);
	HAS(f->json[0], "\"transition\":\"risk\"");
	HAS(f->json[0], "scheduled maintenance system-reboot");
	HAS(f->json[0], "(a risk, not an interruption)");
	assert_false(interruption_get(f->it)->open);
	assert_int_equal(f->armed, 0);
	for (int day = 0; day < 20; day++) { /* polled every day: no new record */
		pass(24 * 60 * MIN, false);
		claim(f, ISRC_IMDS_MAINTENANCE, INTERRUPTION_MAINTENANCE, not_before, "system-reboot", NULL);
		interruption_check(f->it);
	}
	assert_int_equal(f->records, 1);
	fake_real = not_before - 29 * MIN;
	interruption_check(f->it);
	assert_int_equal(f->records, 2);
	HAS(f->json[1], "\"transition\":\"opened\",\"kind\":\"maintenance\",\"source\":\"imds\"");
	HAS(f->json[1], "\"deadline_exact\":true");
	assert_int_equal(f->armed_deadline, not_before);
	assert_int_equal(interruption_get(f->it)->notice_ns, not_before - 30 * MIN);
	interruption_withdraw(f->it, ISRC_IMDS_MAINTENANCE); /* completed */
	HAS(last(f), "\"ended\":\"withdrawn\"");
}

/* the deadline passes and the node still runs: "did not happen", only a margin later; the same
 * notice answered again does not reopen it */
static void test_did_not_happen_after_margin(void **state)
{
	struct fx *f = *state;

	claim(f, ISRC_IMDS_ACTION, INTERRUPTION_SPOT, T0 + 120 * S, "terminate", NULL);
	pass(120 * S + 5 * MIN, false); /* EC2 often acts after the stated time */
	interruption_check(f->it);
	assert_true(interruption_get(f->it)->open);
	pass(5 * MIN + S, false);
	interruption_check(f->it);
	assert_false(interruption_get(f->it)->open);
	HAS(last(f), "\"ended\":\"did_not_happen\"");
	assert_int_equal(f->how, IEND_DID_NOT_HAPPEN);
	assert_int_equal(f->records, 2);
	claim(f, ISRC_IMDS_ACTION, INTERRUPTION_SPOT, T0 + 120 * S, "terminate", NULL);
	assert_int_equal(f->records, 2);
	assert_false(interruption_get(f->it)->open);
}

/* the node slept (hibernation resumes the same boot) through the deadline: it happened */
static void test_slept_through_the_deadline(void **state)
{
	struct fx *f = *state;

	claim(f, ISRC_IMDS_ACTION, INTERRUPTION_SPOT, T0 + 120 * S, "hibernate", NULL);
	pass(3 * 60 * MIN, true);
	interruption_check(f->it);
	HAS(last(f), "\"ended\":\"happened\"");
	HAS(last(f), "slept through the deadline");
}

/* an Event's word lasts its hour; an old one at a relist is history */
static void test_event_only_expires(void **state)
{
	struct fx *f = *state;
	struct interruption_notice old = { .src = ISRC_EVENT, .kind = INTERRUPTION_SPOT, .at_ns = T0 - 50 * MIN,
					   .detail = "SpotInterrupted", .reporter = "karpenter" };

	interruption_claim(f->it, &old, 0);
	assert_int_equal(f->records, 0);
	claim(f, ISRC_EVENT, INTERRUPTION_DISRUPTION, 0, "DisruptionTerminating", "karpenter");
	assert_int_equal(f->records, 1);
	assert_int_equal(f->counts[0].disruptions, 0); /* unconfirmed: counted nowhere */
	pass(61 * MIN, false);
	interruption_check(f->it);
	HAS(last(f), "\"ended\":\"withdrawn\"");
}

/* a taint removed takes the Event's word of the same thing with it (a cancelled consolidation) */
static void test_withdrawn_taint_takes_event_along(void **state)
{
	struct fx *f = *state;

	interruption_disruption_reason(f->it, "Drifted");
	claim(f, ISRC_EVENT, INTERRUPTION_DISRUPTION, 0, "DisruptionTerminating", "karpenter");
	HAS(f->json[0], "(Drifted)");
	claim(f, ISRC_TAINT_KARPENTER, INTERRUPTION_DISRUPTION, 0, "karpenter.sh/disrupted", NULL);
	HAS(f->json[1], "\"changed\":[\"confirmed\"]");
	assert_int_equal(f->counts[1].disruptions, 1);
	interruption_withdraw(f->it, ISRC_TAINT_KARPENTER);
	assert_false(interruption_get(f->it)->open);
	HAS(last(f), "\"ended\":\"withdrawn\"");
	/* the next disruption does not inherit this one's reason */
	claim(f, ISRC_TAINT_KARPENTER, INTERRUPTION_DISRUPTION, 0, "karpenter.sh/disrupted", NULL);
	HAS(last(f), "(reason unknown)");
}

/* the next run takes an open one over: no second record, the drain report due again; one of
 * another boot happened, one long past did not: neither is resurrected */
static void test_restore(void **state)
{
	struct fx *f = *state, g = { 0 }, h = { 0 }, k = { 0 };
	struct interruption *it2, *it3, *it4;
	cJSON *saved, *saved2;

	assert_null(interruption_save(f->it));
	claim(f, ISRC_TAINT_NTH, INTERRUPTION_SPOT, 0, "aws-node-termination-handler/spot-itn", NULL);
	saved = interruption_save(f->it);
	assert_non_null(saved);

	it2 = new_it(&g, "boot-1");
	interruption_restore(it2, saved);
	assert_int_equal(g.records, 0);
	assert_int_equal(g.armed, 1);
	assert_true(interruption_get(it2)->open);
	assert_string_equal(interruption_get(it2)->source, "taint");
	assert_int_equal(interruption_get(it2)->deadline_ns, T0 + 120 * S);
	assert_int_equal(interruption_get(it2)->kind, INTERRUPTION_SPOT);
	assert_true(interruption_drain_pending(it2, false));
	interruption_restore(it2, NULL); /* nothing to take over: nothing changes */
	assert_true(interruption_get(it2)->open);

	it3 = new_it(&h, "boot-2");
	interruption_restore(it3, saved);
	assert_false(interruption_get(it3)->open);
	assert_int_equal(h.records, 1);
	HAS(h.json[0], "\"ended\":\"happened\"");
	HAS(h.json[0], "a new boot id");

	pass(2 * 60 * MIN, false);
	it4 = new_it(&k, "boot-1");
	interruption_restore(it4, saved);
	assert_false(interruption_get(it4)->open);
	HAS(k.json[0], "\"ended\":\"did_not_happen\"");
	saved2 = interruption_save(it4); /* what it ended on is kept, nothing open */
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(saved2, "closed")));
	assert_null(cJSON_GetObjectItem(saved2, "notice_ns"));
	cJSON_Delete(saved2);

	interruption_free(it2);
	interruption_free(it3);
	interruption_free(it4);
	cJSON_Delete(saved);
}

/* a checkpoint written before kinds (version 1: four keys) is taken over as a spot interruption */
static void test_restore_version_1(void **state)
{
	struct fx *f = *state;
	char doc[256];
	cJSON *v1;

	snprintf(doc, sizeof(doc), "{\"notice_ns\":%lld,\"deadline_ns\":%lld,\"source\":\"imds\",\"deadline_exact\":true}",
		 (long long)T0, (long long)(T0 + 120 * S));
	v1 = cJSON_Parse(doc);
	interruption_restore(f->it, v1);
	assert_true(interruption_get(f->it)->open);
	assert_int_equal(interruption_get(f->it)->kind, INTERRUPTION_SPOT);
	assert_int_equal(f->records, 0);
	/* it ends like any other: a margin after its deadline */
	pass(13 * MIN, false);
	interruption_check(f->it);
	HAS(last(f), "\"ended\":\"did_not_happen\"");
	cJSON_Delete(v1);
}

/* it ended, and its source still says it (an instance-action long past, a taint left behind): a
 * restart does not open it again; a new boot hears every source afresh */
static void test_ended_stays_ended_across_restart(void **state)
{
	struct fx *f = *state, g = { 0 }, h = { 0 };
	struct interruption *it2, *it3;
	cJSON *saved;

	claim(f, ISRC_TAINT_NTH, INTERRUPTION_SPOT, 0, "aws-node-termination-handler/spot-itn", NULL);
	pass(13 * MIN, false);
	interruption_check(f->it);
	HAS(last(f), "\"ended\":\"did_not_happen\"");
	saved = interruption_save(f->it);
	assert_non_null(saved);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(saved, "closed")));

	it2 = new_it(&g, "boot-1");
	interruption_restore(it2, saved);
	assert_false(interruption_get(it2)->open);
	interruption_claim(it2, &(struct interruption_notice){ .src = ISRC_TAINT_NTH, .kind = INTERRUPTION_SPOT,
								.detail = "aws-node-termination-handler/spot-itn" }, 0);
	assert_int_equal(g.records, 0);
	assert_false(interruption_get(it2)->open);

	it3 = new_it(&h, "boot-2");
	interruption_restore(it3, saved);
	interruption_claim(it3, &(struct interruption_notice){ .src = ISRC_TAINT_NTH, .kind = INTERRUPTION_SPOT,
								.detail = "aws-node-termination-handler/spot-itn" }, 0);
	assert_int_equal(h.records, 1);
	assert_true(interruption_get(it3)->open);
	interruption_free(it2);
	interruption_free(it3);
	cJSON_Delete(saved);
}

static void test_rebalance_is_a_risk(void **state)
{
	struct fx *f = *state;

	interruption_risk(f->it, "imds", "rebalance recommendation", T0);
	assert_int_equal(f->records, 1);
	HAS(f->json[0], "\"transition\":\"risk\"");
	HAS(f->json[0], "rebalance recommendation at ");
	assert_false(interruption_get(f->it)->open);
	assert_int_equal(f->counts[0].interruptions + f->counts[0].disruptions, 0);
	assert_false(interruption_drain_pending(f->it, false));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_imds_time_beats_the_estimate, setup, teardown),
		cmocka_unit_test_setup_teardown(test_drain_due_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_karpenter_cancelled_then_spot, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kind_upgrades_not_a_second, setup, teardown),
		cmocka_unit_test_setup_teardown(test_maintenance_weeks_out, setup, teardown),
		cmocka_unit_test_setup_teardown(test_did_not_happen_after_margin, setup, teardown),
		cmocka_unit_test_setup_teardown(test_slept_through_the_deadline, setup, teardown),
		cmocka_unit_test_setup_teardown(test_event_only_expires, setup, teardown),
		cmocka_unit_test_setup_teardown(test_withdrawn_taint_takes_event_along, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore, setup, teardown),
		cmocka_unit_test_setup_teardown(test_restore_version_1, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ended_stays_ended_across_restart, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rebalance_is_a_risk, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

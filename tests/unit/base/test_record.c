/* record model: exit-status decoding, signal names, deterministic ids, type names. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "nodetrail/base/record.h"

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

static void test_record_id(void **state)
{
	char a[RECORD_ID_LEN + 1], b[RECORD_ID_LEN + 1], c[RECORD_ID_LEN + 1];

	record_make_id(RECORD_CONTAINER_EXITED, "boot-1", 1, 2, 3, a);
	record_make_id(RECORD_CONTAINER_EXITED, "boot-1", 1, 2, 3, b);
	record_make_id(RECORD_CONTAINER_EXITED, "boot-2", 1, 2, 3, c);
	assert_int_equal(strlen(a), RECORD_ID_LEN);
	assert_string_equal(a, b);
	assert_string_not_equal(a, c);
	for (int i = 0; i < RECORD_ID_LEN; i++)
		assert_true((a[i] >= '0' && a[i] <= '9') || (a[i] >= 'a' && a[i] <= 'f'));
}

static void test_type_names(void **state)
{
	assert_string_equal(record_type_name(RECORD_CONTAINER_EXITED), "container.exited");
	assert_string_equal(record_type_name(RECORD_NODE_DRAIN_REPORT), "node.drain_report");
	assert_string_equal(record_type_name(RECORD_AGENT_STATUS), "agent.status");
	assert_string_equal(record_type_name(RECORD_NTYPES), "unknown");
	for (int i = 0; i < RECORD_NTYPES; i++)
		assert_non_null(strchr(record_type_name((enum record_type)i), '.'));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exit_status),
		cmocka_unit_test(test_record_id),
		cmocka_unit_test(test_type_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

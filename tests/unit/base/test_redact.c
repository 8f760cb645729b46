/* redact: exec arguments with what looks like a secret redacted. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <regex.h>

#include "nodetrail/base/redact.h"

static void test_exec_args_redacted(void **state)
{
	static const char raw[] = "psql\0--password\0hunter2\0DB_TOKEN=abc123\0--host=db\0-c\0select 1\0pin-7781";
	regex_t extra;
	cJSON *args;
	char *text;

	assert_int_equal(regcomp(&extra, "^pin-[0-9]+$", REG_EXTENDED | REG_NOSUB), 0);
	args = redact_exec_args(raw, sizeof(raw) - 1, &extra);
	text = cJSON_PrintUnformatted(args);
	assert_string_equal(text, "[\"psql\",\"--password\",\"<redacted>\",\"DB_TOKEN=<redacted>\",\"--host=db\",\"-c\","
				  "\"select 1\",\"<redacted>\"]");
	free(text);
	cJSON_Delete(args);
	/* cut at the capture size mid-argument: what is there, no overrun */
	args = redact_exec_args("sleep\0" "30", 8, NULL);
	text = cJSON_PrintUnformatted(args);
	assert_string_equal(text, "[\"sleep\",\"30\"]");
	free(text);
	cJSON_Delete(args);
	regfree(&extra);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_args_redacted),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

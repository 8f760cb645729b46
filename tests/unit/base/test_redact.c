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

/* argv as the kernel keeps it, from words */
static size_t argv_raw(const char *const *words, char *out, size_t cap)
{
	size_t n = 0;

	for (; *words; words++) {
		size_t k = strlen(*words) + 1;

		assert_true(n + k <= cap);
		memcpy(out + n, *words, k);
		n += k;
	}
	return n - 1; /* the last NUL is not part of argv's bytes */
}

static char *redacted_json(const char *const *words)
{
	char raw[1024];
	size_t n = argv_raw(words, raw, sizeof(raw));
	cJSON *args = redact_exec_args(raw, n, NULL);
	char *text = cJSON_PrintUnformatted(args);

	cJSON_Delete(args);
	return text;
}

#define SECRET "hunter2Zq9"

/* real command lines that carry a secret, each as it must come out */
static void test_secret_forms(void **state)
{
	static const struct {
		const char *argv[8];
		const char *want;
	} cases[] = {
		{ { "mysql", "-uroot", "-p" SECRET, "shop", NULL }, "[\"mysql\",\"-uroot\",\"-p<redacted>\",\"shop\"]" },
		{ { "/usr/bin/mysqldump", "-p=" SECRET, "--all-databases", NULL },
		  "[\"/usr/bin/mysqldump\",\"-p<redacted>\",\"--all-databases\"]" },
		{ { "mysql", "-p", "shop", NULL }, "[\"mysql\",\"-p\",\"shop\"]" }, /* bare -p prompts */
		{ { "redis-cli", "-h", "cache", "-a", SECRET, "ping", NULL },
		  "[\"redis-cli\",\"-h\",\"cache\",\"-a\",\"<redacted>\",\"ping\"]" },
		{ { "sshpass", "-p", SECRET, "ssh", "host", NULL }, "[\"sshpass\",\"-p\",\"<redacted>\",\"ssh\",\"host\"]" },
		{ { "curl", "-u", "admin:" SECRET, "https://api", NULL },
		  "[\"curl\",\"-u\",\"<redacted>\",\"https://api\"]" },
		{ { "curl", "-H", "Authorization: Bearer " SECRET, "https://api", NULL },
		  "[\"curl\",\"-H\",\"Authorization: <redacted>\",\"https://api\"]" },
		{ { "wget", "--header=Authorization: Basic " SECRET, NULL },
		  "[\"wget\",\"--header=Authorization: Basic <redacted>\"]" },
		{ { "psql", "postgres://app:" SECRET "@db:5432/shop", NULL },
		  "[\"psql\",\"postgres://app:<redacted>@db:5432/shop\"]" },
		{ { "helm", "upgrade", "--set=db.password=" SECRET, NULL },
		  "[\"helm\",\"upgrade\",\"--set=db.password=<redacted>\"]" },
		{ { "app", "--set", "replicas=2,apiToken=" SECRET, NULL },
		  "[\"app\",\"--set\",\"replicas=2,apiToken=<redacted>\"]" },
		{ { "app", "--pwd", SECRET, "--jwt", SECRET, NULL },
		  "[\"app\",\"--pwd\",\"<redacted>\",\"--jwt\",\"<redacted>\"]" },
		{ { "curl", "https://h/x?user=a&token=" SECRET, NULL }, "[\"curl\",\"https://h/x?user=a&token=<redacted>\"]" },
		/* nothing secret: kept as it is */
		{ { "ssh", "-p", "22", "host", NULL }, "[\"ssh\",\"-p\",\"22\",\"host\"]" },
		{ { "mkdir", "-p", "/tmp/x", NULL }, "[\"mkdir\",\"-p\",\"/tmp/x\"]" },
		{ { "curl", "https://h/x?page=2", NULL }, "[\"curl\",\"https://h/x?page=2\"]" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *text = redacted_json(cases[i].argv);

		if (strcmp(text, cases[i].want) != 0)
			fail_msg("case %zu: %s, want %s", i, text, cases[i].want);
		free(text);
	}
}

/* property: a secret planted in any of these forms, in any argument position, with any program
 * name in front, appears nowhere in the output */
static void test_planted_secret_never_out(void **state)
{
	static const char *const progs[] = { "mysql", "redis-cli", "sshpass", "curl", "app", "/bin/sh" };
	static const char *const forms[][3] = {
		{ "--password", SECRET, NULL },	      { "--password=" SECRET, NULL },
		{ "DB_PASSWORD=" SECRET, NULL },      { "--set=a.b.secret=" SECRET, NULL },
		{ "https://u:" SECRET "@h/", NULL },   { "Authorization: Bearer " SECRET, NULL },
		{ "--token", SECRET, NULL },	      { "x=1,privateKey=" SECRET, NULL },
		{ "--api-key=" SECRET, NULL },	      { "Cookie: session=" SECRET, NULL },
	};
	static const char *const filler[] = { "-v", "run", "--host=db" };

	for (size_t p = 0; p < sizeof(progs) / sizeof(progs[0]); p++)
		for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++)
			for (size_t at = 0; at <= 3; at++) {
				const char *argv[10];
				size_t n = 0;
				char *text;

				argv[n++] = progs[p];
				for (size_t i = 0; i < at; i++)
					argv[n++] = filler[i];
				for (size_t i = 0; forms[f][i]; i++)
					argv[n++] = forms[f][i];
				argv[n] = NULL;
				text = redacted_json(argv);
				if (strstr(text, "hunter2"))
					fail_msg("%s leaks the secret", text);
				free(text);
			}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_args_redacted),
		cmocka_unit_test(test_secret_forms),
		cmocka_unit_test(test_planted_secret_never_out),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

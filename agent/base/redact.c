/* Secrets out of exec arguments. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nodetrail/base/redact.h"

#define ARG_MAX_KEPT 256          /* one argument as kept: the kernel copies at most this many bytes of argv */

/* a name that says its value is a secret */
static bool secret_name(const char *name, size_t len)
{
	static const char *const words[] = { "pass", "secret", "token", "key", "credential", "auth", "cookie" };
	char lower[128];

	if (len >= sizeof(lower))
		len = sizeof(lower) - 1;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
	lower[len] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

cJSON *redact_exec_args(const char *raw, size_t len, const regex_t *extra)
{
	cJSON *list = cJSON_CreateArray();
	bool redact_next = false;
	size_t off = 0;

	while (list && off < len) {
		char arg[ARG_MAX_KEPT + 1], *eq;
		size_t n = strnlen(raw + off, len - off);

		snprintf(arg, sizeof(arg), "%.*s", (int)n, raw + off);
		off += n + 1;
		eq = strchr(arg, '=');
		if (redact_next || (extra && regexec(extra, arg, 0, NULL, 0) == 0)) {
			snprintf(arg, sizeof(arg), "%s", REDACTED);
			redact_next = false;
		} else if (eq && secret_name(arg, (size_t)(eq - arg))) {
			snprintf(eq + 1, sizeof(arg) - (size_t)(eq + 1 - arg), "%s", REDACTED);
		} else if (arg[0] == '-' && secret_name(arg, strlen(arg))) {
			redact_next = true; /* "--password hunter2": the value is the next word */
		}
		cJSON_AddItemToArray(list, cJSON_CreateString(arg));
	}
	return list;
}

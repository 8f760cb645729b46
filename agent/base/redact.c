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

/* one word of free text: "NAME=VALUE" or "--NAME" (quotes around it allowed) */
static void redact_word(const char *w, size_t n, bool *redact_next, char *out, size_t *o, size_t len)
{
	const char *eq = memchr(w, '=', n), *name = w;
	size_t lead = strspn(w, "\"'(");

	if (lead > n)
		lead = n;
	name += lead;
	if (*redact_next) {
		*redact_next = false;
		*o += (size_t)snprintf(out + *o, len - *o, "%s", REDACTED);
	} else if (eq && secret_name(name, (size_t)(eq - name))) {
		*o += (size_t)snprintf(out + *o, len - *o, "%.*s%s", (int)(eq + 1 - w), w, REDACTED);
	} else {
		if (name[0] == '-' && secret_name(name, n - lead))
			*redact_next = true;
		*o += (size_t)snprintf(out + *o, len - *o, "%.*s", (int)n, w);
	}
	if (*o >= len)
		*o = len - 1;
}

void redact_text(const char *in, size_t cap, char *out, size_t len)
{
	bool redact_next = false;
	size_t o = 0;

	if (!len)
		return;
	out[0] = '\0';
	while (*in && o + 1 < len) {
		size_t sp = strspn(in, " \t\n"), n;

		if (sp) {
			o += (size_t)snprintf(out + o, len - o, "%.*s", (int)sp, in);
			if (o >= len)
				o = len - 1;
			in += sp;
			continue;
		}
		n = strcspn(in, " \t\n");
		redact_word(in, n, &redact_next, out, &o, len);
		in += n;
	}
	if (o > cap && cap + 4 < len) {
		/* cut at a character boundary of UTF-8 */
		size_t cut = cap;

		while (cut > 0 && ((unsigned char)out[cut] & 0xc0) == 0x80)
			cut--;
		snprintf(out + cut, len - cut, "...");
	}
}

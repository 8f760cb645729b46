/* Secrets out of exec arguments. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "nodetrail/base/redact.h"
#include "nodetrail/base/utf8.h"

#define ARG_MAX_KEPT 256          /* one argument as kept: the kernel copies at most this many bytes of argv */

/* a name that says its value is a secret */
static bool secret_name(const char *name, size_t len)
{
	static const char *const words[] = { "pass", "secret", "token", "key", "credential", "auth", "cookie",
					     "pwd", "jwt", "bearer" };
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

static bool prefix_nocase(const char *s, const char *prefix)
{
	for (; *prefix; s++, prefix++)
		if (*s != *prefix && !(*s >= 'A' && *s <= 'Z' && *s - 'A' + 'a' == *prefix))
			return false;
	return true;
}

/* Programs whose short flag takes a secret, attached ("-pVALUE", "-p=VALUE") and, where the
 * program reads it so, as the next word too ("-p VALUE"); mysql's bare -p prompts for it. */
static const struct {
	const char *prog;
	char flag;
	bool next;
} short_secrets[] = {
	{ "mysql", 'p', false },    { "mysqldump", 'p', false }, { "mysqladmin", 'p', false },
	{ "mariadb", 'p', false },  { "mariadb-dump", 'p', false }, { "sshpass", 'p', true },
	{ "redis-cli", 'a', true }, { "curl", 'u', true },
};

/* "user:pass@" in a URL's authority: the password redacted in place (arg holds ARG_MAX_KEPT + 1) */
static bool redact_userinfo(char *arg)
{
	char *auth = strstr(arg, "://"), *end, *at, *colon, rest[ARG_MAX_KEPT + 1];

	if (!auth)
		return false;
	auth += 3;
	end = auth + strcspn(auth, "/?#");
	at = NULL;
	for (char *p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	if (!at || !(colon = memchr(auth, ':', (size_t)(at - auth))))
		return false;
	snprintf(rest, sizeof(rest), "%s", at);
	snprintf(colon + 1, ARG_MAX_KEPT + 1 - (size_t)(colon + 1 - arg), "%s%s", REDACTED, rest);
	return true;
}

/* NAME=VALUE anywhere in an argument ("--set=db.password=x", "a=1,token=x", "?key=x&y=1"): from
 * the first assignment whose name is a secret on, the rest is redacted */
static bool redact_assignment(char *arg)
{
	size_t seg = 0;

	for (size_t i = 0; arg[i]; i++) {
		if (strchr(",;&?", arg[i])) {
			seg = i + 1;
		} else if (arg[i] == '=') {
			if (secret_name(arg + seg, i - seg)) {
				snprintf(arg + i + 1, ARG_MAX_KEPT + 1 - (i + 1), "%s", REDACTED);
				return true;
			}
			seg = i + 1;
		}
	}
	return false;
}

/* "Authorization: Bearer x", "Proxy-Authorization: Basic x" (a curl -H value), or a bare "Bearer x" */
static bool redact_header(char *arg)
{
	char *v = arg + strspn(arg, "\"'");
	char *bearer;

	if (prefix_nocase(v, "authorization:") || prefix_nocase(v, "proxy-authorization:") ||
	    prefix_nocase(v, "cookie:") || prefix_nocase(v, "x-api-key:")) {
		v = strchr(v, ':') + 1;
		snprintf(v, ARG_MAX_KEPT + 1 - (size_t)(v - arg), " %s", REDACTED);
		return true;
	}
	for (bearer = arg; *bearer; bearer++)
		if (prefix_nocase(bearer, "bearer ") || prefix_nocase(bearer, "basic ")) {
			char *v = bearer + strcspn(bearer, " ") + 1; /* the scheme's word stays */

			snprintf(v, ARG_MAX_KEPT + 1 - (size_t)(v - arg), "%s", REDACTED);
			return true;
		}
	return false;
}

cJSON *redact_exec_args(const char *raw, size_t len, const regex_t *extra)
{
	cJSON *list = cJSON_CreateArray();
	bool redact_next = false;
	char flag = 0;            /* the program's secret short flag, 0 if none */
	bool flag_next = false;
	size_t off = 0;

	while (list && off < len) {
		char arg[ARG_MAX_KEPT + 1];
		size_t n = strnlen(raw + off, len - off);

		snprintf(arg, sizeof(arg), "%.*s", (int)n, raw + off);
		if (off == 0) {
			const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;

			for (size_t i = 0; i < sizeof(short_secrets) / sizeof(short_secrets[0]); i++)
				if (!strcmp(base, short_secrets[i].prog)) {
					flag = short_secrets[i].flag;
					flag_next = short_secrets[i].next;
				}
		}
		off += n + 1;
		if (redact_next || (extra && regexec(extra, arg, 0, NULL, 0) == 0)) {
			snprintf(arg, sizeof(arg), "%s", REDACTED);
			redact_next = false;
		} else if (flag && arg[0] == '-' && arg[1] == flag) {
			if (arg[2])
				snprintf(arg + 2, sizeof(arg) - 2, "%s", REDACTED); /* -pVALUE, -p=VALUE */
			else
				redact_next = flag_next;                              /* -p VALUE */
		} else if (redact_userinfo(arg) || redact_assignment(arg) || redact_header(arg)) {
			/* redacted in place */
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
		size_t cut = utf8_cut(out, o, cap);

		snprintf(out + cut, len - cut, "...");
	}
}

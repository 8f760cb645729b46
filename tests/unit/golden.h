/* Whole-record goldens: the records a scenario writes, compared with
 * tests/data/scenarios/<name>.golden (NODETRAIL_UPDATE_GOLDEN=1 rewrites it).
 *
 * Each record is compared whole, after what depends on the clock is
 * normalised: RFC 3339 times (alone or inside a text) become "<time>", the
 * ids of records whose identity is a clock reading (an interruption's
 * notice time) and drain ids become "<id>", and durations measured between two clock
 * readings of the test itself become "<s>". Include after cmocka.h. */
#ifndef NODETRAIL_GOLDEN_H
#define NODETRAIL_GOLDEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "testutil.h"

/* durations between two readings of the test's clock (boot_now() +10 ms...) */
static const char *const golden_clock_spans[] = { "stop_s", "gap_s", NULL };
/* record types whose id is derived from a clock reading of the test */
static const char *const golden_clock_ids[] = { "node.interruption", "node.drain_report", "agent.status", NULL };

static inline void golden_mask_times(char *s)
{
	for (char *p = s; *p; p++) {
		char *end = p;

		if (strlen(p) < 11 || !(p[0] >= '0' && p[0] <= '9' && p[4] == '-' && p[7] == '-' && p[10] == 'T'))
			continue;
		while (*end && *end != 'Z' && *end != '"' && *end != ' ')
			end++;
		if (*end != 'Z')
			continue;
		memmove(p + 6, end + 1, strlen(end + 1) + 1);
		memcpy(p, "<time>", 6);
	}
}

static inline bool golden_in(const char *const *list, const char *s)
{
	for (; s && *list; list++)
		if (!strcmp(*list, s))
			return true;
	return false;
}

static inline void golden_normalise(cJSON *o, bool clock_id)
{
	cJSON *item;

	cJSON_ArrayForEach(item, o) {
		if (cJSON_IsString(item)) {
			char *copy = strdup(item->valuestring);

			/* a drain's id is its interruption's notice time, wherever it is */
			if (item->string && ((clock_id && !strcmp(item->string, "record_id")) ||
					     !strcmp(item->string, "drain_id")))
				snprintf(copy, strlen(copy) + 1, "%s", strlen(copy) >= 4 ? "<id>" : copy);
			golden_mask_times(copy);
			cJSON_SetValuestring(item, copy);
			free(copy);
		} else if (cJSON_IsNumber(item) && golden_in(golden_clock_spans, item->string)) {
			/* the number becomes the string "<s>", under its own key */
			item->type = cJSON_String;
			item->valuestring = strdup("<s>");
		} else if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
			golden_normalise(item, false);
		}
	}
}

/* records[0..n): compact JSON objects as the encoder wrote them */
static inline void golden_assert(const char *name, const char *const *records, int n)
{
	char path[512], *want;
	size_t cap = 1 << 16, len = 0;
	char *got = malloc(cap);

	assert_non_null(got);
	got[0] = '\0';
	for (int i = 0; i < n; i++) {
		cJSON *o = cJSON_Parse(records[i]);
		char *text;
		size_t tl;

		assert_non_null(o);
		golden_normalise(o, golden_in(golden_clock_ids, cJSON_GetStringValue(cJSON_GetObjectItem(o, "type"))));
		text = cJSON_Print(o);
		assert_non_null(text);
		tl = strlen(text);
		while (len + tl + 3 > cap)
			assert_non_null(got = realloc(got, cap *= 2));
		len += (size_t)snprintf(got + len, cap - len, "%s\n\n", text);
		free(text);
		cJSON_Delete(o);
	}
	snprintf(path, sizeof(path), DATA_DIR "/scenarios/%s.golden", name);
	if (getenv("NODETRAIL_UPDATE_GOLDEN")) {
		FILE *f = fopen(path, "w");

		assert_non_null(f);
		fputs(got, f);
		fclose(f);
	}
	want = test_read_file(path, NULL);
	assert_string_equal(got, want);
	free(want);
	free(got);
}

#endif

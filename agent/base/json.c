/* Typed, clamped reads of JSON. */
#include <stdio.h>
#include <stdlib.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/json.h"

int64_t json_int(const cJSON *v, int64_t min, int64_t max, int64_t def)
{
	double d;

	if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble)
		return def;
	d = v->valuedouble;
	if (d <= (double)min)
		return min;
	if (d >= (double)max)
		return max;
	return (int64_t)d;
}

int64_t json_get_num(const cJSON *o, const char *key)
{
	return json_int(cJSON_GetObjectItemCaseSensitive(o, key), 0, INT64_C(1) << 62, 0);
}

uint64_t json_get_hex(const cJSON *o, const char *key)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	return s ? strtoull(s, NULL, 16) : 0;
}

void json_add_hex(cJSON *o, const char *key, uint64_t v)
{
	char buf[20];

	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)v);
	cJSON_AddStringToObject(o, key, buf);
}

void json_get_str(const cJSON *o, const char *key, char *buf, size_t len)
{
	const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));

	snprintf(buf, len, "%s", s ? s : "");
}

void json_add_boot_time(cJSON *o, const char *key, int64_t boot_ns)
{
	char buf[CLOCK_TEXT_LEN];

	if (boot_ns > 0)
		cJSON_AddStringToObject(o, key, clock_format(clock_boot_to_real(boot_ns), buf));
}

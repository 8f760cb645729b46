/* Small helpers for the JSON the stages read back (the checkpoint, API
 * objects): typed reads that clamp instead of trusting the input. */
#ifndef NODETRAIL_BASE_JSON_H
#define NODETRAIL_BASE_JSON_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

/* A JSON number as an integer clamped to [min, max] (a double out of range
 * is undefined behaviour in C); def when v is not a number or is NaN. */
int64_t json_int(const cJSON *v, int64_t min, int64_t max, int64_t def);

/* o[key] as a time or an id: 0 .. 2^62 (year 2116), so that sums with it
 * cannot overflow; 0 when absent. */
int64_t json_get_num(const cJSON *o, const char *key);

/* o[key], a string of hex digits, as a number; 0 when absent */
uint64_t json_get_hex(const cJSON *o, const char *key);
/* Add v as 16 hex digits (a JSON number would lose bits above 2^53). */
void json_add_hex(cJSON *o, const char *key, uint64_t v);

/* Add a kernel time stamp (boot-time ns) as RFC 3339 wall-clock time; nothing when 0. */
void json_add_boot_time(cJSON *o, const char *key, int64_t boot_ns);

/* o[key] copied into buf, cut to fit; "" when absent */
void json_get_str(const cJSON *o, const char *key, char *buf, size_t len);
#define JSON_GET_STR(o, key, dst) json_get_str((o), (key), (dst), sizeof(dst))

#endif

/* A bounded hash map from 64-bit keys (cgroup ids, pids) to owned pointers.
 * The cap is fixed at creation; a put beyond it fails and is counted. Memory:
 * 24 bytes per entry of the cap, touched as entries arrive; visiting the
 * entries costs their number, not the cap. */
#ifndef NODETRAIL_BASE_U64MAP_H
#define NODETRAIL_BASE_U64MAP_H

#include <stdint.h>

struct u64map;

/* 0, or -ENOMEM. */
int u64map_new(uint32_t cap, struct u64map **ret);
/* frees the map and, with free_value non-NULL, every value */
void u64map_free(struct u64map *m, void (*free_value)(void *));

/* Insert or replace; returns the value replaced (or NULL) via ret_old.
 * 0, or -ENOSPC when full (counted in u64map_dropped). */
int u64map_put(struct u64map *m, uint64_t key, void *value, void **ret_old);
void *u64map_get(const struct u64map *m, uint64_t key);
/* remove and return the value, NULL if absent */
void *u64map_take(struct u64map *m, uint64_t key);
uint32_t u64map_count(const struct u64map *m);
uint32_t u64map_cap(const struct u64map *m);
uint64_t u64map_dropped(const struct u64map *m);

/* Visit every entry; the callback must not put or take. */
void u64map_each(const struct u64map *m, void (*cb)(void *ctx, uint64_t key, void *value), void *ctx);

#endif

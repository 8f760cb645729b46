/* Open addressing with linear probing and tombstones; rehashes in place
 * when tombstones pile up, never grows beyond 2x its cap in slots. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/u64map.h"

struct slot {
	uint64_t key;
	void *value;              /* NULL: empty */
	int tomb;                 /* deleted: keep probing past it */
};

struct u64map {
	uint32_t cap;
	uint32_t nslots;          /* power of two >= 2 * cap */
	uint32_t count;
	uint32_t tombs;
	uint64_t dropped;
	struct slot *slots;
};

static uint32_t hash(const struct u64map *m, uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (uint32_t)k & (m->nslots - 1);
}

struct u64map *u64map_new(uint32_t cap)
{
	struct u64map *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->cap = cap ? cap : 1;
	m->nslots = 16;
	while (m->nslots < 2 * m->cap)
		m->nslots <<= 1;
	m->slots = calloc(m->nslots, sizeof(*m->slots));
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void u64map_free(struct u64map *m, void (*free_value)(void *))
{
	if (!m)
		return;
	for (uint32_t i = 0; free_value && i < m->nslots; i++)
		if (m->slots[i].value)
			free_value(m->slots[i].value);
	free(m->slots);
	free(m);
}

static struct slot *find(const struct u64map *m, uint64_t key, struct slot **ret_free)
{
	uint32_t i = hash(m, key);

	*ret_free = NULL;
	for (uint32_t n = 0; n < m->nslots; n++, i = (i + 1) & (m->nslots - 1)) {
		struct slot *s = &m->slots[i];

		if (!s->value && !s->tomb) {
			if (!*ret_free)
				*ret_free = s;
			return NULL;
		}
		if (s->tomb) {
			if (!*ret_free)
				*ret_free = s;
			continue;
		}
		if (s->key == key)
			return s;
	}
	return NULL;
}

static void rehash(struct u64map *m)
{
	struct slot *old = m->slots;
	struct slot *fresh = calloc(m->nslots, sizeof(*fresh));

	if (!fresh)
		return; /* keep the tombstones: still correct, only slower */
	m->slots = fresh;
	m->tombs = 0;
	for (uint32_t i = 0; i < m->nslots; i++) {
		struct slot *free_slot;

		if (!old[i].value)
			continue;
		find(m, old[i].key, &free_slot);
		*free_slot = old[i];
	}
	free(old);
}

int u64map_put(struct u64map *m, uint64_t key, void *value, void **ret_old)
{
	struct slot *free_slot, *s = find(m, key, &free_slot);

	if (ret_old)
		*ret_old = s ? s->value : NULL;
	if (s) {
		s->value = value;
		return 0;
	}
	if (m->count >= m->cap || !free_slot) {
		m->dropped++;
		return -ENOSPC;
	}
	if (free_slot->tomb)
		m->tombs--;
	*free_slot = (struct slot){ .key = key, .value = value };
	m->count++;
	return 0;
}

void *u64map_get(const struct u64map *m, uint64_t key)
{
	struct slot *free_slot, *s = find(m, key, &free_slot);

	return s ? s->value : NULL;
}

void *u64map_take(struct u64map *m, uint64_t key)
{
	struct slot *free_slot, *s = find(m, key, &free_slot);
	void *v;

	if (!s)
		return NULL;
	v = s->value;
	*s = (struct slot){ .tomb = 1 };
	m->count--;
	m->tombs++;
	if (m->tombs > m->nslots / 4)
		rehash(m);
	return v;
}

uint32_t u64map_count(const struct u64map *m)
{
	return m->count;
}

uint32_t u64map_cap(const struct u64map *m)
{
	return m->cap;
}

uint64_t u64map_dropped(const struct u64map *m)
{
	return m->dropped;
}

void u64map_each(const struct u64map *m, void (*cb)(void *ctx, uint64_t key, void *value), void *ctx)
{
	for (uint32_t i = 0; i < m->nslots; i++)
		if (m->slots[i].value)
			cb(ctx, m->slots[i].key, m->slots[i].value);
}

/* Entries live in a dense array (key, value), in no particular order; an
 * open-addressing index (linear probing, tombstones) maps a key to its
 * entry. Iterating costs the entries there are, not the table's size, and
 * the memory touched grows with the entries, not with the cap. A take moves
 * the last entry into the hole. The index is at least 2x the cap, power of
 * two, and is rebuilt in place from the entries when tombstones pile up. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/u64map.h"

#define EMPTY 0u                  /* index slot never used */
#define TOMB UINT32_MAX           /* index slot of a taken entry: keep probing */

struct entry {
	uint64_t key;
	void *value;
};

struct u64map {
	uint32_t cap;
	uint32_t nslots;          /* power of two >= 2 * cap */
	uint32_t count;
	uint32_t tombs;
	uint64_t dropped;
	uint32_t *index;          /* EMPTY, TOMB, or entry position + 1 */
	struct entry *entries;    /* [0, count) in use */
};

static uint32_t hash(const struct u64map *m, uint64_t k)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (uint32_t)k & (m->nslots - 1);
}

int u64map_new(uint32_t cap, struct u64map **ret)
{
	struct u64map *m = calloc(1, sizeof(*m));

	if (!m)
		return -ENOMEM;
	m->cap = cap ? cap : 1;
	m->nslots = 16;
	while (m->nslots < 2 * m->cap)
		m->nslots <<= 1;
	m->index = calloc(m->nslots, sizeof(*m->index));
	m->entries = malloc((size_t)m->cap * sizeof(*m->entries));
	if (!m->index || !m->entries) {
		u64map_free(m, NULL);
		return -ENOMEM;
	}
	*ret = m;
	return 0;
}

void u64map_free(struct u64map *m, void (*free_value)(void *))
{
	if (!m)
		return;
	for (uint32_t i = 0; free_value && i < m->count; i++)
		free_value(m->entries[i].value);
	free(m->index);
	free(m->entries);
	free(m);
}

/* The index slot holding key, or NULL; *ret_free: the first slot a new key
 * could take on the way (a tombstone or the empty slot that ended the probe). */
static uint32_t *find(const struct u64map *m, uint64_t key, uint32_t **ret_free)
{
	uint32_t i = hash(m, key);

	*ret_free = NULL;
	for (uint32_t n = 0; n < m->nslots; n++, i = (i + 1) & (m->nslots - 1)) {
		uint32_t *s = &m->index[i];

		if (*s == EMPTY) {
			if (!*ret_free)
				*ret_free = s;
			return NULL;
		}
		if (*s == TOMB) {
			if (!*ret_free)
				*ret_free = s;
			continue;
		}
		if (m->entries[*s - 1].key == key)
			return s;
	}
	return NULL;
}

/* drop the tombstones: index every entry again (no allocation) */
static void reindex(struct u64map *m)
{
	memset(m->index, 0, (size_t)m->nslots * sizeof(*m->index));
	m->tombs = 0;
	for (uint32_t i = 0; i < m->count; i++) {
		uint32_t *free_slot;

		find(m, m->entries[i].key, &free_slot);
		*free_slot = i + 1;
	}
}

int u64map_put(struct u64map *m, uint64_t key, void *value, void **ret_old)
{
	uint32_t *free_slot, *s = find(m, key, &free_slot);

	if (ret_old)
		*ret_old = s ? m->entries[*s - 1].value : NULL;
	if (s) {
		m->entries[*s - 1].value = value;
		return 0;
	}
	if (m->count >= m->cap || !free_slot) {
		m->dropped++;
		return -ENOSPC;
	}
	if (*free_slot == TOMB)
		m->tombs--;
	m->entries[m->count] = (struct entry){ .key = key, .value = value };
	*free_slot = ++m->count;
	return 0;
}

void *u64map_get(const struct u64map *m, uint64_t key)
{
	uint32_t *free_slot, *s = find(m, key, &free_slot);

	return s ? m->entries[*s - 1].value : NULL;
}

void *u64map_take(struct u64map *m, uint64_t key)
{
	uint32_t *free_slot, *s = find(m, key, &free_slot);
	uint32_t pos, last;
	void *v;

	if (!s)
		return NULL;
	pos = *s - 1;
	v = m->entries[pos].value;
	*s = TOMB;
	m->tombs++;
	last = --m->count;
	if (pos != last) {
		/* the last entry fills the hole; its index slot follows it */
		uint32_t *moved = find(m, m->entries[last].key, &free_slot);

		m->entries[pos] = m->entries[last];
		*moved = pos + 1;
	}
	if (m->tombs > m->nslots / 4)
		reindex(m);
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
	for (uint32_t i = 0; i < m->count; i++)
		cb(ctx, m->entries[i].key, m->entries[i].value);
}

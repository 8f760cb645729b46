/* A FIFO window of ids: a ring of the ids in order of arrival, and a map
 * for membership. */
#include <errno.h>
#include <stdlib.h>

#include "nodetrail/base/idset.h"
#include "nodetrail/base/u64map.h"

struct idset {
	struct u64map *set;
	uint64_t *ring;
	uint32_t cap, head, count;
	uint64_t forgotten;
};

int idset_new(uint32_t cap, struct idset **ret)
{
	struct idset *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->cap = cap ? cap : 1;
	s->ring = calloc(s->cap, sizeof(*s->ring));
	if (!s->ring || u64map_new(s->cap, &s->set) < 0) {
		idset_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

void idset_free(struct idset *s)
{
	if (!s)
		return;
	u64map_free(s->set, NULL);
	free(s->ring);
	free(s);
}

bool idset_contains(const struct idset *s, uint64_t id)
{
	return u64map_get(s->set, id) != NULL;
}

bool idset_check_add(struct idset *s, uint64_t id)
{
	if (u64map_get(s->set, id))
		return true;
	if (s->count == s->cap) {
		u64map_take(s->set, s->ring[s->head]);
		s->head = (s->head + 1) % s->cap;
		s->count--;
		s->forgotten++;
	}
	s->ring[(s->head + s->count) % s->cap] = id;
	s->count++;
	u64map_put(s->set, id, (void *)1, NULL);
	return false;
}

void idset_each_recent(const struct idset *s, uint32_t n, void (*cb)(void *ctx, uint64_t id), void *ctx)
{
	uint32_t skip = s->count > n ? s->count - n : 0;

	for (uint32_t i = skip; i < s->count; i++)
		cb(ctx, s->ring[(s->head + i) % s->cap]);
}

uint32_t idset_count(const struct idset *s)
{
	return s->count;
}

uint32_t idset_cap(const struct idset *s)
{
	return s->cap;
}

uint64_t idset_forgotten(const struct idset *s)
{
	return s->forgotten;
}

/* FNV-1a of a string: keys of the maps and sets (pod UIDs, container ids,
 * record ids). Not for anything an attacker could use to collide on purpose
 * beyond a bounded map's cap. */
#ifndef NODETRAIL_BASE_HASH_H
#define NODETRAIL_BASE_HASH_H

#include <stdint.h>

static inline uint64_t hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

#endif

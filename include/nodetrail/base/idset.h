/* A bounded set of 64-bit ids (hashes of record ids, event uids, container
 * ids) that remembers the last `cap` added: a FIFO window, the oldest is
 * forgotten first and counted. */
#ifndef NODETRAIL_BASE_IDSET_H
#define NODETRAIL_BASE_IDSET_H

#include <stdbool.h>
#include <stdint.h>

struct idset;

/* 0, or -ENOMEM. */
int idset_new(uint32_t cap, struct idset **ret);
void idset_free(struct idset *s);

/* true if id was already in the set; adds it otherwise (forgetting the oldest when full) */
bool idset_check_add(struct idset *s, uint64_t id);
bool idset_contains(const struct idset *s, uint64_t id);
/* Visit the n newest ids, oldest first. */
void idset_each_recent(const struct idset *s, uint32_t n, void (*cb)(void *ctx, uint64_t id), void *ctx);
uint32_t idset_count(const struct idset *s);
uint32_t idset_cap(const struct idset *s);
/* ids forgotten because the window was full */
uint64_t idset_forgotten(const struct idset *s);

#endif

/* The record sink: where every stage's records go (a record_emit_cb). It
 * writes each fact once (a window of recent record ids, this run's and the
 * earlier runs' read back at start; an id counts as written once its line is
 * in the file, so the checkpoint never claims a record the file lacks, and
 * one queued is not queued again), numbers the records (seq, continuing
 * across restarts), encodes them and queues them in the writer (an fsync
 * owed for the durable ones: the node may be gone soon), and counts them
 * by type and what it had to drop. Never waits for the disk. */
#ifndef NODETRAIL_OUT_SINK_H
#define NODETRAIL_OUT_SINK_H

#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/base/idset.h"
#include "nodetrail/base/record.h"
#include "nodetrail/out/writer.h"

#define SINK_ENCODE_MAX (64 * 1024) /* a record's JSON at most, before the writer's line cap */
#define SINK_IN_FLIGHT_INDEXED 1024 /* ids of lines not yet written kept in a hash; beyond, a scan */

struct sink_stats {
	uint64_t by_type[RECORD_NTYPES]; /* records written, by type */
	uint64_t duplicates;      /* facts already written: not written again */
	uint64_t dropped;         /* records lost before the writer (encoding failed, its queue full) */
	uint32_t dedup_ids;       /* record ids remembered now */
	uint32_t dedup_cap;       /* at most */
	uint64_t dedup_forgotten; /* forgotten, oldest first, at the cap */
	uint64_t lost;            /* queued, then lost by the writer (a line cut by the file's replacement) */
	uint64_t in_flight;       /* queued, not yet in the file */
};

struct sink;

/* writer: where lines go (not owned; the sink is told of its lines written);
 * dedup_cap: record ids remembered. 0, or -ENOMEM. */
int sink_new(struct writer *writer, uint32_t dedup_cap, struct sink **ret);
void sink_free(struct sink *s);

/* The record_emit_cb: ctx is the sink. */
void sink_emit(void *ctx, struct record *r);

/* The ids of facts whose lines are in the file (to read earlier runs' into,
 * and for the checkpoint). */
struct idset *sink_ids(struct sink *s);
/* The last seq used; sink_continue_after raises it (never lowers). */
uint64_t sink_seq(const struct sink *s);
void sink_continue_after(struct sink *s, uint64_t seq);
/* Records written since start: a change counter for the checkpoint. */
uint64_t sink_written(const struct sink *s);

void sink_get_stats(const struct sink *s, struct sink_stats *ret);

#endif

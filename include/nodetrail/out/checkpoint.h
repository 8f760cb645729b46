/* Checkpoint: the state that must outlive the agent's process (open
 * timelines, pending joins, the open interruption, the pods last known,
 * the next seq, recent record ids, the boot id), kept in --state-dir as
 * one JSON document. Written atomically: a temporary file, fsync, rename,
 * fsync of the directory; a crash leaves the old or the new one, never a
 * mix. No I/O outside the state dir, no logging. The agent writes it off
 * the loop (checkpoint_saver: serialised on the loop, written by the
 * worker thread of base/aio.h), so a slow disk never stalls the loop. */
#ifndef NODETRAIL_OUT_CHECKPOINT_H
#define NODETRAIL_OUT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <cjson/cJSON.h>

#include "nodetrail/base/aio.h"

#define CHECKPOINT_FILE "checkpoint.json"
#define CHECKPOINT_VERSION 1
#define CHECKPOINT_MAX_BYTES (16u << 20)

/* Write doc as dir/checkpoint.json, now (blocking). 0, or -errno (the old
 * file stays). */
int checkpoint_save(const char *dir, const cJSON *doc);

/* Writes off the loop, one at a time; a document saved while one is being
 * written replaces any other that waits (the newest state wins). */
struct checkpoint_saver;

/* done(ctx, res): after each write, 0 or -errno (may be NULL). 0, or -ENOMEM. */
int checkpoint_saver_new(const char *dir, struct aio *aio, void (*done)(void *ctx, int res), void *ctx,
			 struct checkpoint_saver **ret);
/* A write still in flight is left to finish (its buffer too, at exit). */
void checkpoint_saver_free(struct checkpoint_saver *cs);
/* Serialise doc now, write it when the write before it is done. 0, or -errno. */
int checkpoint_saver_save(struct checkpoint_saver *cs, const cJSON *doc);
/* Nothing in flight and nothing waiting. */
bool checkpoint_saver_idle(const struct checkpoint_saver *cs);

/* Read dir/checkpoint.json into *ret_doc (caller frees). -ENOENT if there
 * is none; -EINVAL if it is not a checkpoint of this version (too big, not
 * JSON, wrong version): then it is renamed to checkpoint.json.bad, so that
 * one bad file costs one start's state, not every start's. */
int checkpoint_load(const char *dir, cJSON **ret_doc);

/* Parse a checkpoint from memory (what load does after reading). */
int checkpoint_parse(const char *buf, size_t len, cJSON **ret_doc);

#endif

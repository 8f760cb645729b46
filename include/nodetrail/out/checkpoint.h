/* Checkpoint: the state that must outlive the agent's process (open
 * timelines, pending joins, the open interruption, the pods last known,
 * the next seq, recent record ids, the boot id), kept in --state-dir as
 * one JSON document. Written atomically: a temporary file, fsync, rename,
 * fsync of the directory; a crash leaves the old or the new one, never a
 * mix. No I/O outside the state dir, no logging. */
#ifndef NODETRAIL_OUT_CHECKPOINT_H
#define NODETRAIL_OUT_CHECKPOINT_H

#include <stddef.h>
#include <cjson/cJSON.h>

#define CHECKPOINT_FILE "checkpoint.json"
#define CHECKPOINT_VERSION 1
#define CHECKPOINT_MAX_BYTES (16u << 20)

/* Write doc as dir/checkpoint.json. 0, or -errno (the old file stays). */
int checkpoint_save(const char *dir, const cJSON *doc);

/* Read dir/checkpoint.json into *ret_doc (caller frees). -ENOENT if there
 * is none; -EINVAL if it is not a checkpoint of this version (too big, not
 * JSON, wrong version): then it is renamed to checkpoint.json.bad, so that
 * one bad file costs one start's state, not every start's. */
int checkpoint_load(const char *dir, cJSON **ret_doc);

/* Parse a checkpoint from memory (what load does after reading). */
int checkpoint_parse(const char *buf, size_t len, cJSON **ret_doc);

#endif

/* Writer: records as CRI log lines in one file Fluent Bit tails.
 *
 * DESIGN section 5: `<RFC3339Nano UTC> stdout F <json>\n`, one regular file
 * directly in the output dir, O_APPEND, lines <= WRITER_MAX_LINE bytes,
 * timestamps never decreasing, rename-only rotation at a size cap.
 * Or (stream_name set) bare `<json>\n` lines on a descriptor the writer does
 * not own, the agent's stdout: the container runtime adds the CRI prefix
 * and stores, rotates and tails them under /var/log/pods.
 *
 * The loop never waits for the disk: appends queue the line in memory;
 * writer_flush hands the queued whole lines to the kernel as one write that
 * completes later on the loop (base/aio.h: io_uring, or write(2) on a worker
 * thread), one write in flight at a time so that lines never reorder; a
 * sync is an fsync issued once what it covers is written. What the disk
 * refuses stays queued (bounded in bytes) and is retried a second later. */
#ifndef NODETRAIL_OUT_WRITER_H
#define NODETRAIL_OUT_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "nodetrail/base/aio.h"
#include "nodetrail/base/loop.h"

/* containerd's split size: Fluent Bit silently skips longer lines */
#define WRITER_MAX_LINE 16384
/* bytes of lines held in memory while the disk is slow or refuses them */
#define WRITER_QUEUE_BYTES (4u << 20)

struct writer_options {
	const char *dir;          /* output directory, must exist */
	const char *file_name;    /* base name, e.g. "<pod>_<ns>_<ctr>-<64hex>.log" */
	uint64_t max_bytes;       /* rotate when the file would exceed this (default 10 MiB) */
	unsigned keep_rotated;    /* rotated files kept (default 5) */
	unsigned rotated_min_age_s; /* never delete a rotated file younger than this (default 60) */
	size_t queue_bytes;       /* lines held in memory at most (default WRITER_QUEUE_BYTES) */
	struct loop *loop;        /* where completions and retries run */
	const char *stream_name;  /* non-NULL: write to stream_fd instead of a file ("stdout"); dir and
	                           * file_name are unused, no prefix, no rotation, no sync */
	int stream_fd;
	struct aio *aio;          /* how writes and syncs are done (not owned) */
};

struct writer_stats {
	uint64_t lines;           /* lines written */
	uint64_t bytes;           /* bytes written */
	uint64_t truncated;       /* records shrunk to fit WRITER_MAX_LINE */
	uint64_t dropped;         /* lines lost: the queue was full, or a file replaced mid-line */
	uint64_t rotations;
	uint64_t write_errors;
	uint64_t sync_errors;
	uint64_t syncs;
	uint64_t reopened;        /* the file was deleted or renamed under us */
	uint64_t queued;          /* lines waiting to be written, the one in flight included */
	uint64_t queued_bytes;
	bool writing;             /* a write or sync is in flight */
	int last_error;           /* the last write's error, 0 once one succeeds */
};

struct writer;

/* Open (creating if needed) the file; repairs a missing final newline.
 * 0, or -errno; then *ret_err_detail (optional) gets a static string
 * naming the failing step. */
int writer_new(const struct writer_options *opts, struct writer **ret, const char **ret_err_detail);
void writer_free(struct writer *w);

/* Queue one record: `json` is a compact JSON object without newline, `ts_ns`
 * the CLOCK_REALTIME time for the line prefix (raised to the last one used if
 * lower). A line over WRITER_MAX_LINE is replaced by a shrunk object that
 * keeps the record's identifying keys and says "truncated":true.
 * Returns 0, or -ENOBUFS if the queue is full (counted as dropped). */
int writer_append(struct writer *w, int64_t ts_ns, const char *json, size_t len);

/* Told as lines reach the file: n lines, in the order they were appended, written whole
 * (written) or lost (a line cut by the file's replacement). Lines refused by writer_append are
 * never told. */
typedef void (*writer_done_cb)(void *ctx, uint64_t n, bool written);
void writer_set_done(struct writer *w, writer_done_cb cb, void *ctx);

/* Start writing what is queued, unless a write is in flight (its
 * completion goes on) or a retry is pending. Never waits. Returns the last
 * write's error, 0 when none. */
int writer_flush(struct writer *w);

/* Ask for an fdatasync covering every line appended so far; it is issued
 * once they are written. */
void writer_sync(struct writer *w);

/* Run the loop until every line appended is written and synced as asked,
 * at most timeout_ms (at stop; never from inside a callback of the loop).
 * 0, the last write error, or -ETIMEDOUT. */
int writer_drain(struct writer *w, int timeout_ms);

/* Nothing queued, nothing in flight, no sync owed. */
bool writer_idle(const struct writer *w);

/* Full path of the active file (the stream's name when writing to one). */
const char *writer_path(const struct writer *w);
/* The active file as opened (device, inode): it is the live file whatever its name. */
void writer_file_id(const struct writer *w, dev_t *ret_dev, ino_t *ret_ino);
void writer_get_stats(const struct writer *w, struct writer_stats *ret);

#endif

/* Prune: the record files earlier pods of this DaemonSet left in the output
 * directory. Each pod writes its own `<pod>_<namespace>_<container>-<64 hex>.log`
 * (the hex is its node and pod UID's), and the writer's rotated siblings
 * `<that>.YYYYMMDD-hhmmss[.N]`; once the pod is gone nothing deletes them and
 * Fluent Bit tails them for ever. A pass deletes the ones that are this
 * DaemonSet's (same namespace and container, a pod name of the same
 * DaemonSet), regular files (never a symlink: the kubelet's own log links in
 * /var/log/containers look the same; never a directory or a FIFO, which is
 * never opened), not the live file or its rotated siblings (by name, and by
 * device and inode under any name), untouched for at least the age given.
 * prune_pass is the pass itself, blocking; a pruner runs passes on the
 * worker thread of base/aio.h (the loop never waits for the disk) and
 * hands their results back on the loop. No log, no clock of its own: the
 * driver says what happened. */
#ifndef NODETRAIL_OUT_PRUNE_H
#define NODETRAIL_OUT_PRUNE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "nodetrail/base/aio.h"
#include "nodetrail/base/record.h"

#define PRUNE_MAX_CANDIDATES 256  /* files of the pattern looked at per pass; the next pass goes on */
#define PRUNE_LISTED 32           /* removed files named in a result (and its record); the rest counted */

struct prune_options {
	const char *dir;          /* the output directory */
	const char *live_name;    /* the writer's file name: it and its rotated siblings are the writer's */
	dev_t live_dev;           /* the writer's open file: never deleted, whatever its name */
	ino_t live_ino;
	const char *pod_name;     /* this agent's: a file's pod must share its name up to the last '-' */
	const char *pod_namespace; /* this agent's: a file's namespace must be this */
	const char *container_name; /* this agent's: a file's container must be this */
	int64_t now_ns;           /* CLOCK_REALTIME */
	uint32_t older_than_s;    /* untouched (mtime) at least this long; 0: nothing is pruned */
	uint32_t max_candidates;  /* 0: PRUNE_MAX_CANDIDATES */
};

struct prune_file {
	char name[256];
	uint64_t bytes;           /* its size when removed */
	int64_t modified_ns;      /* its mtime */
};

struct prune_result {
	uint32_t candidates;      /* files of earlier pods of this DaemonSet looked at */
	uint32_t removed;         /* of them, deleted */
	uint64_t bytes_freed;     /* their sizes, summed */
	uint32_t errors;          /* a candidate that could not be looked at or deleted */
	int first_error;          /* -errno of the first, 0 if none */
	char first_error_name[256];
	bool capped;              /* more candidates than max_candidates: the rest wait for the next pass */
	uint32_t listed;          /* files[0, listed): the first removed */
	struct prune_file files[PRUNE_LISTED];
};

/* What the agent tells of its passes (agent.status, /metrics). */
struct prune_stats {
	uint32_t after_s;         /* --prune-after; 0: never */
	uint64_t passes;
	uint64_t files;           /* files deleted */
	uint64_t bytes;           /* bytes freed */
	uint64_t errors;          /* files that could not be deleted, passes that could not read the directory */
};

/* One pass over opts->dir. 0 (then *ret says what was done, per-file
 * failures included), or -errno: the directory could not be read, or
 * -EINVAL: no namespace, container or live file name to match with. */
int prune_pass(const struct prune_options *opts, struct prune_result *ret);

/* Add a pass (its prune_pass return value and result) to the counters. */
void prune_stats_add(struct prune_stats *s, int pass, const struct prune_result *res);

/* A pass done, on the loop: pass is prune_pass's return value; opts and res
 * are valid during the call only. */
typedef void (*prune_done_cb)(void *ctx, int pass, const struct prune_options *opts, const struct prune_result *res);

struct pruner;

/* Passes with opts (copied; now_ns, live_dev and live_ino come with each
 * pass) on aio's worker thread. 0, -EINVAL (names too long), or -ENOMEM. */
int pruner_new(struct aio *aio, const struct prune_options *opts, prune_done_cb done, void *ctx, struct pruner **ret);
/* A pass in flight is left to finish and clean up after itself, unreported. */
void pruner_free(struct pruner *p);
/* Start a pass: done is told on the loop. 0, -EBUSY (one is in flight),
 * or -errno. */
int pruner_run(struct pruner *p, int64_t now_ns, dev_t live_dev, ino_t live_ino);
/* No pass in flight. */
bool pruner_idle(const struct pruner *p);
/* The passes done so far, counted. */
void pruner_get_stats(const struct pruner *p, struct prune_stats *ret);

/* Emit the agent.files_pruned record of a pass that removed files (none
 * when it removed nothing): which files, their bytes, and the rule. */
void prune_report(const struct prune_options *opts, const struct prune_result *res, const struct record_node *node,
		  const char *boot_id, record_emit_cb emit, void *emit_ctx);

#endif

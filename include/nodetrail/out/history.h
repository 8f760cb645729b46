/* History: what earlier runs of the agent wrote, read back from the tail of
 * the record files at start, so that a restart (SIGTERM or kill -9) neither
 * reuses a seq nor writes the same fact twice, and can say how long it was
 * away. */
#ifndef NODETRAIL_OUT_HISTORY_H
#define NODETRAIL_OUT_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "nodetrail/base/idset.h"

struct history {
	bool found;               /* at least one record was read */
	uint64_t last_seq;
	int64_t last_event_ns;    /* event_time of the last record */
	bool clean_stop;          /* the last record is agent.status "stopping" */
	char last_boot_id[64];    /* boot id in the last agent.status, "" if none */
	uint64_t records;         /* records read */
	uint64_t bad_lines;       /* lines that were not a CRI line with a JSON record */
};

/* Read at most max_bytes from the end of path, adding every record's id
 * (hashed) to ids and updating *h (files are read oldest first). 0, or -errno. */
int history_read_file(const char *path, size_t max_bytes, struct idset *ids, struct history *h);

/* --output stdout: the runtime keeps the container's output as <restart>.log in dir (the kubelet keeps
 * the current and the previous instance's; rotated ones as <restart>.log.<time>, older ones gzipped).
 * Reads the newest `files` of them, oldest first (gzipped ones never), with history_read_file.
 * The number of files read, or -errno (-ENOENT: no such directory: nothing written yet, or not mounted). */
int history_read_runtime_dir(const char *dir, unsigned files, size_t max_bytes, struct idset *ids,
			     struct history *h);

#endif

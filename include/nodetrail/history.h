/* History: what earlier runs of the agent wrote, read back from the tail of
 * the record files at start, so that a restart (SIGTERM or kill -9) neither
 * reuses a seq nor writes the same fact twice, and can say how long it was
 * away. Also the bounded set of recent record ids used for that. */
#ifndef NODETRAIL_HISTORY_H
#define NODETRAIL_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct record_ids;

/* A set of the last `cap` record ids (FIFO: the oldest is forgotten first). */
struct record_ids *record_ids_new(uint32_t cap);
void record_ids_free(struct record_ids *ids);
/* true if id was already in the set; adds it otherwise */
bool record_ids_check_add(struct record_ids *ids, const char *id);
/* the same by the id's hash (record_hash_str), as a checkpoint keeps them */
bool record_ids_check_add_hash(struct record_ids *ids, uint64_t hash);
bool record_ids_contains(const struct record_ids *ids, const char *id);
/* Visit the hashes of the n newest ids, oldest first. */
void record_ids_each_recent(const struct record_ids *ids, uint32_t n, void (*cb)(void *ctx, uint64_t hash), void *ctx);
uint32_t record_ids_count(const struct record_ids *ids);
/* ids forgotten because the window was full */
uint64_t record_ids_forgotten(const struct record_ids *ids);

struct history {
	bool found;               /* at least one record was read */
	uint64_t last_seq;
	int64_t last_event_ns;    /* event_time of the last record */
	bool clean_stop;          /* the last record is agent.status "stopping" */
	char last_boot_id[64];    /* boot id in the last agent.status, "" if none */
	uint64_t records;         /* records read */
	uint64_t bad_lines;       /* lines that were not a CRI line with a JSON record */
};

/* Read at most max_bytes from the end of path, adding every record's id to
 * ids and updating *h (files are read oldest first). 0, or -errno. */
int history_read_file(const char *path, size_t max_bytes, struct record_ids *ids, struct history *h);

#endif

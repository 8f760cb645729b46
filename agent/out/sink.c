/* The record sink. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/log.h"
#include "nodetrail/base/u64map.h"
#include "nodetrail/out/encode.h"
#include "nodetrail/out/sink.h"

struct sink {
	struct writer *writer;
	struct idset *ids;        /* facts whose lines are in the file, this run or before */
	/* the ids of the lines queued and not yet in the file, in order (the writer never reorders):
	 * bounded by the writer's queue, whose lines are at least PREFIX_LEN bytes */
	uint64_t *pending;
	size_t pending_head, pending_n, pending_cap;
	/* the same ids for lookup (a fact in flight is not queued twice); past its cap (a stalled
	 * disk) the rest are found by a scan of pending */
	struct u64map *in_flight;
	size_t unindexed;
	uint64_t seq;
	uint64_t written;
	uint64_t full_run;        /* records dropped since the queue was last found full: logged twice */
	char *encode_buf;         /* SINK_ENCODE_MAX */
	struct sink_stats stats;
};

/* the writer wrote (or lost) the next n lines queued */
static void lines_done(void *ctx, uint64_t n, bool written)
{
	struct sink *s = ctx;

	for (; n && s->pending_n; n--) {
		uint64_t id = s->pending[s->pending_head];

		s->pending_head = (s->pending_head + 1) % s->pending_cap;
		s->pending_n--;
		if (!u64map_take(s->in_flight, id) && s->unindexed)
			s->unindexed--;
		if (written)
			idset_check_add(s->ids, id);
		else
			s->stats.lost++;
	}
}

static int pending_push(struct sink *s, uint64_t id)
{
	if (s->pending_n == s->pending_cap) {
		size_t cap = s->pending_cap ? 2 * s->pending_cap : 256;
		uint64_t *more = malloc(cap * sizeof(*more));

		if (!more)
			return -ENOMEM;
		for (size_t i = 0; i < s->pending_n; i++)
			more[i] = s->pending[(s->pending_head + i) % s->pending_cap];
		free(s->pending);
		s->pending = more;
		s->pending_cap = cap;
		s->pending_head = 0;
	}
	s->pending[(s->pending_head + s->pending_n) % s->pending_cap] = id;
	s->pending_n++;
	return 0;
}

static bool is_in_flight(const struct sink *s, uint64_t id)
{
	if (u64map_get(s->in_flight, id))
		return true;
	for (size_t i = 0; s->unindexed && i < s->pending_n; i++)
		if (s->pending[(s->pending_head + i) % s->pending_cap] == id)
			return true;
	return false;
}

int sink_new(struct writer *writer, uint32_t dedup_cap, struct sink **ret)
{
	struct sink *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->writer = writer;
	s->encode_buf = malloc(SINK_ENCODE_MAX);
	if (!s->encode_buf || idset_new(dedup_cap, &s->ids) < 0 || u64map_new(SINK_IN_FLIGHT_INDEXED, &s->in_flight) < 0) {
		sink_free(s);
		return -ENOMEM;
	}
	writer_set_done(writer, lines_done, s);
	*ret = s;
	return 0;
}

void sink_free(struct sink *s)
{
	if (!s)
		return;
	idset_free(s->ids);
	u64map_free(s->in_flight, NULL);
	free(s->pending);
	free(s->encode_buf);
	free(s);
}

void sink_emit(void *ctx, struct record *r)
{
	struct sink *s = ctx;
	uint64_t id = hash_str(r->record_id);
	int n, err;

	/* the same fact twice (a relist after a restart, a replayed watch) is
	 * written once; agent.status ids are unique per status anyway */
	if (idset_contains(s->ids, id) || is_in_flight(s, id)) {
		s->stats.duplicates++;
		log_debug("record %s %s already written, skipping", record_type_name(r->type), r->record_id);
		return;
	}
	r->seq = s->seq + 1;
	n = record_encode(r, s->encode_buf, SINK_ENCODE_MAX);
	if (n < 0) {
		/* not written, and not marked: the fact is not claimed by a line the file lacks */
		s->stats.dropped++;
		log_warn("failed to encode a %s record: %s, dropping it", record_type_name(r->type), strerror(-n));
		return;
	}
	if (pending_push(s, id) < 0) {
		s->stats.dropped++;
		log_warn("out of memory for a %s record, dropping it", record_type_name(r->type));
		return;
	}
	err = writer_append(s->writer, clock_ns(CLOCK_REALTIME), s->encode_buf, (size_t)n);
	if (err < 0) {
		s->pending_n--; /* never queued: the writer will not tell of it */
		s->stats.dropped++;
		/* a full disk fills the queue for minutes: one line when it starts, one when it ends */
		if (s->full_run++ == 0)
			log_warn("record queue full (%s): dropping records until the writer catches up "
				 "(the first: a %s record)", strerror(-err), record_type_name(r->type));
		return;
	}
	if (s->full_run) {
		log_warn("record queue has room again: %llu records were dropped while it was full",
			 (unsigned long long)s->full_run);
		s->full_run = 0;
	}
	if (u64map_put(s->in_flight, id, (void *)1, NULL) < 0)
		s->unindexed++;
	s->seq++;
	s->written++;
	s->stats.by_type[(unsigned)r->type < RECORD_NTYPES ? r->type : 0]++;
	log_debug("record %s: %s", record_type_name(r->type), r->summary ? r->summary : "");
	if (r->durable)
		writer_sync(s->writer); /* an fsync as soon as this line is written */
}

struct idset *sink_ids(struct sink *s)
{
	return s->ids;
}

uint64_t sink_seq(const struct sink *s)
{
	return s->seq;
}

void sink_continue_after(struct sink *s, uint64_t seq)
{
	if (seq > s->seq)
		s->seq = seq;
}

uint64_t sink_written(const struct sink *s)
{
	return s->written;
}

void sink_get_stats(const struct sink *s, struct sink_stats *ret)
{
	*ret = s->stats;
	ret->dedup_ids = idset_count(s->ids);
	ret->dedup_cap = idset_cap(s->ids);
	ret->dedup_forgotten = idset_forgotten(s->ids);
	ret->in_flight = s->pending_n;
}

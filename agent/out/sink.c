/* The record sink. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/log.h"
#include "nodetrail/out/encode.h"
#include "nodetrail/out/sink.h"

struct sink {
	struct writer *writer;
	struct idset *ids;        /* facts already written, this run or before */
	uint64_t seq;
	uint64_t written;
	char *encode_buf;         /* SINK_ENCODE_MAX */
	struct sink_stats stats;
};

int sink_new(struct writer *writer, uint32_t dedup_cap, struct sink **ret)
{
	struct sink *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	s->writer = writer;
	s->encode_buf = malloc(SINK_ENCODE_MAX);
	if (!s->encode_buf || idset_new(dedup_cap, &s->ids) < 0) {
		sink_free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

void sink_free(struct sink *s)
{
	if (!s)
		return;
	idset_free(s->ids);
	free(s->encode_buf);
	free(s);
}

void sink_emit(void *ctx, struct record *r)
{
	struct sink *s = ctx;
	int n, err;

	/* the same fact twice (a relist after a restart, a replayed watch) is
	 * written once; agent.status ids are unique per status anyway */
	if (idset_check_add(s->ids, hash_str(r->record_id))) {
		s->stats.duplicates++;
		log_debug("record %s %s already written, skipping", record_type_name(r->type), r->record_id);
		return;
	}
	r->seq = s->seq + 1;
	n = record_encode(r, s->encode_buf, SINK_ENCODE_MAX);
	if (n < 0) {
		s->stats.dropped++;
		log_warn("failed to encode a %s record: %s, dropping it", record_type_name(r->type), strerror(-n));
		return;
	}
	err = writer_append(s->writer, clock_ns(CLOCK_REALTIME), s->encode_buf, (size_t)n);
	if (err < 0) {
		s->stats.dropped++;
		log_warn("record queue full (%s), dropping a %s record", strerror(-err), record_type_name(r->type));
		return;
	}
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
}

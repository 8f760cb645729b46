/* Reading back the record files' tails. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "nodetrail/history.h"
#include "nodetrail/node_state.h"
#include "nodetrail/record.h"
#include "nodetrail/u64map.h"

struct record_ids {
	struct u64map *set;
	uint64_t *ring;
	uint32_t cap, head, count;
	uint64_t forgotten;
};

struct record_ids *record_ids_new(uint32_t cap)
{
	struct record_ids *ids = calloc(1, sizeof(*ids));

	if (!ids)
		return NULL;
	ids->cap = cap ? cap : 1;
	ids->set = u64map_new(ids->cap);
	ids->ring = calloc(ids->cap, sizeof(*ids->ring));
	if (!ids->set || !ids->ring) {
		record_ids_free(ids);
		return NULL;
	}
	return ids;
}

void record_ids_free(struct record_ids *ids)
{
	if (!ids)
		return;
	u64map_free(ids->set, NULL);
	free(ids->ring);
	free(ids);
}

bool record_ids_contains(const struct record_ids *ids, const char *id)
{
	return u64map_get(ids->set, record_hash_str(id)) != NULL;
}

bool record_ids_check_add(struct record_ids *ids, const char *id)
{
	return record_ids_check_add_hash(ids, record_hash_str(id));
}

void record_ids_each_recent(const struct record_ids *ids, uint32_t n, void (*cb)(void *ctx, uint64_t hash), void *ctx)
{
	uint32_t skip = ids->count > n ? ids->count - n : 0;

	for (uint32_t i = skip; i < ids->count; i++)
		cb(ctx, ids->ring[(ids->head + i) % ids->cap]);
}

bool record_ids_check_add_hash(struct record_ids *ids, uint64_t h)
{
	if (u64map_get(ids->set, h))
		return true;
	if (ids->count == ids->cap) {
		u64map_take(ids->set, ids->ring[ids->head]);
		ids->head = (ids->head + 1) % ids->cap;
		ids->count--;
		ids->forgotten++;
	}
	ids->ring[(ids->head + ids->count) % ids->cap] = h;
	ids->count++;
	u64map_put(ids->set, h, (void *)1, NULL);
	return false;
}

uint32_t record_ids_count(const struct record_ids *ids)
{
	return ids->count;
}

uint64_t record_ids_forgotten(const struct record_ids *ids)
{
	return ids->forgotten;
}

static void read_line(char *line, struct record_ids *ids, struct history *h)
{
	char *json = strstr(line, " stdout F ");
	const char *id, *type, *state, *when, *boot;
	cJSON *o, *agent, *seq;

	o = json ? cJSON_Parse(json + 10) : NULL;
	id = cJSON_GetStringValue(cJSON_GetObjectItem(o, "record_id"));
	type = cJSON_GetStringValue(cJSON_GetObjectItem(o, "type"));
	seq = cJSON_GetObjectItem(o, "seq");
	if (!id || !type || !cJSON_IsNumber(seq)) {
		h->bad_lines++;
		cJSON_Delete(o);
		return;
	}
	h->found = true;
	h->records++;
	record_ids_check_add(ids, id);
	if ((uint64_t)json_int(seq, 0, INT64_MAX, 0) > h->last_seq)
		h->last_seq = (uint64_t)json_int(seq, 0, INT64_MAX, 0);
	when = cJSON_GetStringValue(cJSON_GetObjectItem(o, "event_time"));
	h->last_event_ns = node_state_parse_time(when);
	agent = cJSON_GetObjectItem(o, "agent");
	state = cJSON_GetStringValue(cJSON_GetObjectItem(agent, "state"));
	h->clean_stop = !strcmp(type, "agent.status") && state && !strcmp(state, "stopping");
	boot = cJSON_GetStringValue(cJSON_GetObjectItem(agent, "boot_id"));
	if (boot && strlen(boot) < sizeof(h->last_boot_id))
		strcpy(h->last_boot_id, boot);
	cJSON_Delete(o);
}

int history_read_file(const char *path, size_t max_bytes, struct record_ids *ids, struct history *h)
{
	char *buf, *line, *nl;
	off_t size, from;
	ssize_t n;
	int fd, err = 0;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	size = lseek(fd, 0, SEEK_END);
	from = size > (off_t)max_bytes ? size - (off_t)max_bytes : 0;
	buf = malloc((size_t)(size - from) + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, buf, (size_t)(size - from), from);
	close(fd);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	buf[n] = '\0';
	line = buf;
	if (from > 0) {
		/* started mid-line: that line is not ours to judge */
		nl = strchr(buf, '\n');
		line = nl ? nl + 1 : buf + n;
	}
	while (*line) {
		nl = strchr(line, '\n');
		if (!nl)
			break; /* a line cut by a crash: the writer ends it on start */
		*nl = '\0';
		if (*line)
			read_line(line, ids, h);
		line = nl + 1;
	}
out:
	free(buf);
	return err;
}

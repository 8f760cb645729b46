/* Crash-loop series. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/json.h"
#include "nodetrail/base/u64map.h"
#include "nodetrail/join/series.h"

struct exit_series {
	uint64_t last_cid;        /* hash of the newest terminated container id */
	uint32_t n;               /* entries used, oldest first */
	struct series_exit {
		uint64_t cid;
		int64_t finished_ns;
		int exit_code;
		char reason[32];
	} exits[SERIES_MAX_EXITS];
};

struct series {
	struct u64map *map;       /* hash(pod uid/container name) -> struct exit_series */
};

int series_new(uint32_t cap, struct series **ret)
{
	struct series *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (u64map_new(cap, &s->map) < 0) {
		free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

void series_free(struct series *s)
{
	if (!s)
		return;
	u64map_free(s->map, free);
	free(s);
}

static uint64_t key_of(const char *pod_uid, const char *container_name)
{
	char buf[128];

	snprintf(buf, sizeof(buf), "%s/%s", pod_uid, container_name);
	return hash_str(buf);
}

enum series_note series_note(struct series *s, const struct kube_pod *pod, const struct kube_container *k,
			     const struct kube_terminated *t, int64_t history_before_ns)
{
	uint64_t key = key_of(pod->uid, k->name), cid;
	struct exit_series *x = u64map_get(s->map, key);
	bool known = x != NULL;
	int64_t finished;

	if (!x) {
		/* every container has one, so that its first exit is news */
		x = calloc(1, sizeof(*x));
		if (!x)
			return SERIES_UNTRACKED;
		if (u64map_put(s->map, key, x, NULL) < 0) {
			free(x); /* counted: without a series the exit cannot be told apart from the last */
			return SERIES_UNTRACKED;
		}
	}
	if (!t->set || !t->container_id[0])
		return SERIES_SEEN;
	cid = hash_str(t->container_id);
	if (x->last_cid == cid)
		return SERIES_SEEN;
	finished = clock_parse(t->finished_at);
	x->last_cid = cid;
	if (x->n == SERIES_MAX_EXITS)
		memmove(&x->exits[0], &x->exits[1], sizeof(x->exits[0]) * --x->n);
	x->exits[x->n].cid = cid;
	x->exits[x->n].finished_ns = finished;
	x->exits[x->n].exit_code = t->exit_code;
	snprintf(x->exits[x->n].reason, sizeof(x->exits[x->n].reason), "%s", t->reason);
	x->n++;
	/* a container first seen with an exit from before we watched: history */
	if (!known && (!finished || finished + 1000000000LL < history_before_ns))
		return SERIES_HISTORY;
	return SERIES_NEW;
}

void series_add_to_detail(const struct series *s, cJSON *api, const char *pod_uid, const struct kube_container *k,
			  const char *container_id)
{
	const struct exit_series *x = u64map_get(s->map, key_of(pod_uid, k->name));
	uint64_t current = hash_str(container_id);
	bool back_off = strcmp(k->waiting_reason, "CrashLoopBackOff") == 0;
	cJSON *o, *list;
	char when[CLOCK_TEXT_LEN];

	if (!api || (k->restart_count < 1 && !back_off))
		return;
	o = cJSON_AddObjectToObject(api, "crash_loop");
	list = o ? cJSON_AddArrayToObject(o, "previous_exits") : NULL;
	if (!list)
		return;
	cJSON_AddBoolToObject(o, "back_off", back_off);
	for (uint32_t i = 0; x && i < x->n; i++) {
		const struct series_exit *e = &x->exits[i];
		cJSON *item;

		if (e->cid == current || !(item = cJSON_CreateObject()))
			continue;
		if (e->finished_ns)
			cJSON_AddStringToObject(item, "finished_at", clock_format(e->finished_ns, when));
		cJSON_AddNumberToObject(item, "exit_code", e->exit_code);
		if (e->reason[0])
			cJSON_AddStringToObject(item, "reason", e->reason);
		cJSON_AddItemToArray(list, item);
	}
}

void series_summary(const cJSON *api, char *buf, size_t len)
{
	const cJSON *loop = cJSON_GetObjectItem(api, "crash_loop"), *prev = cJSON_GetObjectItem(loop, "previous_exits");
	const char *since = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetArrayItem(prev, 0), "finished_at"));
	int n = cJSON_GetArraySize(prev);
	size_t k = 0;

	buf[0] = '\0';
	if (!loop)
		return;
	if (n > 0 && since)
		k = (size_t)snprintf(buf, len, ", exit %d of a series since %s", n + 1, since);
	if (cJSON_IsTrue(cJSON_GetObjectItem(loop, "back_off")) && k < len)
		snprintf(buf + k, len - k, ", CrashLoopBackOff");
}

void series_forget_pod(struct series *s, const struct kube_pod *pod)
{
	for (int i = 0; i < pod->ncontainers; i++)
		free(u64map_take(s->map, key_of(pod->uid, pod->containers[i].name)));
}

uint64_t series_dropped(const struct series *s)
{
	return u64map_dropped(s->map);
}

uint32_t series_count(const struct series *s)
{
	return u64map_count(s->map);
}

/* ---- checkpoint ---- */

static void save_one(void *ctx, uint64_t key, void *value)
{
	cJSON *list = ctx, *o = cJSON_CreateObject(), *exits;
	const struct exit_series *x = value;

	if (!o)
		return;
	cJSON_AddItemToArray(list, o);
	json_add_hex(o, "key", key);
	json_add_hex(o, "last", x->last_cid);
	exits = cJSON_AddArrayToObject(o, "exits");
	for (uint32_t i = 0; exits && i < x->n; i++) {
		cJSON *e = cJSON_CreateObject();

		if (!e)
			break;
		json_add_hex(e, "cid", x->exits[i].cid);
		cJSON_AddNumberToObject(e, "finished", (double)x->exits[i].finished_ns);
		cJSON_AddNumberToObject(e, "exit_code", x->exits[i].exit_code);
		cJSON_AddStringToObject(e, "reason", x->exits[i].reason);
		cJSON_AddItemToArray(exits, e);
	}
}

cJSON *series_save(const struct series *s)
{
	cJSON *list = cJSON_CreateArray();

	if (list)
		u64map_each(s->map, save_one, list);
	return list;
}

void series_restore(struct series *s, const cJSON *list)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, list) {
		struct exit_series *x = calloc(1, sizeof(*x));
		const cJSON *e;
		void *old = NULL;

		if (!x)
			return;
		x->last_cid = json_get_hex(o, "last");
		cJSON_ArrayForEach(e, cJSON_GetObjectItem(o, "exits")) {
			if (x->n == SERIES_MAX_EXITS)
				break;
			x->exits[x->n].cid = json_get_hex(e, "cid");
			x->exits[x->n].finished_ns = json_get_num(e, "finished");
			x->exits[x->n].exit_code = (int)json_get_num(e, "exit_code");
			JSON_GET_STR(e, "reason", x->exits[x->n].reason);
			x->n++;
		}
		if (u64map_put(s->map, json_get_hex(o, "key"), x, &old) < 0)
			free(x);
		free(old); /* the same key twice in a file: the last one stands */
	}
}

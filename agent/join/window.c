/* The records waiting in the join window. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/json.h"
#include "nodetrail/join/window.h"

struct window {
	uint32_t cap, n;
	struct pending **items;   /* unordered: a leaving record's slot takes the last one */
};

int pending_new(struct pending **ret)
{
	struct pending *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

void pending_free(struct pending *p)
{
	if (!p)
		return;
	cJSON_Delete(p->kernel);
	cJSON_Delete(p->api);
	cJSON_Delete(p->kubelet);
	free(p->pod);
	free(p);
}

int window_new(uint32_t cap, struct window **ret)
{
	struct window *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->cap = cap ? cap : 1;
	w->items = calloc(w->cap, sizeof(*w->items));
	if (!w->items) {
		free(w);
		return -ENOMEM;
	}
	*ret = w;
	return 0;
}

void window_free(struct window *w)
{
	if (!w)
		return;
	for (uint32_t i = 0; i < w->n; i++)
		pending_free(w->items[i]);
	free(w->items);
	free(w);
}

int window_add(struct window *w, struct pending *p)
{
	if (w->n == w->cap)
		return -ENOSPC;
	w->items[w->n++] = p;
	return 0;
}

static struct pending *take(struct window *w, uint32_t i)
{
	struct pending *p = w->items[i];

	w->items[i] = w->items[--w->n];
	return p;
}

struct pending *window_take_api_exit(struct window *w, const char *container_id)
{
	for (uint32_t i = 0; i < w->n; i++)
		if (w->items[i]->api_only && strcmp(w->items[i]->container_id, container_id) == 0)
			return take(w, i);
	return NULL;
}

void window_sweep(struct window *w, enum window_verdict (*decide)(void *ctx, struct pending *p), void *ctx)
{
	for (uint32_t i = 0; i < w->n;) {
		if (decide(ctx, w->items[i]) == WINDOW_DONE) {
			pending_free(take(w, i));
			continue;
		}
		i++;
	}
}

void window_sweep_all_newest_first(struct window *w, void (*close)(void *ctx, struct pending *p), void *ctx)
{
	while (w->n) {
		struct pending *p = take(w, w->n - 1);

		close(ctx, p);
		pending_free(p);
	}
}

uint32_t window_count(const struct window *w)
{
	return w->n;
}

int64_t window_next_deadline(const struct window *w)
{
	int64_t next = 0;

	for (uint32_t i = 0; i < w->n; i++)
		if (!next || w->items[i]->deadline_ns < next)
			next = w->items[i]->deadline_ns;
	return next;
}

/* ---- checkpoint ---- */

static cJSON *save_one(const struct pending *p)
{
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "type", record_type_name(p->type));
	cJSON_AddStringToObject(o, "record_id", p->record_id);
	cJSON_AddNumberToObject(o, "event_time", (double)p->event_time_ns);
	cJSON_AddStringToObject(o, "what", p->what);
	cJSON_AddStringToObject(o, "comm", p->comm);
	cJSON_AddBoolToObject(o, "is_exit", p->is_exit);
	cJSON_AddBoolToObject(o, "api_only", p->api_only);
	cJSON_AddStringToObject(o, "pod_uid", p->pod_uid);
	cJSON_AddStringToObject(o, "container_id", p->container_id);
	cJSON_AddStringToObject(o, "qos", p->qos);
	cJSON_AddStringToObject(o, "runtime", p->runtime);
	cJSON_AddStringToObject(o, "cgroup", p->cgroup);
	cJSON_AddStringToObject(o, "pod_name", p->pod_name);
	cJSON_AddStringToObject(o, "pod_ns", p->pod_ns);
	cJSON_AddStringToObject(o, "container_name", p->container_name);
	cJSON_AddStringToObject(o, "owner_kind", p->owner_kind);
	cJSON_AddStringToObject(o, "owner_name", p->owner_name);
	if (p->kernel)
		cJSON_AddItemToObject(o, "kernel", cJSON_Duplicate(p->kernel, true));
	if (p->api)
		cJSON_AddItemToObject(o, "api", cJSON_Duplicate(p->api, true));
	return o;
}

cJSON *window_save(const struct window *w)
{
	cJSON *list = cJSON_CreateArray();

	for (uint32_t i = 0; list && i < w->n; i++) {
		cJSON *o = save_one(w->items[i]);

		if (o)
			cJSON_AddItemToArray(list, o);
	}
	return list;
}

/* the container record types that wait in the window */
static bool type_of(const char *name, enum record_type *ret)
{
	static const enum record_type types[] = { RECORD_CONTAINER_EXITED, RECORD_CONTAINER_OOM_KILLED,
						  RECORD_CONTAINER_EXEC };

	for (size_t i = 0; name && i < sizeof(types) / sizeof(types[0]); i++)
		if (!strcmp(name, record_type_name(types[i]))) {
			*ret = types[i];
			return true;
		}
	return false;
}

struct pending *window_load_one(const cJSON *o)
{
	const char *id = cJSON_GetStringValue(cJSON_GetObjectItem(o, "record_id"));
	struct pending *p;

	if (!id || strlen(id) != RECORD_ID_LEN || pending_new(&p) < 0)
		return NULL;
	if (!type_of(cJSON_GetStringValue(cJSON_GetObjectItem(o, "type")), &p->type)) {
		pending_free(p);
		return NULL;
	}
	memcpy(p->record_id, id, RECORD_ID_LEN + 1);
	p->event_time_ns = json_get_num(o, "event_time");
	JSON_GET_STR(o, "what", p->what);
	JSON_GET_STR(o, "comm", p->comm);
	p->is_exit = cJSON_IsTrue(cJSON_GetObjectItem(o, "is_exit"));
	p->api_only = cJSON_IsTrue(cJSON_GetObjectItem(o, "api_only"));
	JSON_GET_STR(o, "pod_uid", p->pod_uid);
	JSON_GET_STR(o, "container_id", p->container_id);
	JSON_GET_STR(o, "qos", p->qos);
	JSON_GET_STR(o, "runtime", p->runtime);
	JSON_GET_STR(o, "cgroup", p->cgroup);
	JSON_GET_STR(o, "pod_name", p->pod_name);
	JSON_GET_STR(o, "pod_ns", p->pod_ns);
	JSON_GET_STR(o, "container_name", p->container_name);
	JSON_GET_STR(o, "owner_kind", p->owner_kind);
	JSON_GET_STR(o, "owner_name", p->owner_name);
	p->kernel = cJSON_Duplicate(cJSON_GetObjectItem(o, "kernel"), true);
	p->api = cJSON_Duplicate(cJSON_GetObjectItem(o, "api"), true);
	if (!cJSON_IsObject(p->kernel) || (p->api_only && !cJSON_IsObject(p->api))) {
		pending_free(p);
		return NULL;
	}
	return p;
}

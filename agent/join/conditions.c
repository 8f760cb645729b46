/* node.condition. */
#include <stdio.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/join/conditions.h"

/* OOM kills of the last 5 minutes (at most the 32 newest); *ret_n their number */
static cJSON *memory_context(const struct containers *t, uint32_t *ret_n)
{
	int64_t now = clock_ns(CLOCK_REALTIME);
	char when[CLOCK_TEXT_LEN];
	cJSON *o, *list;

	*ret_n = 0;
	o = cJSON_CreateObject();
	list = o ? cJSON_AddArrayToObject(o, "recent_oom_kills") : NULL;
	if (!list) {
		cJSON_Delete(o);
		return NULL;
	}
	for (uint32_t i = 0; i < CONTAINER_MAX_RECENT_OOMS; i++) {
		const struct recent_oom *r = containers_oom_at(t, i);
		cJSON *k;

		if (!r->at_ns || now - r->at_ns > CONDITION_OOM_CONTEXT_NS || !(k = cJSON_CreateObject()))
			continue;
		cJSON_AddStringToObject(k, "at", clock_format(r->at_ns, when));
		if (r->pod_uid[0])
			cJSON_AddStringToObject(k, "pod_uid", r->pod_uid);
		cJSON_AddStringToObject(k, "container_id", r->container_id);
		cJSON_AddStringToObject(k, "comm", r->comm);
		cJSON_AddBoolToObject(k, "node_wide", r->node_wide);
		cJSON_AddItemToArray(list, k);
		(*ret_n)++;
	}
	cJSON_AddNumberToObject(o, "oom_kills_last_5m", *ret_n);
	return o;
}

void condition_record(const struct join_env *env, const struct containers *t, const struct kube_condition *c,
		      const char *was)
{
	char summary[512];
	struct record r = { 0 };
	cJSON *o = cJSON_CreateObject(), *kernel = NULL;
	uint32_t ooms;

	if (!o)
		return;
	cJSON_AddStringToObject(o, "condition", c->type);
	cJSON_AddStringToObject(o, "status", c->status);
	cJSON_AddStringToObject(o, "previous_status", was);
	if (c->reason[0])
		cJSON_AddStringToObject(o, "reason", c->reason);
	if (c->message[0])
		cJSON_AddStringToObject(o, "message", c->message);
	snprintf(summary, sizeof(summary), "node %s condition %s: %s -> %s%s%s", env->node->node_name, c->type, was,
		 c->status, c->reason[0] ? " (" : "", c->reason[0] ? c->reason : "");
	if (c->reason[0])
		strncat(summary, ")", sizeof(summary) - strlen(summary) - 1);
	if (!strcmp(c->type, "MemoryPressure") && !strcmp(c->status, "True") && !env->bpf_off &&
	    (kernel = memory_context(t, &ooms))) {
		size_t n = strlen(summary);

		snprintf(summary + n, sizeof(summary) - n, "; kernel: %u OOM kill%s in the last 5 minutes", ooms,
			 ooms == 1 ? "" : "s");
		r.detail2_key = "kernel";
		r.detail2 = kernel;
		r.sources[1] = "kernel";
	}
	r.type = RECORD_NODE_CONDITION;
	r.event_time_ns = clock_parse(c->last_transition);
	if (!r.event_time_ns)
		r.event_time_ns = clock_ns(CLOCK_REALTIME);
	r.node = env->node;
	record_make_id(r.type, NULL, hash_str(c->type), hash_str(c->status), hash_str(c->last_transition), r.record_id);
	r.detail_key = "api";
	r.detail = o;
	r.sources[0] = "api";
	r.summary = summary;
	env->emit(env->emit_ctx, &r);
	cJSON_Delete(o);
	cJSON_Delete(kernel);
}

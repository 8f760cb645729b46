/* The node's interruption and its node.interruption record. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/api/interruption.h"
#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/json.h"
#include "nodetrail/base/loop.h"

struct interruption {
	struct interruption_options opts;
	struct interruption_info info;
	bool drain_pending;
	uint64_t timer;           /* the deadline, on the loop; 0 if none */
};

int interruption_new(const struct interruption_options *opts, struct interruption **ret)
{
	struct interruption *it = calloc(1, sizeof(*it));

	if (!it)
		return -ENOMEM;
	it->opts = *opts;
	*ret = it;
	return 0;
}

void interruption_free(struct interruption *it)
{
	if (it)
		loop_timer_del(it->opts.loop, it->timer);
	free(it);
}

static void on_deadline(struct loop *loop, uint64_t id, void *data)
{
	struct interruption *it = data;

	it->timer = 0;
	if (it->drain_pending && it->opts.due)
		it->opts.due(it->opts.ctx, &it->info);
}

static void arm(struct interruption *it)
{
	int64_t left = it->info.deadline_ns - clock_ns(CLOCK_REALTIME);

	it->drain_pending = true;
	if (it->opts.loop) {
		loop_timer_del(it->opts.loop, it->timer);
		it->timer = loop_timer_add(it->opts.loop, left > 0 ? (uint64_t)((left + 999999) / 1000000) : 0, on_deadline, it);
	}
	if (it->opts.armed)
		it->opts.armed(it->opts.ctx, &it->info);
}

void interruption_notice(struct interruption *it, const char *source, const char *kind, int64_t notice_ns,
			 int64_t deadline_ns, const char *detail, uint32_t pods_on_node)
{
	struct interruption_info *in = &it->info;
	char summary[512], when[CLOCK_TEXT_LEN];
	struct record r = { 0 };
	cJSON *o;

	if (in->open) {
		/* the first notice opens it; later ones are the same interruption, but
		 * the instance's own time (IMDS) beats the estimate of notice + 120 s */
		if (deadline_ns && deadline_ns != in->deadline_ns && !in->deadline_exact) {
			in->deadline_ns = deadline_ns;
			in->deadline_exact = true;
			arm(it);
		}
		return;
	}
	in->open = true;
	in->notice_ns = notice_ns ? notice_ns : clock_ns(CLOCK_REALTIME);
	in->deadline_exact = deadline_ns != 0;
	in->deadline_ns = deadline_ns ? deadline_ns : in->notice_ns + INTERRUPTION_NOTICE_TO_DEADLINE_NS;
	snprintf(in->source, sizeof(in->source), "%s", source);
	o = cJSON_CreateObject();
	if (o) {
		cJSON_AddStringToObject(o, "source", source);
		cJSON_AddStringToObject(o, "kind", kind);
		cJSON_AddStringToObject(o, "deadline", clock_format(in->deadline_ns, when));
		cJSON_AddNumberToObject(o, "pods_on_node", pods_on_node);
		if (detail && *detail)
			cJSON_AddStringToObject(o, "detail", detail);
		snprintf(summary, sizeof(summary),
			 "%s interruption of node %s announced by %s: deadline %s, %u pods on the node", kind,
			 it->opts.node->node_name, source, when, pods_on_node);
		r.type = RECORD_NODE_INTERRUPTION;
		r.event_time_ns = in->notice_ns;
		r.node = it->opts.node;
		record_make_id(r.type, NULL, hash_str(it->opts.node->node_name), (uint64_t)in->notice_ns / 1000000000ULL,
			       0, r.record_id);
		r.sources[0] = strcmp(source, "imds") == 0 ? "imds" : "api";
		r.detail_key = r.sources[0];
		r.detail = o;
		r.summary = summary;
		r.counts.interruptions = 1;
		r.durable = true;
		it->opts.emit(it->opts.emit_ctx, &r);
		cJSON_Delete(o);
	}
	arm(it);
}

const struct interruption_info *interruption_get(const struct interruption *it)
{
	return &it->info;
}

bool interruption_drain_pending(const struct interruption *it)
{
	return it->drain_pending;
}

bool interruption_drain_due(const struct interruption *it, int64_t now_ns)
{
	return it->drain_pending && now_ns >= it->info.deadline_ns;
}

void interruption_drain_reported(struct interruption *it)
{
	it->drain_pending = false;
	loop_timer_del(it->opts.loop, it->timer);
	it->timer = 0;
}

cJSON *interruption_save(const struct interruption *it)
{
	cJSON *o;

	if (!it->info.open || !(o = cJSON_CreateObject()))
		return NULL;
	cJSON_AddNumberToObject(o, "notice_ns", (double)it->info.notice_ns);
	cJSON_AddNumberToObject(o, "deadline_ns", (double)it->info.deadline_ns);
	cJSON_AddStringToObject(o, "source", it->info.source);
	cJSON_AddBoolToObject(o, "deadline_exact", it->info.deadline_exact);
	return o;
}

void interruption_restore(struct interruption *it, const cJSON *o)
{
	const cJSON *notice = cJSON_GetObjectItem(o, "notice_ns"), *deadline = cJSON_GetObjectItem(o, "deadline_ns");

	if (!cJSON_IsObject(o) || it->info.open || !cJSON_IsNumber(notice) || !cJSON_IsNumber(deadline))
		return;
	/* the same interruption: its record is out, its drain report is still due */
	it->info.open = true;
	it->info.notice_ns = json_int(notice, 0, INT64_C(1) << 62, 0);
	it->info.deadline_ns = json_int(deadline, 0, INT64_C(1) << 62, 0);
	JSON_GET_STR(o, "source", it->info.source);
	it->info.deadline_exact = cJSON_IsTrue(cJSON_GetObjectItem(o, "deadline_exact"));
	arm(it);
}

/* node.drain_report, in pages. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/join/drain.h"
#include "nodetrail/join/termination.h"

struct drain {
	const struct join_env *env;
	cJSON *pods;              /* pod uid -> {namespace, name, containers: [...], containers_omitted} */
	int graceful, killed, running, unseen;
};

/* The pod's container list (a new entry on first use); its names from the API, else from when its
 * container ended (end may be NULL): a drained pod is deleted from the API before its drain is
 * reported. NULL when the pod lists DRAIN_POD_CONTAINERS already (then counted) or on ENOMEM. */
static cJSON *drain_pod(struct drain *d, const char *uid, const struct container_end *end)
{
	const struct kube_pod *pod = join_pod(d->env, uid);
	cJSON *p = cJSON_GetObjectItem(d->pods, uid), *list, *omitted;

	if (p && !cJSON_GetObjectItem(p, "name") && end && end->pod_name[0]) {
		cJSON_AddStringToObject(p, "namespace", end->pod_ns);
		cJSON_AddStringToObject(p, "name", end->pod_name);
	}
	if (!p) {
		p = cJSON_AddObjectToObject(d->pods, uid);
		if (!p)
			return NULL;
		if (pod || (end && end->pod_name[0])) {
			cJSON_AddStringToObject(p, "namespace", pod ? pod->ns : end->pod_ns);
			cJSON_AddStringToObject(p, "name", pod ? pod->name : end->pod_name);
		}
		return cJSON_AddArrayToObject(p, "containers");
	}
	list = cJSON_GetObjectItem(p, "containers");
	if (cJSON_GetArraySize(list) < DRAIN_POD_CONTAINERS)
		return list;
	omitted = cJSON_GetObjectItem(p, "containers_omitted");
	if (omitted)
		cJSON_SetNumberValue(omitted, omitted->valuedouble + 1);
	else
		cJSON_AddNumberToObject(p, "containers_omitted", 1);
	return NULL;
}

static void drain_running(void *ctx, const struct container_state *st, const struct cgroup_entry *e)
{
	struct drain *d = ctx;
	char when[CLOCK_TEXT_LEN];
	cJSON *list, *o;

	if (!e || st->exit_reported || !e->ref.pod_uid[0] || !st->main_tgid)
		return;
	d->running++;
	list = drain_pod(d, e->ref.pod_uid, NULL);
	o = list ? cJSON_CreateObject() : NULL;
	if (!o)
		return;
	cJSON_AddStringToObject(o, "id", e->ref.container_id);
	if (st->term_boot_ns)
		cJSON_AddStringToObject(o, "sigterm_at", clock_format(clock_boot_to_real(st->term_boot_ns), when));
	if (st->term_boot_ns && st->term_ignored)
		cJSON_AddBoolToObject(o, "sigterm_ignored", true);
	cJSON_AddStringToObject(o, "verdict", "still_running");
	cJSON_AddItemToArray(list, o);
}

/* every container that ended since the notice, judged at judged_at, and every one still running */
static void collect(struct drain *d, const struct containers *t, int64_t notice_ns, int64_t judged_at)
{
	for (uint32_t i = 0; i < CONTAINER_MAX_ENDS; i++) {
		const struct container_end *end = containers_end_at(t, i);
		struct exit_status es;
		const char *v;
		cJSON *list, *o;

		/* containers that ended since the notice (the sandbox is the pod's) */
		if (!end->exit_ns || end->exit_ns < notice_ns || !end->pod_uid[0] || !strcmp(end->comm, "pause"))
			continue;
		exit_status_decode(end->exit_code, &es);
		if (end->unseen) {
			/* it ended while the agent was down (restarted mid-drain) */
			v = "ended_unseen";
			d->unseen++;
		} else if ((es.exited || es.signal == 15) && end->exit_ns <= judged_at) {
			/* graceful: it stopped by itself (or on SIGTERM's default action) in time */
			v = "graceful";
			d->graceful++;
		} else {
			v = end->exit_ns > judged_at ? "after_deadline" : end->oom ? "oom_killed" : "killed";
			d->killed++;
		}
		list = drain_pod(d, end->pod_uid, end);
		o = list ? cJSON_CreateObject() : NULL;
		if (!o)
			continue;
		termination_end_json(end, false, o);
		cJSON_AddStringToObject(o, "verdict", v);
		cJSON_AddItemToArray(list, o);
	}
	containers_each(t, drain_running, d);
}

static int by_uid(const void *a, const void *b)
{
	return strcmp((*(cJSON *const *)a)->string, (*(cJSON *const *)b)->string);
}

/* Pods per page. A pod's page is its place in uid order divided by this: the same pods make the
 * same pages, so a report rewritten after a restart (kill -9 between two pages) has the pages of
 * the first attempt, and the ones already in the file are not written twice. The largest pod's size
 * is rounded up to 1 KiB so that a verdict changed meanwhile rarely changes the count. */
static uint32_t pods_per_page(cJSON *const *pods, uint32_t n)
{
	size_t largest = 1;

	for (uint32_t i = 0; i < n; i++) {
		char *text = cJSON_PrintUnformatted(pods[i]);
		size_t len = text ? strlen(text) + strlen(pods[i]->string) + 4 : 4096;

		free(text);
		if (len > largest)
			largest = len;
	}
	largest = (largest + 1023) / 1024 * 1024;
	return largest >= DRAIN_PAGE_BUDGET ? 1 : (uint32_t)(DRAIN_PAGE_BUDGET / largest);
}

/* what every page says: the interruption, when, the totals, and where the page sits */
static cJSON *page_head(const struct drain *d, const struct interruption_info *in, const char *drain_id,
			int64_t notice_ns, int64_t deadline_ns, const char *why, bool final, uint32_t npods,
			uint32_t page, uint32_t pages)
{
	char when[CLOCK_TEXT_LEN];
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	cJSON_AddStringToObject(o, "drain_id", drain_id);
	cJSON_AddNumberToObject(o, "page", page + 1);
	cJSON_AddNumberToObject(o, "pages", pages);
	if (in) {
		cJSON_AddStringToObject(o, "kind", interruption_kind_name(in->kind));
		cJSON_AddBoolToObject(o, "confirmed", in->confirmed);
		if (in->reason[0])
			cJSON_AddStringToObject(o, "reason", in->reason);
	}
	cJSON_AddStringToObject(o, "notice_at", clock_format(notice_ns, when));
	if (deadline_ns)
		cJSON_AddStringToObject(o, "deadline", clock_format(deadline_ns, when));
	cJSON_AddStringToObject(o, "reported", why);
	cJSON_AddBoolToObject(o, "final", final);
	cJSON_AddNumberToObject(o, "pods", npods);
	cJSON_AddNumberToObject(o, "graceful", d->graceful);
	cJSON_AddNumberToObject(o, "killed", d->killed);
	cJSON_AddNumberToObject(o, "still_running", d->running);
	cJSON_AddNumberToObject(o, "ended_unseen", d->unseen);
	return o;
}

void drain_report(const struct join_env *env, const struct containers *t, int64_t notice_ns, int64_t deadline_ns,
		  const char *why, bool final)
{
	const struct interruption_info *in = env->interruption ? interruption_get(env->interruption) : NULL;
	struct drain d = { .env = env };
	int64_t now = clock_ns(CLOCK_REALTIME);
	/* a Karpenter disruption has no deadline: it drains, then the node goes */
	int64_t judged_at = deadline_ns ? deadline_ns : now;
	char summary[512], drain_id[RECORD_ID_LEN + 1], variant[64];
	uint64_t node = hash_str(env->node->node_name), notice_s = (uint64_t)notice_ns / 1000000000ULL;
	uint32_t npods, per_page, pages;
	cJSON **pods;
	size_t n;

	d.pods = cJSON_CreateObject();
	if (!d.pods)
		return;
	collect(&d, t, notice_ns, judged_at);
	npods = (uint32_t)cJSON_GetArraySize(d.pods);
	pods = calloc(npods ? npods : 1, sizeof(*pods));
	if (!pods) {
		cJSON_Delete(d.pods);
		return;
	}
	npods = 0;
	for (cJSON *p = d.pods->child; p; p = p->next)
		pods[npods++] = p;
	qsort(pods, npods, sizeof(*pods), by_uid);
	per_page = pods_per_page(pods, npods);
	pages = npods ? (npods + per_page - 1) / per_page : 1;
	n = (size_t)snprintf(summary, sizeof(summary),
			     "%s drain of node %s: %u pod%s, %d container%s stopped gracefully%s, %d killed, %d still running",
			     in ? interruption_kind_text(in->kind) : "interruption", env->node->node_name, npods,
			     npods == 1 ? "" : "s", d.graceful, d.graceful == 1 ? "" : "s",
			     deadline_ns ? " before the deadline" : "", d.killed, d.running);
	if (d.unseen && n < sizeof(summary))
		n += (size_t)snprintf(summary + n, sizeof(summary) - n, ", %d ended while the agent was down", d.unseen);
	if (n < sizeof(summary))
		n += (size_t)snprintf(summary + n, sizeof(summary) - n, " (%s)", why);
	/* one drain id for every page of every report of this interruption */
	record_make_id(RECORD_NODE_DRAIN_REPORT, NULL, node, notice_s, 0, drain_id);
	/* the report before the deadline and the final one are one each per interruption; a
	 * snapshot at an agent stop is one of its own */
	snprintf(variant, sizeof(variant), "%s|%u", final ? "final" : strstr(why, "agent stop") ? "stop" : "report",
		 per_page);
	if (strstr(why, "agent stop"))
		snprintf(variant + strlen(variant), sizeof(variant) - strlen(variant), "|%lld", (long long)now);
	for (uint32_t page = 0; page < pages; page++) {
		cJSON *o = page_head(&d, in, drain_id, notice_ns, deadline_ns, why, final, npods, page, pages);
		cJSON *by_pod = o ? cJSON_AddObjectToObject(o, "by_pod") : NULL;
		char page_summary[560], seed[96];
		struct record r = { 0 };

		for (uint32_t i = page * per_page; by_pod && i < npods && i < (page + 1) * per_page; i++)
			cJSON_AddItemReferenceToObject(by_pod, pods[i]->string, pods[i]);
		snprintf(page_summary, sizeof(page_summary), "%s", summary);
		if (pages > 1)
			snprintf(page_summary + n, sizeof(page_summary) - n, ", page %u of %u", page + 1, pages);
		snprintf(seed, sizeof(seed), "%s|%u", variant, page);
		r.type = RECORD_NODE_DRAIN_REPORT;
		r.event_time_ns = now;
		r.node = env->node;
		record_make_id(r.type, NULL, node, notice_s, hash_str(seed), r.record_id);
		r.detail_key = "drain";
		r.detail = o;
		r.sources[0] = "kernel";
		if (env->api)
			r.sources[1] = "api";
		r.summary = page_summary;
		r.durable = page + 1 == pages; /* one fdatasync, after the last page */
		if (o)
			env->emit(env->emit_ctx, &r);
		cJSON_Delete(o);
	}
	free(pods);
	cJSON_Delete(d.pods);
}

/* pod.started. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/json.h"
#include "nodetrail/base/u64map.h"
#include "nodetrail/join/started.h"

struct started {
	struct u64map *pods;      /* hash(pod uid) of pods whose pod.started is out */
};

int started_new(uint32_t cap, struct started **ret)
{
	struct started *s = calloc(1, sizeof(*s));

	if (!s)
		return -ENOMEM;
	if (u64map_new(cap, &s->pods) < 0) {
		free(s);
		return -ENOMEM;
	}
	*ret = s;
	return 0;
}

void started_free(struct started *s)
{
	if (!s)
		return;
	u64map_free(s->pods, NULL);
	free(s);
}

uint32_t started_count(const struct started *s)
{
	return u64map_count(s->pods);
}

struct start_view {
	const struct kube_pod *pod;
	cJSON *containers;
	int64_t sandbox_ns, first_exec_ns; /* boot-time ns, 0 if unseen */
};

static void start_container(void *ctx, const struct container_state *st, const struct cgroup_entry *e)
{
	struct start_view *v = ctx;
	const struct kube_terminated *t;
	const struct kube_container *k;
	cJSON *o;

	if (!e || !kube_pod_is(v->pod, e->ref.pod_uid))
		return;
	k = kube_pod_container_by_id(v->pod, e->ref.container_id, &t);
	if (!k) {
		/* no container status names it: the pod's sandbox */
		if (st->created_boot_ns && (!v->sandbox_ns || st->created_boot_ns < v->sandbox_ns))
			v->sandbox_ns = st->created_boot_ns;
		return;
	}
	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddStringToObject(o, "name", k->name);
	cJSON_AddStringToObject(o, "id", e->ref.container_id);
	json_add_boot_time(o, "cgroup_created_at", st->created_boot_ns);
	json_add_boot_time(o, "first_exec_at", st->first_exec_boot_ns);
	cJSON_AddItemToArray(v->containers, o);
	if (st->first_exec_boot_ns && (!v->first_exec_ns || st->first_exec_boot_ns < v->first_exec_ns))
		v->first_exec_ns = st->first_exec_boot_ns;
}

static void add_span(cJSON *o, const char *key, int64_t from_ns, int64_t to_ns)
{
	if (from_ns && to_ns && to_ns >= from_ns)
		cJSON_AddNumberToObject(o, key, (double)((to_ns - from_ns) / 1000000) / 1000.0);
}

void started_pod_changed(struct started *s, const struct join_env *env, const struct containers *t,
			 const struct kube_pod *pod, bool deleted)
{
	int64_t scheduled = clock_parse(pod->scheduled_at), ready = clock_parse(pod->ready_at);
	struct start_view v = { .pod = pod };
	int64_t sandbox_rt, exec_rt;
	char summary[512];
	struct record r;
	cJSON *k, *a, *span;
	uint64_t key = hash_str(pod->uid);

	if (deleted) {
		u64map_take(s->pods, key);
		return;
	}
	/* Kubernetes times have a second's resolution: allow for it */
	if (!ready || ready + 1000000000LL < env->start_ns || u64map_get(s->pods, key))
		return;
	u64map_put(s->pods, key, (void *)1, NULL);
	k = cJSON_CreateObject();
	a = cJSON_CreateObject();
	span = cJSON_CreateObject();
	v.containers = k ? cJSON_AddArrayToObject(k, "containers") : NULL;
	if (!v.containers || !a || !span)
		goto out;
	containers_each(t, start_container, &v);
	json_add_boot_time(k, "sandbox_cgroup_at", v.sandbox_ns);
	cJSON_AddStringToObject(a, "scheduled_at", pod->scheduled_at);
	cJSON_AddStringToObject(a, "ready_at", pod->ready_at);
	sandbox_rt = v.sandbox_ns ? clock_boot_to_real(v.sandbox_ns) : 0;
	exec_rt = v.first_exec_ns ? clock_boot_to_real(v.first_exec_ns) : 0;
	add_span(span, "scheduled_to_sandbox_s", scheduled, sandbox_rt);
	add_span(span, "sandbox_to_first_exec_s", sandbox_rt, exec_rt);
	add_span(span, "first_exec_to_ready_s", exec_rt, ready);
	add_span(span, "scheduled_to_ready_s", scheduled, ready);
	cJSON_AddItemToObject(a, "timeline", span);
	span = NULL;
	snprintf(summary, sizeof(summary), "pod %s/%s ready %.0f s after it was scheduled (%d container%s started, first exec %s)",
		 pod->ns, pod->name, scheduled && ready >= scheduled ? (double)(ready - scheduled) / 1e9 : 0.0,
		 cJSON_GetArraySize(v.containers), cJSON_GetArraySize(v.containers) == 1 ? "" : "s",
		 exec_rt ? "seen by the kernel" : "not seen");
	memset(&r, 0, sizeof(r));
	r.type = RECORD_POD_STARTED;
	r.event_time_ns = ready;
	r.node = env->node;
	record_make_id(r.type, NULL, key, 0, 0, r.record_id);
	kube_pod_to_record(pod, &r);
	r.detail_key = "api";
	r.detail = a;
	r.detail2_key = "kernel";
	r.detail2 = k;
	r.sources[0] = "api";
	r.sources[1] = exec_rt || sandbox_rt ? "kernel" : NULL;
	r.summary = summary;
	env->emit(env->emit_ctx, &r);
out:
	cJSON_Delete(k);
	cJSON_Delete(a);
	cJSON_Delete(span);
}

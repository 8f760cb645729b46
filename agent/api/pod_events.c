/* Pod events on demand, for pods in trouble. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/api/pod_events.h"
#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/idset.h"
#include "nodetrail/base/redact.h"
#include "nodetrail/base/u64map.h"

#define SEEN_CAP 4096             /* event (uid, count) pairs already written */
#define RESTART_FRESH_NS (120 * 1000000000LL) /* a restart this recent is news */
#define STOPPED "stopped by the kubelet"      /* the correlator's ask: pod_events_explain */

/* a pod followed: in trouble, or Pending and maybe soon */
struct followed {
	char uid[40];
	char ns[64];
	char name[254];
	char trouble[64];         /* why its events are wanted, "" while not (yet) in trouble */
	int64_t pending_since_ns; /* Pending from (scheduled, else first seen), 0 if not Pending */
	int64_t last_fetch_ns;    /* 0: never */
	int64_t restart_ns;       /* the restart whose events were wanted last (its finishedAt) */
	bool in_flight;
};

/* a list in flight names its pod by uid: the pod may be gone by the answer */
struct ticket {
	struct pod_events *pe;
	char uid[40];
	bool used;
};

struct pod_events {
	struct pod_events_options opts;
	struct u64map *pods;      /* hash(uid) -> struct followed */
	struct idset *seen;
	struct ticket tickets[KUBE_MAX_FETCHES];
	int64_t minute_start_ns;
	uint32_t minute_fetches;
	struct pod_events_stats stats;
};

static const char *const waiting_troubles[] = { "CrashLoopBackOff",	     "ImagePullBackOff",
						"ErrImagePull",		     "CreateContainerConfigError",
						"CreateContainerError",	     "RunContainerError",
						"InvalidImageName" };

static int64_t now_ns(const struct pod_events *pe)
{
	return pe->opts.clock ? pe->opts.clock() : clock_ns(CLOCK_REALTIME);
}

int pod_events_new(const struct pod_events_options *opts, struct pod_events **ret)
{
	struct pod_events *pe;

	if (!opts->fetch || !opts->emit)
		return -EINVAL;
	pe = calloc(1, sizeof(*pe));
	if (!pe)
		return -ENOMEM;
	pe->opts = *opts;
	if (!pe->opts.trouble_after_ns)
		pe->opts.trouble_after_ns = 60 * 1000000000LL;
	if (!pe->opts.refetch_ns)
		pe->opts.refetch_ns = 300 * 1000000000LL;
	if (!pe->opts.per_minute)
		pe->opts.per_minute = 10;
	if (!pe->opts.max_pods)
		pe->opts.max_pods = 128;
	if (u64map_new(pe->opts.max_pods, &pe->pods) < 0 || idset_new(SEEN_CAP, &pe->seen) < 0) {
		pod_events_free(pe);
		return -ENOMEM;
	}
	*ret = pe;
	return 0;
}

void pod_events_free(struct pod_events *pe)
{
	if (!pe)
		return;
	u64map_free(pe->pods, free);
	idset_free(pe->seen);
	free(pe);
}

/* ---- the records ---- */

/* "spec.containers{app}" -> "app" */
static void container_of(const char *field_path, char *out, size_t len)
{
	const char *open = strchr(field_path, '{'), *close = open ? strchr(open, '}') : NULL;

	out[0] = '\0';
	if (open && close)
		snprintf(out, len, "%.*s", (int)(close - open - 1), open + 1);
}

static bool worth_a_record(const struct kube_event_obj *e)
{
	return !strcmp(e->type, "Warning") || !strcmp(e->reason, "Killing") || !strcmp(e->reason, "Preempting");
}

static void write_event(struct pod_events *pe, const struct followed *f, const struct kube_event_obj *e)
{
	char message[POD_EVENTS_MESSAGE_MAX + 8], container[64], summary[1024];
	struct record r = { 0 };
	cJSON *o;

	/* once per event object and count: a repeat of the same event counts up */
	if (idset_check_add(pe->seen, hash_str(e->uid) ^ ((uint64_t)e->count * 0x9e3779b97f4a7c15ULL)))
		return;
	o = cJSON_CreateObject();
	if (!o)
		return;
	/* a probe's message quotes a command's output or argv: redacted and capped like argv */
	redact_text(e->message, POD_EVENTS_MESSAGE_MAX, message, sizeof(message));
	container_of(e->involved_field_path, container, sizeof(container));
	cJSON_AddStringToObject(o, "reason", e->reason);
	cJSON_AddStringToObject(o, "event_type", e->type);
	cJSON_AddStringToObject(o, "message", message);
	if (e->source[0])
		cJSON_AddStringToObject(o, "reporting_component", e->source);
	cJSON_AddNumberToObject(o, "count", e->count);
	cJSON_AddStringToObject(o, "first_time", e->first_time);
	if (e->last_time[0])
		cJSON_AddStringToObject(o, "last_time", e->last_time);
	cJSON_AddStringToObject(o, "event_uid", e->uid);
	cJSON_AddStringToObject(o, "trouble", f->trouble);
	snprintf(summary, sizeof(summary), "pod %.63s/%.253s%s%.63s event %.63s (%.15s%s%.63s): %.263s", f->ns, f->name,
		 container[0] ? " container " : "", container, e->reason, e->type, e->source[0] ? ", " : "", e->source,
		 message);
	if (e->count > 1)
		snprintf(summary + strlen(summary), sizeof(summary) - strlen(summary), " (%d times)", e->count);
	r.type = RECORD_POD_EVENT;
	r.node = pe->opts.node;
	r.pod_uid = f->uid;
	r.pod_name = f->name;
	r.pod_namespace = f->ns;
	r.container_name = container[0] ? container : NULL;
	r.detail_key = "api";
	r.detail = o;
	r.summary = summary;
	r.sources[0] = "api";
	r.event_time_ns = clock_parse(e->last_time[0] ? e->last_time : e->first_time);
	if (!r.event_time_ns)
		r.event_time_ns = now_ns(pe);
	record_make_id(r.type, NULL, hash_str(e->uid), (uint64_t)e->count, 0, r.record_id);
	pe->opts.emit(pe->opts.emit_ctx, &r);
	pe->stats.written++;
	cJSON_Delete(o);
}

static void observe(struct pod_events *pe, const char *uid, const struct kube_event_obj *e)
{
	if (pe->opts.observe)
		pe->opts.observe(pe->opts.observe_ctx, uid, e);
}

/* a one-shot trouble: its events listed once, not again while it lasts */
static bool once_only(const struct followed *f)
{
	return !strncmp(f->trouble, "restarted", 9) || !strcmp(f->trouble, STOPPED);
}

static void on_events(void *ctx, const cJSON *body, long status, const char *err)
{
	struct ticket *t = ctx;
	struct pod_events *pe = t->pe;
	uint64_t key = hash_str(t->uid);
	struct followed *f = u64map_get(pe->pods, key);
	struct kube_event_obj *e;
	const cJSON *item;

	t->used = false;
	if (f)
		f->in_flight = false;
	if (!body) {
		/* retried at the next interval while the trouble lasts */
		pe->stats.fetch_errors++;
		if (f)
			f->last_fetch_ns = now_ns(pe);
		observe(pe, t->uid, NULL);
		return;
	}
	/* the pod may be gone (no longer followed): what its events say is still wanted */
	if ((e = malloc(sizeof(*e)))) {
		cJSON_ArrayForEach(item, cJSON_GetObjectItemCaseSensitive(body, "items")) {
			if (kube_event_obj_decode(item, e) != 0)
				continue;
			if (f && worth_a_record(e))
				write_event(pe, f, e);
			observe(pe, t->uid, e);
		}
		free(e);
	}
	observe(pe, t->uid, NULL);
	/* asked once, nothing else wrong: no longer followed */
	if (f && !strcmp(f->trouble, STOPPED) && !f->pending_since_ns)
		free(u64map_take(pe->pods, key));
}

/* ---- when to list ---- */

static bool budget_allows(struct pod_events *pe, int64_t now)
{
	if (now - pe->minute_start_ns >= 60 * 1000000000LL) {
		pe->minute_start_ns = now;
		pe->minute_fetches = 0;
	}
	if (pe->minute_fetches >= pe->opts.per_minute) {
		pe->stats.rate_limited++;
		return false;
	}
	return true;
}

static void maybe_fetch(struct pod_events *pe, struct followed *f)
{
	int64_t now = now_ns(pe);
	struct ticket *t = NULL;
	char selector[96];

	if (!f->trouble[0] || f->in_flight || (f->last_fetch_ns && now - f->last_fetch_ns < pe->opts.refetch_ns))
		return;
	for (int i = 0; i < KUBE_MAX_FETCHES && !t; i++)
		if (!pe->tickets[i].used)
			t = &pe->tickets[i];
	if (!t || !budget_allows(pe, now))
		return; /* the next tick tries again */
	t->pe = pe;
	t->used = true;
	snprintf(t->uid, sizeof(t->uid), "%s", f->uid);
	snprintf(selector, sizeof(selector), "involvedObject.uid=%s", f->uid);
	if (pe->opts.fetch(pe->opts.fetch_ctx, f->ns, "events", selector, on_events, t) < 0) {
		t->used = false;
		return;
	}
	pe->minute_fetches++;
	pe->stats.fetches++;
	f->in_flight = true;
	f->last_fetch_ns = now;
}

/* why the pod's events are wanted now, "" if they are not; *restart_ns: the restart's end, if that is why */
static void trouble_of(const struct pod_events *pe, const struct kube_pod *pod, const struct followed *f,
		       char *out, size_t len, int64_t *restart_ns)
{
	out[0] = '\0';
	*restart_ns = 0;
	for (int i = 0; i < pod->ncontainers; i++)
		for (size_t j = 0; j < sizeof(waiting_troubles) / sizeof(waiting_troubles[0]); j++)
			if (!strcmp(pod->containers[i].waiting_reason, waiting_troubles[j])) {
				snprintf(out, len, "%s", waiting_troubles[j]);
				return;
			}
	/* stopped from outside and restarted, the pod not being deleted: a liveness or startup probe the
	 * kernel cannot see (httpGet, tcpSocket, grpc) says why in the kubelet's Unhealthy and Killing */
	for (int i = 0; i < pod->ncontainers && !pod->deletion_timestamp[0]; i++) {
		const struct kube_terminated *t = &pod->containers[i].last_terminated;
		int64_t finished = t->set ? clock_parse(t->finished_at) : 0;

		if (finished && now_ns(pe) - finished < RESTART_FRESH_NS && (t->exit_code == 137 || t->exit_code == 143) &&
		    strcmp(t->reason, "OOMKilled") != 0) {
			snprintf(out, len, "restarted after exit code %d", t->exit_code);
			*restart_ns = finished;
			return;
		}
	}
	if (f && f->pending_since_ns && now_ns(pe) - f->pending_since_ns >= pe->opts.trouble_after_ns)
		snprintf(out, len, "Pending for %lld s", (long long)((now_ns(pe) - f->pending_since_ns) / 1000000000LL));
}

/* the pod, followed from now on; NULL when the cap refuses it (counted) */
static struct followed *follow(struct pod_events *pe, const struct kube_pod *pod)
{
	struct followed *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	snprintf(f->uid, sizeof(f->uid), "%s", pod->uid);
	snprintf(f->ns, sizeof(f->ns), "%s", pod->ns);
	snprintf(f->name, sizeof(f->name), "%s", pod->name);
	if (u64map_put(pe->pods, hash_str(pod->uid), f, NULL) < 0) {
		pe->stats.pods_dropped++;
		free(f);
		return NULL;
	}
	return f;
}

bool pod_events_explain(struct pod_events *pe, const struct kube_pod *pod)
{
	struct followed *f = u64map_get(pe->pods, hash_str(pod->uid));

	if (!f && !(f = follow(pe, pod)))
		return false;
	if (f->in_flight)
		return true;
	if (!f->trouble[0])
		snprintf(f->trouble, sizeof(f->trouble), "%s", STOPPED);
	f->last_fetch_ns = 0;
	maybe_fetch(pe, f);
	return f->in_flight;
}

void pod_events_pod_changed(struct pod_events *pe, const struct kube_pod *pod, bool deleted)
{
	uint64_t key = hash_str(pod->uid);
	struct followed *f = u64map_get(pe->pods, key), probe = { 0 };
	bool pending = !strcmp(pod->phase, "Pending");
	int64_t restart_ns;
	char trouble[64];

	if (deleted) {
		free(u64map_take(pe->pods, key));
		return;
	}
	if (!f && !pending) {
		/* not followed yet: only a container's trouble makes it so */
		trouble_of(pe, pod, &probe, trouble, sizeof(trouble), &restart_ns);
		if (!trouble[0])
			return;
	}
	if (!f && !(f = follow(pe, pod)))
		return;
	snprintf(f->ns, sizeof(f->ns), "%s", pod->ns);
	snprintf(f->name, sizeof(f->name), "%s", pod->name);
	if (pending && !f->pending_since_ns) {
		f->pending_since_ns = clock_parse(pod->scheduled_at);
		if (!f->pending_since_ns)
			f->pending_since_ns = now_ns(pe);
	} else if (!pending) {
		f->pending_since_ns = 0;
	}
	trouble_of(pe, pod, f, trouble, sizeof(trouble), &restart_ns);
	if (!trouble[0] && !f->pending_since_ns) {
		/* out of trouble and running: no longer followed (its events were written) */
		if (!f->in_flight)
			free(u64map_take(pe->pods, key));
		else
			f->trouble[0] = '\0';
		return;
	}
	if (trouble[0] && strcmp(trouble, f->trouble) != 0 && strncmp(trouble, "Pending", 7) != 0)
		f->last_fetch_ns = 0; /* a new kind of trouble: its events now */
	if (restart_ns && restart_ns != f->restart_ns) {
		f->restart_ns = restart_ns;
		f->last_fetch_ns = 0; /* another restart: its own events, now */
	}
	if (trouble[0] || strncmp(f->trouble, "Pending", 7) != 0)
		snprintf(f->trouble, sizeof(f->trouble), "%s", trouble);
	maybe_fetch(pe, f);
}

static void tick_one(void *ctx, uint64_t key, void *value)
{
	struct pod_events *pe = ctx;
	struct followed *f = value;
	int64_t now = now_ns(pe);

	if (!f->trouble[0] && f->pending_since_ns && now - f->pending_since_ns >= pe->opts.trouble_after_ns)
		snprintf(f->trouble, sizeof(f->trouble), "Pending for %lld s",
			 (long long)((now - f->pending_since_ns) / 1000000000LL));
	/* a restart is listed once, when the status tells it; a state that lasts, again and again */
	if (!once_only(f) || !f->last_fetch_ns)
		maybe_fetch(pe, f);
}

void pod_events_tick(struct pod_events *pe)
{
	/* maybe_fetch changes the values only, never the map */
	u64map_each(pe->pods, tick_one, pe);
}

static void count_troubled(void *ctx, uint64_t key, void *value)
{
	*(uint64_t *)ctx += ((struct followed *)value)->trouble[0] != '\0';
}

void pod_events_get_stats(const struct pod_events *pe, struct pod_events_stats *ret)
{
	*ret = pe->stats;
	ret->troubled = 0;
	u64map_each(pe->pods, count_troubled, &ret->troubled);
}

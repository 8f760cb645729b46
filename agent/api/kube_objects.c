/* Decoding of Pods, Nodes and Events. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/api/kube_objects.h"
#include "nodetrail/base/json.h"
#include "nodetrail/base/record.h"
#include "nodetrail/base/utf8.h"

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* copy a string member (cut to fit); leaves dst "" when absent */
static void copy_str(char *dst, size_t len, const cJSON *o, const char *key)
{
	const cJSON *v = get(o, key);

	dst[0] = '\0';
	/* cut short on a character boundary */
	if (cJSON_IsString(v))
		snprintf(dst, len, "%.*s", (int)utf8_cut(v->valuestring, strlen(v->valuestring), len - 1), v->valuestring);
}

#define COPY(dst, o, key) copy_str((dst), sizeof(dst), (o), (key))

static int64_t get_int(const cJSON *o, const char *key, int64_t def)
{
	const cJSON *v = get(o, key);

	return json_int(v, INT32_MIN, INT32_MAX, def);
}

int64_t kube_quantity_bytes(const char *q)
{
	static const struct {
		const char *suffix;
		double mult;
	} suffixes[] = {
		{ "Ki", 1024.0 }, { "Mi", 1048576.0 }, { "Gi", 1073741824.0 }, { "Ti", 1099511627776.0 },
		{ "Pi", 1125899906842624.0 }, { "k", 1e3 }, { "M", 1e6 }, { "G", 1e9 }, { "T", 1e12 },
		{ "P", 1e15 }, { "m", 1e-3 }, { "", 1.0 },
	};
	char *end;
	double v;

	if (!q || !*q)
		return -1;
	v = strtod(q, &end);
	if (end == q || v < 0 || !isfinite(v))
		return -1;
	for (size_t i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++) {
		if (strcmp(end, suffixes[i].suffix) == 0) {
			v *= suffixes[i].mult;
			return v > 9.2e18 ? -1 : (int64_t)ceil(v);
		}
	}
	return -1;
}

/* "containerd://<64hex>" -> id and runtime */
static void split_container_id(const char *full, char id[65], char runtime[16])
{
	const char *sep = strstr(full, "://");

	id[0] = runtime[0] = '\0';
	if (!sep)
		return;
	snprintf(runtime, 16, "%.*s", (int)(sep - full), full);
	snprintf(id, 65, "%s", sep + 3);
}

static void decode_terminated(const cJSON *state, struct kube_terminated *t)
{
	const cJSON *term = get(state, "terminated");
	char runtime[16];
	char full[128];

	memset(t, 0, sizeof(*t));
	if (!cJSON_IsObject(term))
		return;
	t->set = true;
	t->exit_code = (int)get_int(term, "exitCode", 0);
	t->signal = (int)get_int(term, "signal", 0);
	COPY(t->reason, term, "reason");
	COPY(t->started_at, term, "startedAt");
	COPY(t->finished_at, term, "finishedAt");
	COPY(full, term, "containerID");
	split_container_id(full, t->container_id, runtime);
}

static struct kube_container *find_container(struct kube_pod *p, const char *name)
{
	for (int i = 0; i < p->ncontainers; i++)
		if (strcmp(p->containers[i].name, name) == 0)
			return &p->containers[i];
	return NULL;
}

/* ---- exec probes and hooks ---- */

uint64_t kube_argv_hash(const char *bytes, size_t captured, size_t total)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	if (captured > KUBE_ARGV_PREFIX)
		captured = KUBE_ARGV_PREFIX;
	if (captured > total)
		captured = total;
	for (size_t i = 0; i < captured; i++) {
		h ^= (unsigned char)bytes[i];
		h *= 0x100000001b3ULL;
	}
	for (int i = 0; i < 8; i++) {
		h ^= (uint64_t)(total >> (8 * i)) & 0xff;
		h *= 0x100000001b3ULL;
	}
	return h;
}

const struct kube_exec *kube_container_exec(const struct kube_container *k, uint64_t hash, uint32_t len)
{
	for (int i = 0; i < k->nexecs; i++)
		if (k->execs[i].hash == hash && k->execs[i].len == len)
			return &k->execs[i];
	return NULL;
}

/* argv bytes under construction: the first KUBE_ARGV_PREFIX kept, all counted */
struct argv_bytes {
	char buf[KUBE_ARGV_PREFIX];
	size_t len;
};

static void argv_put(struct argv_bytes *a, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++, a->len++)
		if (a->len < sizeof(a->buf))
			a->buf[a->len] = s[i];
}

static const char *env_value(const cJSON *env, const char *name, size_t n)
{
	const cJSON *e;
	const char *found = NULL;

	/* the last definition wins, as in the kubelet's map; valueFrom ones are "" */
	cJSON_ArrayForEach(e, env) {
		const cJSON *nm = get(e, "name"), *v = get(e, "value");

		if (cJSON_IsString(nm) && strlen(nm->valuestring) == n && !strncmp(nm->valuestring, name, n))
			found = cJSON_IsString(v) ? v->valuestring : "";
	}
	return found;
}

/* one argument, with the kubelet's expansion of an exec probe's command
 * (ExpandContainerCommandOnlyStatic): "$$" is "$", "$(NAME)" the value of
 * NAME in the container's env when it is there, else kept as written; any
 * other "$" stays */
static void argv_put_expanded(struct argv_bytes *a, const char *s, const cJSON *env)
{
	while (*s) {
		const char *close, *v;

		if (s[0] != '$' || !s[1]) {
			argv_put(a, s++, 1);
			continue;
		}
		if (s[1] == '$') {
			argv_put(a, "$", 1);
			s += 2;
		} else if (s[1] == '(' && (close = strchr(s + 2, ')'))) {
			v = env ? env_value(env, s + 2, (size_t)(close - s - 2)) : NULL;
			if (v)
				argv_put(a, v, strlen(v));
			else
				argv_put(a, s, (size_t)(close + 1 - s));
			s = close + 1;
		} else {
			argv_put(a, s, 2);
			s += 2;
		}
	}
}

/* a probe's failureThreshold (default 3), 0 without the probe */
static uint8_t probe_threshold(const cJSON *probe)
{
	int n;

	if (!cJSON_IsObject(probe))
		return 0;
	n = (int)get_int(probe, "failureThreshold", 3);
	return (uint8_t)(n < 1 ? 1 : n > 255 ? 255 : n);
}

/* an exec handler's command into k's execs; expand: as for a probe, from env */
static void decode_exec(struct kube_container *k, const cJSON *handler, enum kube_exec_kind kind, bool expand,
			const cJSON *env)
{
	const cJSON *cmd = get(get(handler, "exec"), "command"), *arg;
	struct argv_bytes a = { .len = 0 };
	struct kube_exec *x = NULL;
	uint64_t hash;

	if (!cJSON_IsArray(cmd) || !cJSON_GetArraySize(cmd))
		return;
	cJSON_ArrayForEach(arg, cmd) {
		if (!cJSON_IsString(arg))
			return;
		if (expand)
			argv_put_expanded(&a, arg->valuestring, env);
		else
			argv_put(&a, arg->valuestring, strlen(arg->valuestring));
		argv_put(&a, "", 1);
	}
	hash = kube_argv_hash(a.buf, a.len, a.len);
	for (int i = 0; i < k->nexecs && !x; i++)
		if (k->execs[i].hash == hash && k->execs[i].len == a.len)
			x = &k->execs[i];
	if (!x) {
		if (k->nexecs >= KUBE_MAX_EXECS)
			return;
		x = &k->execs[k->nexecs++];
		x->hash = hash;
		x->len = (uint32_t)a.len;
	}
	x->kinds |= (uint8_t)kind;
	if (kind == KUBE_EXEC_LIVENESS)
		x->liveness_threshold = probe_threshold(handler);
	else if (kind == KUBE_EXEC_STARTUP)
		x->startup_threshold = probe_threshold(handler);
}

/* what the checkpoint kept of them (kube_pod_encode): the hashes, not the commands */
static void decode_saved_execs(struct kube_container *k, const cJSON *list)
{
	const cJSON *o;

	cJSON_ArrayForEach(o, list) {
		struct kube_exec *x;
		char hex[24];

		if (k->nexecs >= KUBE_MAX_EXECS)
			return;
		COPY(hex, o, "hash");
		x = &k->execs[k->nexecs];
		memset(x, 0, sizeof(*x));
		if (sscanf(hex, "%16" SCNx64, &x->hash) != 1)
			continue;
		x->len = (uint32_t)get_int(o, "len", 0);
		x->kinds = (uint8_t)get_int(o, "kinds", 0);
		x->liveness_threshold = (uint8_t)get_int(o, "liveness_threshold", 0);
		x->startup_threshold = (uint8_t)get_int(o, "startup_threshold", 0);
		k->nexecs++;
	}
}

static void decode_execs(struct kube_container *k, const cJSON *c)
{
	const cJSON *env = get(c, "env"), *lc = get(c, "lifecycle");

	k->nexecs = 0;
	k->liveness_threshold = probe_threshold(get(c, "livenessProbe"));
	k->startup_threshold = probe_threshold(get(c, "startupProbe"));
	decode_exec(k, get(c, "livenessProbe"), KUBE_EXEC_LIVENESS, true, env);
	decode_exec(k, get(c, "readinessProbe"), KUBE_EXEC_READINESS, true, env);
	decode_exec(k, get(c, "startupProbe"), KUBE_EXEC_STARTUP, true, env);
	/* the kubelet runs a hook's command as written */
	decode_exec(k, get(lc, "postStart"), KUBE_EXEC_POSTSTART, false, NULL);
	decode_exec(k, get(lc, "preStop"), KUBE_EXEC_PRESTOP, false, NULL);
	decode_saved_execs(k, get(c, "x-nodetrail-execs"));
}

static void decode_specs(struct kube_pod *p, const cJSON *list)
{
	const cJSON *c;

	cJSON_ArrayForEach(c, list) {
		struct kube_container *k;
		char mem[32];

		if (p->ncontainers >= KUBE_MAX_CONTAINERS) {
			p->containers_dropped++;
			continue;
		}
		k = &p->containers[p->ncontainers++];
		memset(k, 0, sizeof(*k));
		COPY(k->name, c, "name");
		COPY(k->image, c, "image");
		COPY(mem, get(get(c, "resources"), "limits"), "memory");
		k->memory_limit_bytes = kube_quantity_bytes(mem);
		decode_execs(k, c);
	}
}

static void decode_statuses(struct kube_pod *p, const cJSON *list)
{
	const cJSON *s;

	cJSON_ArrayForEach(s, list) {
		struct kube_container *k;
		const cJSON *state = get(s, "state");
		char name[64], full[128];

		COPY(name, s, "name");
		k = find_container(p, name);
		if (!k) {
			/* a status without a spec (trimmed objects): keep it anyway */
			if (p->ncontainers >= KUBE_MAX_CONTAINERS) {
				p->containers_dropped++;
				continue;
			}
			k = &p->containers[p->ncontainers++];
			memset(k, 0, sizeof(*k));
			snprintf(k->name, sizeof(k->name), "%s", name);
			k->memory_limit_bytes = -1;
			COPY(k->image, s, "image");
		}
		COPY(full, s, "containerID");
		split_container_id(full, k->container_id, k->runtime);
		k->restart_count = (int)get_int(s, "restartCount", 0);
		if (get(state, "running"))
			snprintf(k->state, sizeof(k->state), "running");
		else if (get(state, "terminated"))
			snprintf(k->state, sizeof(k->state), "terminated");
		else if (get(state, "waiting"))
			snprintf(k->state, sizeof(k->state), "waiting");
		COPY(k->waiting_reason, get(state, "waiting"), "reason");
		decode_terminated(state, &k->terminated);
		/* the current state is the status's container: name it when its block does not */
		if (k->terminated.set && !k->terminated.container_id[0])
			memcpy(k->terminated.container_id, k->container_id, sizeof(k->container_id));
		decode_terminated(get(s, "lastState"), &k->last_terminated);
	}
}

size_t kube_pod_size(const struct kube_pod *p)
{
	return offsetof(struct kube_pod, containers) + (size_t)p->ncontainers * sizeof(p->containers[0]);
}

struct kube_pod *kube_pod_dup(const struct kube_pod *p)
{
	struct kube_pod *d = malloc(kube_pod_size(p));

	if (d)
		memcpy(d, p, kube_pod_size(p));
	return d;
}

int kube_pod_decode(const cJSON *obj, struct kube_pod *p)
{
	const cJSON *meta = get(obj, "metadata"), *spec = get(obj, "spec"), *status = get(obj, "status"), *c;

	memset(p, 0, sizeof(*p));
	COPY(p->uid, meta, "uid");
	if (!p->uid[0])
		return -EINVAL;
	COPY(p->name, meta, "name");
	COPY(p->ns, meta, "namespace");
	COPY(p->mirror_of, get(meta, "annotations"), "kubernetes.io/config.mirror");
	COPY(p->resource_version, meta, "resourceVersion");
	COPY(p->deletion_timestamp, meta, "deletionTimestamp");
	p->deletion_grace_s = get_int(meta, "deletionGracePeriodSeconds", -1);
	c = cJSON_GetArrayItem(get(meta, "ownerReferences"), 0);
	COPY(p->owner_kind, c, "kind");
	COPY(p->owner_name, c, "name");
	COPY(p->node_name, spec, "nodeName");
	p->termination_grace_s = get_int(spec, "terminationGracePeriodSeconds", -1);
	decode_specs(p, get(spec, "initContainers"));
	decode_specs(p, get(spec, "containers"));
	COPY(p->qos_class, status, "qosClass");
	COPY(p->phase, status, "phase");
	COPY(p->reason, status, "reason");
	COPY(p->message, status, "message");
	cJSON_ArrayForEach(c, get(status, "conditions")) {
		char type[32], st[8];

		COPY(type, c, "type");
		COPY(st, c, "status");
		if (strcmp(st, "True") != 0)
			continue;
		if (strcmp(type, "DisruptionTarget") == 0) {
			COPY(p->disruption_reason, c, "reason");
			COPY(p->disruption_message, c, "message");
		} else if (strcmp(type, "PodScheduled") == 0) {
			COPY(p->scheduled_at, c, "lastTransitionTime");
		} else if (strcmp(type, "Ready") == 0) {
			COPY(p->ready_at, c, "lastTransitionTime");
		}
	}
	decode_statuses(p, get(status, "initContainerStatuses"));
	decode_statuses(p, get(status, "containerStatuses"));
	return 0;
}

int kube_node_decode(const cJSON *obj, struct kube_node *n)
{
	const cJSON *meta = get(obj, "metadata"), *labels, *spec = get(obj, "spec"), *c;
	char lifecycle[32];

	memset(n, 0, sizeof(*n));
	COPY(n->name, meta, "name");
	if (!n->name[0])
		return -EINVAL;
	COPY(n->uid, meta, "uid");
	COPY(n->resource_version, meta, "resourceVersion");
	COPY(n->termination_deadline, get(meta, "annotations"), "karpenter.sh/nodeclaim-termination-timestamp");
	labels = get(meta, "labels");
	COPY(n->capacity_type, labels, "eks.amazonaws.com/capacityType");
	if (!n->capacity_type[0]) {
		char karpenter[16];

		COPY(karpenter, labels, "karpenter.sh/capacity-type");
		/* Karpenter says "spot" / "on-demand": use EKS's spelling */
		if (strcmp(karpenter, "spot") == 0)
			snprintf(n->capacity_type, sizeof(n->capacity_type), "SPOT");
		else if (strcmp(karpenter, "on-demand") == 0)
			snprintf(n->capacity_type, sizeof(n->capacity_type), "ON_DEMAND");
	}
	COPY(lifecycle, labels, "lifecycle");
	if (!n->capacity_type[0] && strcmp(lifecycle, "Ec2Spot") == 0)
		snprintf(n->capacity_type, sizeof(n->capacity_type), "SPOT");
	COPY(n->node_group, labels, "eks.amazonaws.com/nodegroup");
	if (!n->node_group[0])
		COPY(n->node_group, labels, "karpenter.sh/nodepool");
	COPY(n->instance_type, labels, "node.kubernetes.io/instance-type");
	COPY(n->zone, labels, "topology.kubernetes.io/zone");
	n->unschedulable = cJSON_IsTrue(get(spec, "unschedulable"));
	cJSON_ArrayForEach(c, get(spec, "taints")) {
		struct kube_taint *t;

		if (n->ntaints >= KUBE_MAX_TAINTS)
			break;
		t = &n->taints[n->ntaints++];
		COPY(t->key, c, "key");
		COPY(t->value, c, "value");
		COPY(t->effect, c, "effect");
	}
	cJSON_ArrayForEach(c, get(get(obj, "status"), "conditions")) {
		struct kube_condition *k;

		if (n->nconditions >= KUBE_MAX_CONDITIONS)
			break;
		k = &n->conditions[n->nconditions++];
		COPY(k->type, c, "type");
		COPY(k->status, c, "status");
		COPY(k->reason, c, "reason");
		COPY(k->message, c, "message");
		COPY(k->last_transition, c, "lastTransitionTime");
	}
	return 0;
}

int kube_event_obj_decode(const cJSON *obj, struct kube_event_obj *e)
{
	const cJSON *meta = get(obj, "metadata"), *involved = get(obj, "involvedObject");
	const cJSON *series = get(obj, "series");

	memset(e, 0, sizeof(*e));
	COPY(e->uid, meta, "uid");
	if (!e->uid[0])
		return -EINVAL;
	COPY(e->name, meta, "name");
	COPY(e->ns, meta, "namespace");
	COPY(e->resource_version, meta, "resourceVersion");
	COPY(e->reason, obj, "reason");
	COPY(e->type, obj, "type");
	COPY(e->message, obj, "message");
	if (!e->message[0])
		COPY(e->message, obj, "note"); /* events.k8s.io/v1 spelling */
	COPY(e->source, get(obj, "source"), "component");
	if (!e->source[0])
		COPY(e->source, obj, "reportingComponent");
	if (!e->source[0])
		COPY(e->source, obj, "reportingController");
	COPY(e->involved_kind, involved, "kind");
	COPY(e->involved_name, involved, "name");
	COPY(e->involved_field_path, involved, "fieldPath");
	/* events.k8s.io/v1 writers leave the core/v1 timestamps null */
	COPY(e->first_time, obj, "firstTimestamp");
	if (!e->first_time[0])
		COPY(e->first_time, obj, "eventTime");
	if (!e->first_time[0])
		COPY(e->first_time, meta, "creationTimestamp");
	COPY(e->last_time, obj, "lastTimestamp");
	if (!e->last_time[0])
		COPY(e->last_time, series, "lastObservedTime");
	if (!e->last_time[0])
		snprintf(e->last_time, sizeof(e->last_time), "%s", e->first_time);
	e->count = (int)get_int(obj, "count", 0);
	if (e->count <= 0)
		e->count = (int)get_int(series, "count", 1);
	return 0;
}

void kube_pod_to_record(const struct kube_pod *p, struct record *r)
{
	r->pod_uid = p->uid;
	r->pod_name = p->name;
	r->pod_namespace = p->ns;
	r->qos_class = p->qos_class;
	r->owner_kind = p->owner_kind;
	r->owner_name = p->owner_name;
}

const struct kube_container *kube_pod_container_by_id(const struct kube_pod *pod, const char *id,
						     const struct kube_terminated **ret_term)
{
	*ret_term = NULL;
	for (int i = 0; pod && i < pod->ncontainers; i++) {
		const struct kube_container *k = &pod->containers[i];

		if (strcmp(k->container_id, id) == 0) {
			/* waiting to restart (CrashLoopBackOff): the id is still the
			 * last one's, and lastState tells how it ended */
			if (k->terminated.set)
				*ret_term = &k->terminated;
			else if (k->last_terminated.set && strcmp(k->last_terminated.container_id, id) == 0)
				*ret_term = &k->last_terminated;
			return k;
		}
		if (k->last_terminated.set && strcmp(k->last_terminated.container_id, id) == 0) {
			*ret_term = &k->last_terminated;
			return k;
		}
	}
	return NULL;
}

/* ---- encoding back into the API's shape (for the checkpoint) ---- */

static void add_str(cJSON *o, const char *key, const char *s)
{
	if (s[0])
		cJSON_AddStringToObject(o, key, s);
}

/* exec probes and hooks as hashes, under a key of our own: the commands are not kept */
static void encode_execs(cJSON *spec, const struct kube_container *k)
{
	cJSON *list = k->nexecs ? cJSON_AddArrayToObject(spec, "x-nodetrail-execs") : NULL;

	for (int i = 0; list && i < k->nexecs; i++) {
		const struct kube_exec *x = &k->execs[i];
		cJSON *o = cJSON_CreateObject();
		char hex[24];

		if (!o)
			return;
		cJSON_AddItemToArray(list, o);
		snprintf(hex, sizeof(hex), "%016" PRIx64, x->hash);
		cJSON_AddStringToObject(o, "hash", hex);
		cJSON_AddNumberToObject(o, "len", x->len);
		cJSON_AddNumberToObject(o, "kinds", x->kinds);
		if (x->liveness_threshold)
			cJSON_AddNumberToObject(o, "liveness_threshold", x->liveness_threshold);
		if (x->startup_threshold)
			cJSON_AddNumberToObject(o, "startup_threshold", x->startup_threshold);
	}
}

static void encode_terminated(cJSON *parent, const char *key, const struct kube_terminated *t, const char *runtime)
{
	char full[128];
	cJSON *st, *term;

	if (!t->set)
		return;
	st = cJSON_AddObjectToObject(parent, key);
	term = st ? cJSON_AddObjectToObject(st, "terminated") : NULL;
	if (!term)
		return;
	cJSON_AddNumberToObject(term, "exitCode", t->exit_code);
	if (t->signal)
		cJSON_AddNumberToObject(term, "signal", t->signal);
	add_str(term, "reason", t->reason);
	add_str(term, "startedAt", t->started_at);
	add_str(term, "finishedAt", t->finished_at);
	if (t->container_id[0]) {
		snprintf(full, sizeof(full), "%s://%s", runtime[0] ? runtime : "containerd", t->container_id);
		cJSON_AddStringToObject(term, "containerID", full);
	}
}

static void add_condition(cJSON *list, const char *type, const char *status, const char *reason, const char *message,
			  const char *at)
{
	cJSON *c = cJSON_CreateObject();

	if (!c)
		return;
	cJSON_AddStringToObject(c, "type", type);
	cJSON_AddStringToObject(c, "status", status);
	add_str(c, "reason", reason);
	add_str(c, "message", message);
	add_str(c, "lastTransitionTime", at);
	cJSON_AddItemToArray(list, c);
}

cJSON *kube_pod_encode(const struct kube_pod *p)
{
	cJSON *o = cJSON_CreateObject(), *meta, *spec, *status, *list, *specs, *owner;
	char num[32], full[128];

	meta = o ? cJSON_AddObjectToObject(o, "metadata") : NULL;
	spec = o ? cJSON_AddObjectToObject(o, "spec") : NULL;
	status = o ? cJSON_AddObjectToObject(o, "status") : NULL;
	if (!meta || !spec || !status) {
		cJSON_Delete(o);
		return NULL;
	}
	add_str(meta, "uid", p->uid);
	add_str(meta, "name", p->name);
	add_str(meta, "namespace", p->ns);
	add_str(meta, "resourceVersion", p->resource_version);
	add_str(meta, "deletionTimestamp", p->deletion_timestamp);
	if (p->mirror_of[0] && (list = cJSON_AddObjectToObject(meta, "annotations")))
		cJSON_AddStringToObject(list, "kubernetes.io/config.mirror", p->mirror_of);
	if (p->deletion_grace_s >= 0)
		cJSON_AddNumberToObject(meta, "deletionGracePeriodSeconds", (double)p->deletion_grace_s);
	if (p->owner_kind[0] && (list = cJSON_AddArrayToObject(meta, "ownerReferences")) &&
	    (owner = cJSON_CreateObject())) {
		cJSON_AddStringToObject(owner, "kind", p->owner_kind);
		add_str(owner, "name", p->owner_name);
		cJSON_AddItemToArray(list, owner);
	}
	add_str(spec, "nodeName", p->node_name);
	if (p->termination_grace_s >= 0)
		cJSON_AddNumberToObject(spec, "terminationGracePeriodSeconds", (double)p->termination_grace_s);
	add_str(status, "qosClass", p->qos_class);
	add_str(status, "phase", p->phase);
	add_str(status, "reason", p->reason);
	add_str(status, "message", p->message);
	list = cJSON_AddArrayToObject(status, "conditions");
	if (list && p->disruption_reason[0])
		add_condition(list, "DisruptionTarget", "True", p->disruption_reason, p->disruption_message, "");
	if (list && p->scheduled_at[0])
		add_condition(list, "PodScheduled", "True", "", "", p->scheduled_at);
	if (list && p->ready_at[0])
		add_condition(list, "Ready", "True", "", "", p->ready_at);
	/* init and regular containers alike: decode keeps them in one list */
	specs = cJSON_AddArrayToObject(spec, "containers");
	list = cJSON_AddArrayToObject(status, "containerStatuses");
	for (int i = 0; specs && list && i < p->ncontainers; i++) {
		const struct kube_container *k = &p->containers[i];
		cJSON *sp = cJSON_CreateObject(), *st = cJSON_CreateObject(), *state, *lim;

		if (!sp || !st) {
			cJSON_Delete(sp);
			cJSON_Delete(st);
			break;
		}
		cJSON_AddItemToArray(specs, sp);
		cJSON_AddItemToArray(list, st);
		cJSON_AddStringToObject(sp, "name", k->name);
		add_str(sp, "image", k->image);
		if (k->memory_limit_bytes >= 0 && (lim = cJSON_AddObjectToObject(sp, "resources")) &&
		    (lim = cJSON_AddObjectToObject(lim, "limits"))) {
			snprintf(num, sizeof(num), "%lld", (long long)k->memory_limit_bytes);
			cJSON_AddStringToObject(lim, "memory", num);
		}
		encode_execs(sp, k);
		/* the thresholds only: the handler is not kept */
		if (k->liveness_threshold && (state = cJSON_AddObjectToObject(sp, "livenessProbe")))
			cJSON_AddNumberToObject(state, "failureThreshold", k->liveness_threshold);
		if (k->startup_threshold && (state = cJSON_AddObjectToObject(sp, "startupProbe")))
			cJSON_AddNumberToObject(state, "failureThreshold", k->startup_threshold);
		cJSON_AddStringToObject(st, "name", k->name);
		if (k->container_id[0]) {
			snprintf(full, sizeof(full), "%s://%s", k->runtime[0] ? k->runtime : "containerd", k->container_id);
			cJSON_AddStringToObject(st, "containerID", full);
		}
		cJSON_AddNumberToObject(st, "restartCount", k->restart_count);
		if (!strcmp(k->state, "terminated")) {
			encode_terminated(st, "state", &k->terminated, k->runtime);
		} else if (k->state[0] && (state = cJSON_AddObjectToObject(st, "state")) &&
			   (state = cJSON_AddObjectToObject(state, k->state))) {
			add_str(state, "reason", k->waiting_reason);
		}
		encode_terminated(st, "lastState", &k->last_terminated, k->runtime);
	}
	return o;
}

cJSON *kube_node_encode(const struct kube_node *n)
{
	cJSON *o = cJSON_CreateObject(), *meta, *labels, *spec, *list;

	meta = o ? cJSON_AddObjectToObject(o, "metadata") : NULL;
	labels = meta ? cJSON_AddObjectToObject(meta, "labels") : NULL;
	spec = o ? cJSON_AddObjectToObject(o, "spec") : NULL;
	list = o ? cJSON_AddArrayToObject(spec, "taints") : NULL;
	if (!labels || !list) {
		cJSON_Delete(o);
		return NULL;
	}
	add_str(meta, "name", n->name);
	add_str(meta, "uid", n->uid);
	add_str(meta, "resourceVersion", n->resource_version);
	add_str(labels, "eks.amazonaws.com/capacityType", n->capacity_type);
	add_str(labels, "eks.amazonaws.com/nodegroup", n->node_group);
	add_str(labels, "node.kubernetes.io/instance-type", n->instance_type);
	add_str(labels, "topology.kubernetes.io/zone", n->zone);
	if (n->termination_deadline[0]) {
		cJSON *ann = cJSON_AddObjectToObject(meta, "annotations");

		add_str(ann, "karpenter.sh/nodeclaim-termination-timestamp", n->termination_deadline);
	}
	if (n->unschedulable)
		cJSON_AddTrueToObject(spec, "unschedulable");
	for (int i = 0; i < n->ntaints; i++) {
		cJSON *t = cJSON_CreateObject();

		if (!t)
			break;
		cJSON_AddStringToObject(t, "key", n->taints[i].key);
		add_str(t, "value", n->taints[i].value);
		add_str(t, "effect", n->taints[i].effect);
		cJSON_AddItemToArray(list, t);
	}
	list = cJSON_AddObjectToObject(o, "status");
	list = list ? cJSON_AddArrayToObject(list, "conditions") : NULL;
	for (int i = 0; list && i < n->nconditions; i++) {
		const struct kube_condition *k = &n->conditions[i];

		add_condition(list, k->type, k->status, k->reason, k->message, k->last_transition);
	}
	return o;
}

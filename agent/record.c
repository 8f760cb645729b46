/* Record encoding. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <regex.h>
#include <strings.h>
#include <openssl/evp.h>

#include "nodetrail/events.h"
#include "nodetrail/record.h"
#include "nodetrail/writer.h"

void exit_status_decode(uint32_t raw, struct exit_status *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->signal = raw & 0x7f;
	ret->core_dumped = (raw & 0x80) != 0;
	if (ret->signal == 0) {
		ret->exited = true;
		ret->code = (raw >> 8) & 0xff;
	}
}

const char *signal_name(int sig)
{
	static char other[16];
	const char *abbrev;

	if (sig <= 0)
		return "none";
	abbrev = sigabbrev_np(sig);
	if (!abbrev) {
		snprintf(other, sizeof(other), "SIG%d", sig);
		return other;
	}
	snprintf(other, sizeof(other), "SIG%s", abbrev);
	return other;
}

static bool add_str(cJSON *o, const char *key, const char *v)
{
	return !v || !*v || cJSON_AddStringToObject(o, key, v);
}

/* ---- Embedded Metric Format ---- */

struct emf_metric {
	const char *name;
	int value;
};

/* The per-node counts a record stands for (docs/cloudwatch.md): derived from
 * what the record says, so no stage has to know about CloudWatch. */
static int emf_metrics(const struct record *r, struct emf_metric *m)
{
	const cJSON *item;
	const char *cause, *drained;
	int n = 0, killed = 0;

	if (!strcmp(r->type, "container.oom_killed")) {
		m[n++] = (struct emf_metric){ "OOMKills", 1 };
	} else if (!strcmp(r->type, "node.interruption")) {
		m[n++] = (struct emf_metric){ "Interruptions", 1 };
	} else if (!strcmp(r->type, "pod.terminated")) {
		cause = cJSON_GetStringValue(cJSON_GetObjectItem(r->detail, "cause"));
		drained = cJSON_GetStringValue(cJSON_GetObjectItem(r->detail, "drained_by"));
		if ((cause && !strcmp(cause, "evicted")) || (drained && !strcmp(drained, "evicted")))
			m[n++] = (struct emf_metric){ "Evictions", 1 };
		cJSON_ArrayForEach(item, cJSON_GetObjectItem(r->detail2, "containers")) {
			const char *v = cJSON_GetStringValue(cJSON_GetObjectItem(item, "verdict"));

			killed += v && strcmp(v, "graceful") && strcmp(v, "exited") && strcmp(v, "ended_unseen");
		}
		if (killed)
			m[n++] = (struct emf_metric){ "NonGracefulTerminations", killed };
	}
	return n;
}

static cJSON *dimension_set(const char *a, const char *b, const char *c)
{
	const char *names[] = { a, b, c };
	cJSON *set = cJSON_CreateArray();

	for (int i = 0; set && i < 3 && names[i]; i++)
		cJSON_AddItemToArray(set, cJSON_CreateString(names[i]));
	return set;
}

/* The "_aws" block and the metric values, at the record's top level, where
 * the dimension values (ClusterName, NodeGroup, NodeName, InstanceId) are. */
static int add_emf(cJSON *o, const struct record *r)
{
	const struct record_node *node = r->node;
	struct emf_metric m[2];
	cJSON *aws, *cwm, *dims, *list;
	int n = emf_metrics(r, m);

	if (!n || !node->cluster_name || !*node->cluster_name)
		return 0; /* nothing to count, or no dimension to count it by */
	aws = cJSON_AddObjectToObject(o, "_aws");
	if (!aws || !cJSON_AddNumberToObject(aws, "Timestamp", (double)(r->event_time_ns / 1000000)))
		return -ENOMEM;
	cwm = cJSON_CreateObject();
	if (!cwm || !cJSON_AddItemToArray(cJSON_AddArrayToObject(aws, "CloudWatchMetrics"), cwm))
		return -ENOMEM;
	cJSON_AddStringToObject(cwm, "Namespace", RECORD_EMF_NAMESPACE);
	dims = cJSON_AddArrayToObject(cwm, "Dimensions");
	if (!dims)
		return -ENOMEM;
	/* bounded by default: each per-node series is a metric billed every month */
	cJSON_AddItemToArray(dims, dimension_set("ClusterName", NULL, NULL));
	if (node->node_group[0])
		cJSON_AddItemToArray(dims, dimension_set("ClusterName", "NodeGroup", NULL));
	if (node->emf == RECORD_EMF_NODE && node->node_name && *node->node_name)
		cJSON_AddItemToArray(dims, node->instance_id[0] ? dimension_set("ClusterName", "NodeName", "InstanceId") :
								 dimension_set("ClusterName", "NodeName", NULL));
	list = cJSON_AddArrayToObject(cwm, "Metrics");
	for (int i = 0; list && i < n; i++) {
		cJSON *def = cJSON_CreateObject();

		cJSON_AddStringToObject(def, "Name", m[i].name);
		cJSON_AddStringToObject(def, "Unit", "Count");
		cJSON_AddItemToArray(list, def);
		cJSON_AddNumberToObject(o, m[i].name, m[i].value);
	}
	return list ? 0 : -ENOMEM;
}

int record_encode(const struct record *r, char *buf, size_t len)
{
	char when[32];
	cJSON *o, *pod, *ctr, *src;
	int ret = -ENOMEM;

	o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	if (!cJSON_AddStringToObject(o, "schema", RECORD_SCHEMA) ||
	    !cJSON_AddStringToObject(o, "record_id", r->record_id) ||
	    !cJSON_AddNumberToObject(o, "seq", (double)r->seq) ||
	    !cJSON_AddStringToObject(o, "type", r->type) ||
	    !cJSON_AddStringToObject(o, "event_time", writer_format_time(r->event_time_ns, when)))
		goto out;
	if (r->node && (!add_str(o, "ClusterName", r->node->cluster_name) ||
			!add_str(o, "NodeName", r->node->node_name) ||
			!add_str(o, "InstanceId", r->node->instance_id) ||
			!add_str(o, "InstanceType", r->node->instance_type) ||
			!add_str(o, "AvailabilityZone", r->node->availability_zone) ||
			!add_str(o, "CapacityType", r->node->capacity_type) ||
			!add_str(o, "NodeGroup", r->node->node_group)))
		goto out;
	if (r->pod_uid && *r->pod_uid) {
		pod = cJSON_AddObjectToObject(o, "pod");
		if (!pod || !add_str(pod, "namespace", r->pod_namespace) || !add_str(pod, "name", r->pod_name) ||
		    !add_str(pod, "uid", r->pod_uid) || !add_str(pod, "qos_class", r->qos_class))
			goto out;
		if (r->owner_kind && *r->owner_kind) {
			cJSON *owner = cJSON_AddObjectToObject(pod, "owner");

			if (!owner || !add_str(owner, "kind", r->owner_kind) || !add_str(owner, "name", r->owner_name))
				goto out;
		}
	}
	if (r->container_id && *r->container_id) {
		ctr = cJSON_AddObjectToObject(o, "container");
		if (!ctr || !add_str(ctr, "name", r->container_name) || !add_str(ctr, "id", r->container_id) ||
		    !add_str(ctr, "runtime", r->runtime) || !add_str(ctr, "cgroup", r->cgroup_path))
			goto out;
	}
	if (r->detail) {
		cJSON *copy = cJSON_Duplicate(r->detail, 1);

		if (!copy || !cJSON_AddItemToObject(o, r->detail_key ? r->detail_key : "kernel", copy)) {
			cJSON_Delete(copy);
			goto out;
		}
	}
	if (r->detail2) {
		cJSON *copy = cJSON_Duplicate(r->detail2, 1);

		if (!copy || !cJSON_AddItemToObject(o, r->detail2_key, copy)) {
			cJSON_Delete(copy);
			goto out;
		}
	}
	src = cJSON_AddArrayToObject(o, "sources");
	if (!src)
		goto out;
	for (int i = 0; i < 3 && r->sources[i]; i++)
		cJSON_AddItemToArray(src, cJSON_CreateString(r->sources[i]));
	if (!add_str(o, "summary", r->summary))
		goto out;
	if (r->node && r->node->emf != RECORD_EMF_OFF && add_emf(o, r) < 0)
		goto out;
	ret = cJSON_PrintPreallocated(o, buf, (int)len, 0) ? (int)strlen(buf) : -ENOSPC;
out:
	cJSON_Delete(o);
	return ret;
}

void record_make_id(const char *type, const char *boot_id, uint64_t a, uint64_t b, uint64_t c,
		    char ret[RECORD_ID_LEN + 1])
{
	unsigned char digest[32];
	unsigned int dlen = 0;
	char seed[256];
	int n;

	n = snprintf(seed, sizeof(seed), "%s|%s|%llu|%llu|%llu", type, boot_id ? boot_id : "",
		     (unsigned long long)a, (unsigned long long)b, (unsigned long long)c);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(seed))
		n = sizeof(seed) - 1;
	EVP_Digest(seed, (size_t)n, digest, &dlen, EVP_sha256(), NULL);
	for (int i = 0; i < RECORD_ID_LEN / 2; i++)
		sprintf(ret + 2 * i, "%02x", digest[i]);
	ret[RECORD_ID_LEN] = '\0';
}

uint64_t record_hash_str(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; s && *s; s++) {
		h ^= (unsigned char)*s;
		h *= 0x100000001b3ULL;
	}
	return h;
}

int64_t json_int(const cJSON *v, int64_t min, int64_t max, int64_t def)
{
	double d;

	if (!cJSON_IsNumber(v) || v->valuedouble != v->valuedouble)
		return def;
	d = v->valuedouble;
	if (d <= (double)min)
		return min;
	if (d >= (double)max)
		return max;
	return (int64_t)d;
}

#define REDACTED "<redacted>"

/* a name that says its value is a secret */
static bool secret_name(const char *name, size_t len)
{
	static const char *const words[] = { "pass", "secret", "token", "key", "credential", "auth", "cookie" };
	char lower[128];

	if (len >= sizeof(lower))
		len = sizeof(lower) - 1;
	for (size_t i = 0; i < len; i++)
		lower[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] - 'A' + 'a' : name[i]);
	lower[len] = '\0';
	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strstr(lower, words[i]))
			return true;
	return false;
}

cJSON *record_exec_args(const char *raw, size_t len, const struct re_pattern_buffer *extra)
{
	cJSON *list = cJSON_CreateArray();
	bool redact_next = false;
	size_t off = 0;

	while (list && off < len) {
		char arg[NT_ARGS_LEN + 1], *eq;
		size_t n = strnlen(raw + off, len - off);

		snprintf(arg, sizeof(arg), "%.*s", (int)n, raw + off);
		off += n + 1;
		eq = strchr(arg, '=');
		if (redact_next || (extra && regexec((const regex_t *)extra, arg, 0, NULL, 0) == 0)) {
			snprintf(arg, sizeof(arg), "%s", REDACTED);
			redact_next = false;
		} else if (eq && secret_name(arg, (size_t)(eq - arg))) {
			snprintf(eq + 1, sizeof(arg) - (size_t)(eq + 1 - arg), "%s", REDACTED);
		} else if (arg[0] == '-' && secret_name(arg, strlen(arg))) {
			redact_next = true; /* "--password hunter2": the value is the next word */
		}
		cJSON_AddItemToArray(list, cJSON_CreateString(arg));
	}
	return list;
}

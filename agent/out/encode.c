/* Record encoding. */
#include <errno.h>
#include <string.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/utf8.h"
#include "nodetrail/out/encode.h"

static bool add_str(cJSON *o, const char *key, const char *v)
{
	return !v || !*v || cJSON_AddStringToObject(o, key, v);
}

/* ---- Embedded Metric Format ---- */

struct emf_metric {
	const char *name;
	uint32_t value;
};

/* The counts a record stands for (docs/cloudwatch.md), as its stage set them. */
static int emf_metrics(const struct record *r, struct emf_metric m[5])
{
	int n = 0;

	if (r->counts.oom_kills)
		m[n++] = (struct emf_metric){ "OOMKills", r->counts.oom_kills };
	if (r->counts.interruptions)
		m[n++] = (struct emf_metric){ "Interruptions", r->counts.interruptions };
	if (r->counts.disruptions)
		m[n++] = (struct emf_metric){ "Disruptions", r->counts.disruptions };
	if (r->counts.evictions)
		m[n++] = (struct emf_metric){ "Evictions", r->counts.evictions };
	if (r->counts.non_graceful)
		m[n++] = (struct emf_metric){ "NonGracefulTerminations", r->counts.non_graceful };
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
	struct emf_metric m[5];
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

static bool add_detail(cJSON *o, const char *key, const cJSON *detail)
{
	cJSON *copy;

	if (!detail)
		return true;
	copy = cJSON_Duplicate(detail, 1);
	if (!copy || !cJSON_AddItemToObject(o, key, copy)) {
		cJSON_Delete(copy);
		return false;
	}
	return true;
}

int record_encode(const struct record *r, char *buf, size_t len)
{
	char when[CLOCK_TEXT_LEN];
	cJSON *o, *pod, *ctr, *src;
	int ret = -ENOMEM;

	o = cJSON_CreateObject();
	if (!o)
		return -ENOMEM;
	if (!cJSON_AddStringToObject(o, "schema", RECORD_SCHEMA) ||
	    !cJSON_AddStringToObject(o, "record_id", r->record_id) ||
	    !cJSON_AddNumberToObject(o, "seq", (double)r->seq) ||
	    !cJSON_AddStringToObject(o, "type", record_type_name(r->type)) ||
	    !cJSON_AddStringToObject(o, "event_time", clock_format(r->event_time_ns, when)))
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
	if ((r->container_id && *r->container_id) || (r->container_name && *r->container_name)) {
		/* a pod's event names its container, not its runtime id */
		ctr = cJSON_AddObjectToObject(o, "container");
		if (!ctr || !add_str(ctr, "name", r->container_name) || !add_str(ctr, "id", r->container_id) ||
		    !add_str(ctr, "runtime", r->runtime) || !add_str(ctr, "cgroup", r->cgroup_path))
			goto out;
	}
	if (!add_detail(o, r->detail_key ? r->detail_key : "kernel", r->detail) ||
	    (r->detail2 && !add_detail(o, r->detail2_key, r->detail2)))
		goto out;
	src = cJSON_AddArrayToObject(o, "sources");
	if (!src)
		goto out;
	for (int i = 0; i < 3 && r->sources[i]; i++)
		cJSON_AddItemToArray(src, cJSON_CreateString(r->sources[i]));
	if (!add_str(o, "summary", r->summary))
		goto out;
	if (r->node && r->node->emf != RECORD_EMF_OFF && add_emf(o, r) < 0)
		goto out;
	/* strict JSON readers refuse what is not UTF-8: a process's name, a path, a message */
	if (utf8_repair_json(o) < 0)
		goto out;
	ret = cJSON_PrintPreallocated(o, buf, (int)len, 0) ? (int)strlen(buf) : -ENOSPC;
out:
	cJSON_Delete(o);
	return ret;
}

/* libFuzzer target: a checkpoint file written by anyone (a torn write, an
 * older version, a hand edit) is parsed and taken over by the node state
 * and the correlator without crashing, leaking or breaking their bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/checkpoint.h"
#include "nodetrail/correlate.h"
#include "nodetrail/probes.h"

/* no kernel here: the correlator is built without probes */
int probes_track(struct probes *p, uint64_t id, enum nt_cgroup_kind kind, bool exec_seen)
{
	return 0;
}

int probes_untrack(struct probes *p, uint64_t id)
{
	return 0;
}

static struct record_node node = { .node_name = "fuzz-node" };

static void drop(void *ctx, struct record *r)
{
	char buf[65536];

	(void)ctx;
	record_encode(r, buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct node_state_options no = { .node = &node, .emit = drop, .max_pods = 64, .max_events = 64 };
	struct cgroup_mode mode = { .name = "v1" };
	struct correlate_options co = { .node = &node, .boot_id = "b", .mode = &mode, .max_cgroups = 64,
					.emit = drop, .join_window_ms = 1 };
	struct node_state *ns;
	struct correlator *c;
	cJSON *doc;

	if (checkpoint_parse((const char *)data, size, &doc) < 0)
		return 0;
	ns = node_state_new(&no);
	co.api = ns;
	c = correlator_new(&co);
	if (ns && c) {
		node_state_restore(ns, cJSON_GetObjectItem(doc, "node_state"));
		correlator_restore(c, cJSON_GetObjectItem(doc, "correlator"), size & 1, 1);
		correlator_drain_report(c, 0, 1, "fuzz", true);
		correlator_flush(c);
		cJSON_Delete(correlator_checkpoint(c));
		cJSON_Delete(node_state_checkpoint(ns));
	}
	correlator_free(c);
	node_state_free(ns);
	cJSON_Delete(doc);
	return 0;
}

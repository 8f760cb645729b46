/* libFuzzer target: a checkpoint file written by anyone (a torn write, an
 * older version, a hand edit) is parsed and taken over by the node state
 * and the correlator without crashing, leaking or breaking their bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/api/interruption.h"
#include "nodetrail/join/correlate.h"
#include "nodetrail/out/checkpoint.h"
#include "nodetrail/out/encode.h"

static struct record_node node = { .node_name = "fuzz-node" };

static void drop(void *ctx, struct record *r)
{
	char buf[65536];

	(void)ctx;
	record_encode(r, buf, sizeof(buf));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct interruption_options io = { .node = &node, .emit = drop };
	struct node_state_options no = { .node = &node, .emit = drop, .max_pods = 64, .max_events = 64 };
	struct cgroup_mode mode = { .name = "v1" };
	struct correlate_options co = { .node = &node, .boot_id = "b", .mode = &mode, .max_cgroups = 64,
					.emit = drop, .join_window_ms = 1 };
	struct interruption *it = NULL;
	struct node_state *ns = NULL;
	struct correlator *c = NULL;
	const cJSON *part;
	cJSON *doc;

	if (checkpoint_parse((const char *)data, size, &doc) < 0)
		return 0;
	if (interruption_new(&io, &it) == 0) {
		no.interruption = it;
		co.interruption = it;
		if (node_state_new(&no, &ns) == 0) {
			co.api = ns;
			correlator_new(&co, &c);
		}
	}
	if (c) {
		part = cJSON_GetObjectItem(doc, "node_state");
		node_state_restore(ns, part);
		interruption_restore(it, cJSON_GetObjectItem(part, "interruption"));
		correlator_restore(c, cJSON_GetObjectItem(doc, "correlator"), size & 1, 1);
		correlator_drain_report(c, 0, 1, "fuzz", true);
		correlator_flush(c);
		cJSON_Delete(correlator_save(c));
		cJSON_Delete(node_state_save(ns));
		cJSON_Delete(interruption_save(it));
	}
	correlator_free(c);
	node_state_free(ns);
	interruption_free(it);
	cJSON_Delete(doc);
	return 0;
}

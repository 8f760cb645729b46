/* libFuzzer target: a watch stream, cut into chunks where the input says,
 * framed, decoded and applied to the node state. Nothing may crash, leak or
 * grow without bound; every record is strict UTF-8 and JSON. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/api/kube_watch.h"
#include "nodetrail/api/node_state.h"
#include "strict.h"

static struct node_state *ns;
static struct record_node node = { .node_name = "fuzz-node" };

static void on_line(void *ctx, const char *line, size_t len)
{
	struct kube_event ev;

	(void)ctx;
	if (kube_event_decode(line, len, &ev, NULL) < 0)
		return;
	if (ev.type >= KUBE_EV_ADDED && ev.type <= KUBE_EV_DELETED) {
		node_state_apply(ns, KUBE_PODS, ev.type, ev.object);
		node_state_apply(ns, KUBE_NODES, ev.type, ev.object);
		node_state_apply(ns, KUBE_EVENTS, ev.type, ev.object);
	}
	kube_event_free(&ev);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct interruption_options io = { .node = &node, .emit = strict_record };
	struct node_state_options o = { .node = &node, .emit = strict_record, .max_pods = 64, .max_events = 64 };
	struct interruption *it;
	struct kube_framer f;
	size_t cut = size ? data[0] % (size + 1) : 0;

	if (interruption_new(&io, &it) < 0)
		return 0;
	o.interruption = it;
	if (node_state_new(&o, &ns) < 0) {
		interruption_free(it);
		return 0;
	}
	node_state_relist_begin(ns, KUBE_PODS);
	node_state_relist_end(ns, KUBE_PODS);
	kube_framer_init(&f, 4096);
	kube_framer_feed(&f, (const char *)data, cut, on_line, NULL);
	kube_framer_feed(&f, (const char *)data + cut, size - cut, on_line, NULL);
	kube_framer_feed(&f, "\n", 1, on_line, NULL);
	node_state_relist_begin(ns, KUBE_PODS);
	node_state_relist_end(ns, KUBE_PODS);
	kube_framer_free(&f);
	node_state_free(ns);
	interruption_free(it);
	return 0;
}

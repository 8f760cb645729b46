/* The agent's numbers, taken once as a snapshot from every stage and
 * rendered two ways from that one snapshot: the agent.status record's
 * detail and the Prometheus text of /metrics. */
#ifndef NODETRAIL_OUT_STATS_H
#define NODETRAIL_OUT_STATS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <cjson/cJSON.h>

#include "nodetrail/api/imds.h"
#include "nodetrail/api/kube_client.h"
#include "nodetrail/api/node_state.h"
#include "nodetrail/api/pod_events.h"
#include "nodetrail/base/http.h"
#include "nodetrail/join/correlate.h"
#include "nodetrail/kernel/host.h"
#include "nodetrail/kernel/probes.h"
#include "nodetrail/out/metrics.h"
#include "nodetrail/out/prune.h"
#include "nodetrail/out/sink.h"
#include "nodetrail/out/writer.h"

/* The stages to read (NULL: not running) and what the agent knows of them. */
struct stats_sources {
	const struct aio *aio;
	const struct writer *writer;
	const struct sink *sink;
	const struct correlator *correlator;
	const struct probes *probes;
	const char *bpf_reason;       /* why eBPF is off */
	const struct cgroup_mode *mode;
	const struct kube_client *kube;
	const struct node_state *node_state;
	const struct pod_events *pod_events;
	const char *api_server;
	const char *api_reason;       /* why the API is off */
	const struct imds *imds;
	const struct http *http;
	const struct metrics_server *metrics;
	/* the checkpoint, as the agent keeps it */
	uint64_t checkpoint_saves;
	uint64_t checkpoint_failures;
	int checkpoint_last_error;
	const char *checkpoint_restored;
	const struct pruner *pruner;  /* earlier pods' record files deleted; NULL: off */
	bool ready;
};

struct agent_stats {
	struct stats_sources src;
	struct aio_stats aio;
	struct writer_stats writer;
	struct sink_stats sink;
	struct correlate_stats join;
	uint64_t ring_drops[8];       /* by enum nt_event_type; [NT_DROP_MAP_FULL], [NT_DROP_OUTSIDE_FULL]: kernel maps full */
	uint64_t ring_events[8];
	uint64_t ring_woken, ring_timer; /* reads the kernel woke, backstop reads with events */
	uint64_t malformed_events;
	struct kube_client_stats kube;
	struct node_state_stats api;
	struct pod_events_stats pod_events;
	struct imds_stats imds;
	struct http_stats http;
	struct metrics_stats metrics;
	struct prune_stats prune;
	uint64_t rss_kib, private_kib;
};

void stats_collect(const struct stats_sources *src, struct agent_stats *ret);

/* Add the numbers to an agent.status detail (after its identity keys). */
void stats_status(const struct agent_stats *s, cJSON *o);
/* One line for agent.status's summary. */
void stats_summary(const struct agent_stats *s, const char *state, char *buf, size_t len);
/* Prometheus text exposition. */
void stats_prometheus(const struct agent_stats *s, FILE *out);

#endif

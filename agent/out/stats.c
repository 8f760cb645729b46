/* One snapshot of the agent's numbers; agent.status and /metrics from it. */
#include <stddef.h>
#include <string.h>

#include "nodetrail/base/record.h"
#include "nodetrail/out/stats.h"

/* the agent's resident memory in KiB, all of it and the private (anonymous) part; 0 when unreadable */
static void read_memory(uint64_t *rss_kib, uint64_t *private_kib)
{
	char line[128];
	unsigned long long v;
	FILE *f = fopen("/proc/self/status", "re");

	*rss_kib = *private_kib = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "VmRSS: %llu", &v) == 1)
			*rss_kib = v;
		else if (sscanf(line, "RssAnon: %llu", &v) == 1)
			*private_kib = v;
	}
	if (f)
		fclose(f);
}

void stats_collect(const struct stats_sources *src, struct agent_stats *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->src = *src;
	aio_get_stats(src->aio, &ret->aio);
	writer_get_stats(src->writer, &ret->writer);
	sink_get_stats(src->sink, &ret->sink);
	if (src->correlator)
		correlator_get_stats(src->correlator, &ret->join);
	if (src->probes && probes_drops(src->probes, ret->ring_drops) == 0) {
		probes_received(src->probes, ret->ring_events);
		probes_reads(src->probes, &ret->ring_woken, &ret->ring_timer);
		ret->malformed_events = probes_malformed(src->probes);
	}
	if (src->kube) {
		kube_client_get_stats(src->kube, &ret->kube);
		node_state_get_stats(src->node_state, &ret->api);
	}
	if (src->pod_events)
		pod_events_get_stats(src->pod_events, &ret->pod_events);
	if (src->imds)
		imds_get_stats(src->imds, &ret->imds);
	if (src->http)
		http_get_stats(src->http, &ret->http);
	if (src->metrics)
		metrics_server_get_stats(src->metrics, &ret->metrics);
	if (src->pruner)
		pruner_get_stats(src->pruner, &ret->prune);
	read_memory(&ret->rss_kib, &ret->private_kib);
}

/* ---- agent.status ---- */

static void add_api(const struct agent_stats *s, cJSON *o)
{
	cJSON *api = cJSON_AddObjectToObject(o, "api"), *streams, *pe;

	if (!api)
		return;
	cJSON_AddStringToObject(api, "mode", s->src.kube ? "on" : "off");
	if (!s->src.kube) {
		cJSON_AddStringToObject(api, "reason", s->src.api_reason ? s->src.api_reason : "");
		return;
	}
	cJSON_AddStringToObject(api, "server", s->src.api_server);
	cJSON_AddBoolToObject(api, "synced", s->kube.synced);
	cJSON_AddNumberToObject(api, "pods", (double)s->api.pods);
	cJSON_AddNumberToObject(api, "pods_dropped", (double)s->api.pods_dropped);
	cJSON_AddNumberToObject(api, "decode_errors", (double)s->api.decode_errors);
	cJSON_AddNumberToObject(api, "missed_deletions", (double)s->api.missed_deletions);
	cJSON_AddNumberToObject(api, "events_forgotten", (double)s->api.events_forgotten);
	cJSON_AddNumberToObject(api, "events_other_namespace", (double)s->api.events_other_namespace);
	cJSON_AddNumberToObject(api, "events_rate_limited", (double)s->api.events_rate_limited);
	cJSON_AddNumberToObject(api, "event_reasons_forgotten", (double)s->api.event_reasons_forgotten);
	cJSON_AddNumberToObject(api, "token_reloads", (double)s->kube.token_reloads);
	if (s->src.pod_events && (pe = cJSON_AddObjectToObject(api, "pod_events"))) {
		cJSON_AddNumberToObject(pe, "troubled_pods", (double)s->pod_events.troubled);
		cJSON_AddNumberToObject(pe, "lists", (double)s->pod_events.fetches);
		cJSON_AddNumberToObject(pe, "list_errors", (double)s->pod_events.fetch_errors);
		cJSON_AddNumberToObject(pe, "rate_limited", (double)s->pod_events.rate_limited);
		cJSON_AddNumberToObject(pe, "written", (double)s->pod_events.written);
		cJSON_AddNumberToObject(pe, "pods_dropped", (double)s->pod_events.pods_dropped);
	}
	if ((pe = cJSON_AddObjectToObject(api, "slimmed"))) {
		/* objects copied without what is never read and can be huge, before parsing */
		cJSON_AddNumberToObject(pe, "objects", (double)s->kube.slim.objects);
		cJSON_AddNumberToObject(pe, "objects_cut", (double)s->kube.slim.objects_cut);
		cJSON_AddNumberToObject(pe, "values_dropped", (double)s->kube.slim.values_dropped);
		cJSON_AddNumberToObject(pe, "strings_cut", (double)s->kube.slim.strings_cut);
		cJSON_AddNumberToObject(pe, "bytes_in", (double)s->kube.slim.bytes_in);
		cJSON_AddNumberToObject(pe, "bytes_out", (double)s->kube.slim.bytes_out);
	}
	streams = cJSON_AddObjectToObject(api, "streams");
	for (int i = 0; streams && i < KUBE_NRESOURCES; i++) {
		const struct kube_stream_stats *st = &s->kube.stream[i];
		cJSON *so = cJSON_AddObjectToObject(streams, kube_resource_name((enum kube_resource)i));

		if (!so)
			break;
		cJSON_AddNumberToObject(so, "lists", (double)st->lists);
		cJSON_AddNumberToObject(so, "watches", (double)st->watches);
		cJSON_AddNumberToObject(so, "relists_410", (double)st->relists_410);
		cJSON_AddNumberToObject(so, "reconnects", (double)st->reconnects);
		cJSON_AddNumberToObject(so, "dead_streams", (double)st->dead_streams);
		cJSON_AddNumberToObject(so, "http_errors", (double)st->http_errors);
		cJSON_AddNumberToObject(so, "unauthorized", (double)st->unauthorized);
		cJSON_AddNumberToObject(so, "tls_failures", (double)st->tls_failures);
		cJSON_AddNumberToObject(so, "malformed", (double)st->malformed);
		cJSON_AddNumberToObject(so, "oversized", (double)st->oversized);
		cJSON_AddNumberToObject(so, "events", (double)st->events);
	}
}

static void add_imds(const struct agent_stats *s, cJSON *o)
{
	const struct imds_stats *st = &s->imds;
	cJSON *m = cJSON_AddObjectToObject(o, "imds");

	if (!m)
		return;
	if (!s->src.imds) {
		cJSON_AddStringToObject(m, "mode", "off");
		cJSON_AddStringToObject(m, "reason", "disabled by --imds off");
		return;
	}
	cJSON_AddStringToObject(m, "mode", st->on ? "on" : "off");
	if (!st->on) {
		cJSON_AddStringToObject(m, "reason", st->reason);
		cJSON_AddNumberToObject(m, "rechecks", (double)st->rechecks);
	}
	cJSON_AddBoolToObject(m, "identity", st->identity);
	if (st->spot_action[0])
		cJSON_AddStringToObject(m, "spot_action", st->spot_action);
	if (st->rebalance_notice[0])
		cJSON_AddStringToObject(m, "rebalance_recommendation", st->rebalance_notice);
	cJSON_AddNumberToObject(m, "requests", (double)st->requests);
	cJSON_AddNumberToObject(m, "unauthorized", (double)st->unauthorized);
	cJSON_AddNumberToObject(m, "errors", (double)st->errors);
}

static void add_checkpoint(const struct agent_stats *s, cJSON *o)
{
	cJSON *c = cJSON_AddObjectToObject(o, "checkpoint");

	if (!c)
		return;
	cJSON_AddNumberToObject(c, "saves", (double)s->src.checkpoint_saves);
	cJSON_AddNumberToObject(c, "failures", (double)s->src.checkpoint_failures);
	if (s->src.checkpoint_last_error)
		cJSON_AddStringToObject(c, "last_error", strerror(-s->src.checkpoint_last_error));
	cJSON_AddStringToObject(c, "restored", s->src.checkpoint_restored && s->src.checkpoint_restored[0] ?
						       s->src.checkpoint_restored :
						       "nothing");
	cJSON_AddNumberToObject(c, "restored_containers", (double)s->join.restored_containers);
	cJSON_AddNumberToObject(c, "ended_while_down", (double)s->join.ended_unseen);
	cJSON_AddNumberToObject(c, "restored_pending", (double)s->join.restored_pending);
}

static void add_prune(const struct agent_stats *s, cJSON *o)
{
	cJSON *p = cJSON_AddObjectToObject(o, "prune");

	if (!p)
		return;
	cJSON_AddNumberToObject(p, "after_s", s->prune.after_s);
	cJSON_AddNumberToObject(p, "passes", (double)s->prune.passes);
	cJSON_AddNumberToObject(p, "files_pruned", (double)s->prune.files);
	cJSON_AddNumberToObject(p, "bytes_freed", (double)s->prune.bytes);
	cJSON_AddNumberToObject(p, "errors", (double)s->prune.errors);
}

void stats_status(const struct agent_stats *s, cJSON *o)
{
	const struct correlate_stats *cs = &s->join;
	cJSON *drops, *events, *window;

	cJSON_AddStringToObject(o, "bpf", s->src.probes ? "on" : "off");
	if (!s->src.probes)
		cJSON_AddStringToObject(o, "bpf_reason", s->src.bpf_reason ? s->src.bpf_reason : "");
	else
		cJSON_AddStringToObject(o, "attach", probes_attach_mode(s->src.probes));
	cJSON_AddStringToObject(o, "cgroup_mode", s->src.mode->name);
	cJSON_AddStringToObject(o, "cgroup_ids", s->src.mode->v2_ids ? "unified" : "memory");
	cJSON_AddStringToObject(o, "io", aio_mode_name(s->src.aio));
	cJSON_AddNumberToObject(o, "tracked_containers", (double)cs->containers);
	cJSON_AddNumberToObject(o, "tracked_cgroups", (double)cs->cgroups);
	cJSON_AddNumberToObject(o, "preexisting_containers", (double)cs->preexisting);
	drops = cJSON_AddObjectToObject(o, "ringbuf_drops");
	if (s->src.probes) {
		for (uint32_t i = NT_EV_CGROUP_MKDIR; i <= NT_EV_OOM; i++)
			cJSON_AddNumberToObject(drops, probes_event_name(i), (double)s->ring_drops[i]);
		cJSON_AddNumberToObject(o, "malformed_events", (double)s->malformed_events);
		events = cJSON_AddObjectToObject(o, "ringbuf_events");
		for (uint32_t i = NT_EV_CGROUP_MKDIR; events && i <= NT_EV_OOM; i++)
			cJSON_AddNumberToObject(events, probes_event_name(i), (double)s->ring_events[i]);
		cJSON_AddNumberToObject(o, "kernel_map_full", (double)s->ring_drops[NT_DROP_MAP_FULL]);
		cJSON_AddNumberToObject(o, "kernel_exec_map_full", (double)s->ring_drops[NT_DROP_OUTSIDE_FULL]);
		cJSON_AddNumberToObject(o, "ringbuf_wakeups", (double)s->ring_woken);
		cJSON_AddNumberToObject(o, "ringbuf_backstop_reads", (double)s->ring_timer);
	}
	add_api(s, o);
	add_imds(s, o);
	cJSON_AddNumberToObject(o, "cgroup_map_full", (double)(cs->cgroups_dropped + cs->containers_dropped));
	cJSON_AddNumberToObject(o, "signals_dropped", (double)cs->signals_dropped);
	cJSON_AddNumberToObject(o, "signals_not_delivered", (double)cs->signals_not_delivered);
	cJSON_AddNumberToObject(o, "exec_probe_runs", (double)cs->probe_runs);
	cJSON_AddNumberToObject(o, "exec_probe_failures", (double)cs->probe_failures);
	cJSON_AddNumberToObject(o, "exec_hook_runs", (double)cs->hook_runs);
	cJSON_AddNumberToObject(o, "kill_causes_asked", (double)cs->kill_causes_asked);
	cJSON_AddNumberToObject(o, "kill_causes_found", (double)cs->kill_causes_found);
	cJSON_AddNumberToObject(o, "kill_causes_unanswered", (double)cs->kill_causes_unanswered);
	cJSON_AddNumberToObject(o, "joined", (double)cs->joined);
	cJSON_AddNumberToObject(o, "unconfirmed", (double)cs->unconfirmed);
	cJSON_AddNumberToObject(o, "sandboxes_folded", (double)cs->sandboxes_folded);
	cJSON_AddNumberToObject(o, "pending", (double)cs->pending);
	cJSON_AddNumberToObject(o, "pending_overflow", (double)cs->pending_overflow);
	cJSON_AddNumberToObject(o, "records_dropped", (double)(s->sink.dropped + s->sink.lost));
	cJSON_AddNumberToObject(o, "lines_truncated", (double)s->writer.truncated);
	cJSON_AddNumberToObject(o, "duplicates_suppressed", (double)s->sink.duplicates);
	cJSON_AddNumberToObject(o, "api_only_exits", (double)cs->api_only_exits);
	cJSON_AddNumberToObject(o, "series_dropped", (double)cs->series_dropped);
	cJSON_AddNumberToObject(o, "series", (double)cs->series);
	cJSON_AddNumberToObject(o, "started_followed", (double)cs->started);
	cJSON_AddNumberToObject(o, "cgroups_reconciled", (double)cs->cgroups_reconciled);
	if ((window = cJSON_AddObjectToObject(o, "dedup_window"))) {
		cJSON_AddNumberToObject(window, "ids", s->sink.dedup_ids);
		cJSON_AddNumberToObject(window, "cap", s->sink.dedup_cap);
		cJSON_AddNumberToObject(window, "forgotten", (double)s->sink.dedup_forgotten);
	}
	cJSON_AddNumberToObject(o, "rss_kib", (double)s->rss_kib);
	cJSON_AddNumberToObject(o, "private_kib", (double)s->private_kib);
	add_checkpoint(s, o);
	add_prune(s, o);
}

void stats_summary(const struct agent_stats *s, const char *state, char *buf, size_t len)
{
	uint64_t drops = 0;

	for (uint32_t i = NT_EV_CGROUP_MKDIR; i <= NT_EV_OOM; i++)
		drops += s->ring_drops[i];
	if (s->src.probes)
		snprintf(buf, len, "nodetrail %s %s: eBPF on (%s), cgroup %s, %llu containers tracked, %llu ring-buffer drops",
			 NODETRAIL_VERSION, state, probes_attach_mode(s->src.probes), s->src.mode->name,
			 (unsigned long long)s->join.containers, (unsigned long long)drops);
	else
		snprintf(buf, len, "nodetrail %s %s: eBPF off (%s)", NODETRAIL_VERSION, state,
			 s->src.bpf_reason ? s->src.bpf_reason : "");
}

/* ---- /metrics ---- */

#define COUNTER(out, name, help, value)                                                                           \
	fprintf(out, "# HELP nodetrail_" name " " help "\n# TYPE nodetrail_" name " counter\nnodetrail_" name " %llu\n", \
		(unsigned long long)(value))
#define GAUGE(out, name, help, value)                                                                             \
	fprintf(out, "# HELP nodetrail_" name " " help "\n# TYPE nodetrail_" name " gauge\nnodetrail_" name " %llu\n",   \
		(unsigned long long)(value))

static void api_metrics(const struct agent_stats *s, FILE *out)
{
	static const struct {
		const char *name, *help;
		size_t off;
	} per_stream[] = {
		{ "api_lists_total", "List requests", offsetof(struct kube_stream_stats, lists) },
		{ "api_relists_410_total", "Relists after an expired resourceVersion", offsetof(struct kube_stream_stats, relists_410) },
		{ "api_reconnects_total", "Watches restarted after an error or a drop", offsetof(struct kube_stream_stats, reconnects) },
		{ "api_dead_streams_total", "Watches cut for silence", offsetof(struct kube_stream_stats, dead_streams) },
		{ "api_http_errors_total", "Non-2xx answers", offsetof(struct kube_stream_stats, http_errors) },
		{ "api_malformed_total", "Watch lines that were not an event", offsetof(struct kube_stream_stats, malformed) },
		{ "api_events_total", "Watch events applied", offsetof(struct kube_stream_stats, events) },
	};

	for (size_t k = 0; k < sizeof(per_stream) / sizeof(per_stream[0]); k++) {
		fprintf(out, "# HELP nodetrail_%s %s\n# TYPE nodetrail_%s counter\n", per_stream[k].name, per_stream[k].help,
			per_stream[k].name);
		for (int i = 0; i < KUBE_NRESOURCES; i++)
			fprintf(out, "nodetrail_%s{resource=\"%s\"} %llu\n", per_stream[k].name,
				kube_resource_name((enum kube_resource)i),
				(unsigned long long)*(const uint64_t *)((const char *)&s->kube.stream[i] + per_stream[k].off));
	}
	if (s->src.probes) {
		COUNTER(out, "ringbuf_wakeups_total", "Ring-buffer reads the kernel woke the agent for", s->ring_woken);
		COUNTER(out, "ringbuf_backstop_reads_total", "Backstop ring-buffer reads that found events the kernel let wait",
			s->ring_timer);
	}
	GAUGE(out, "api_pods", "Pods of this node in the cache", s->api.pods);
	COUNTER(out, "api_decode_errors_total", "API objects that did not decode", s->api.decode_errors);
	COUNTER(out, "api_objects_slimmed_total", "API objects copied without what is never read, before parsing",
		s->kube.slim.objects);
	COUNTER(out, "api_values_dropped_total", "Members and elements of API objects left out (unused keys, caps)",
		s->kube.slim.values_dropped);
	COUNTER(out, "api_strings_cut_total", "Strings of API objects cut to 4 KiB", s->kube.slim.strings_cut);
	if (!s->src.pod_events)
		return;
	GAUGE(out, "pod_events_troubled_pods", "Pods in trouble whose events are listed on demand", s->pod_events.troubled);
	COUNTER(out, "pod_events_lists_total", "Event lists of troubled pods", s->pod_events.fetches);
	COUNTER(out, "pod_events_list_errors_total", "Of those, failed", s->pod_events.fetch_errors);
	COUNTER(out, "pod_events_rate_limited_total", "Event lists put off: the per-minute budget was spent",
		s->pod_events.rate_limited);
	COUNTER(out, "pod_events_pods_dropped_total", "Troubled pods not followed: cap reached",
		s->pod_events.pods_dropped);
}

void stats_prometheus(const struct agent_stats *s, FILE *out)
{
	const struct correlate_stats *cs = &s->join;

	GAUGE(out, "ready", "1 once probes are attached and the first API list is done", s->src.ready);
	GAUGE(out, "bpf_on", "1 while the eBPF probes are attached", s->src.probes != NULL);
	fprintf(out, "# HELP nodetrail_records_total Records written, by type\n# TYPE nodetrail_records_total counter\n");
	for (int i = 0; i < RECORD_NTYPES; i++)
		fprintf(out, "nodetrail_records_total{type=\"%s\"} %llu\n", record_type_name((enum record_type)i),
			(unsigned long long)s->sink.by_type[i]);
	fprintf(out, "# HELP nodetrail_dropped_total What was lost, by pipeline stage\n# TYPE nodetrail_dropped_total counter\n");
	if (s->src.probes) {
		for (uint32_t i = NT_EV_CGROUP_MKDIR; i <= NT_EV_OOM; i++)
			fprintf(out, "nodetrail_dropped_total{stage=\"ringbuf\",event=\"%s\"} %llu\n", probes_event_name(i),
				(unsigned long long)s->ring_drops[i]);
		fprintf(out, "nodetrail_dropped_total{stage=\"kernel_map\"} %llu\n",
			(unsigned long long)s->ring_drops[NT_DROP_MAP_FULL]);
		fprintf(out, "nodetrail_dropped_total{stage=\"kernel_exec_map\"} %llu\n",
			(unsigned long long)s->ring_drops[NT_DROP_OUTSIDE_FULL]);
		fprintf(out, "nodetrail_dropped_total{stage=\"malformed_event\"} %llu\n",
			(unsigned long long)s->malformed_events);
	}
	fprintf(out, "nodetrail_dropped_total{stage=\"cgroup_map\"} %llu\n",
		(unsigned long long)(cs->cgroups_dropped + cs->containers_dropped));
	fprintf(out, "nodetrail_dropped_total{stage=\"signals\"} %llu\n", (unsigned long long)cs->signals_dropped);
	fprintf(out, "nodetrail_dropped_total{stage=\"series\"} %llu\n", (unsigned long long)cs->series_dropped);
	fprintf(out, "nodetrail_dropped_total{stage=\"probe_runs\"} %llu\n", (unsigned long long)cs->probe_runs_untracked);
	if (s->src.kube) {
		fprintf(out, "nodetrail_dropped_total{stage=\"node_events_rate_limited\"} %llu\n",
			(unsigned long long)s->api.events_rate_limited);
		fprintf(out, "nodetrail_dropped_total{stage=\"node_events_other_namespace\"} %llu\n",
			(unsigned long long)s->api.events_other_namespace);
	}
	fprintf(out, "nodetrail_dropped_total{stage=\"encode_or_queue\"} %llu\n", (unsigned long long)s->sink.dropped);
	/* lines the writer lost after taking them (a file replaced mid-line); those it refused are above */
	fprintf(out, "nodetrail_dropped_total{stage=\"writer\"} %llu\n", (unsigned long long)s->sink.lost);
	if (s->src.probes) {
		fprintf(out, "# HELP nodetrail_kernel_events_total Events read from the ring buffer, by type\n"
			     "# TYPE nodetrail_kernel_events_total counter\n");
		for (uint32_t i = NT_EV_CGROUP_MKDIR; i <= NT_EV_OOM; i++)
			fprintf(out, "nodetrail_kernel_events_total{event=\"%s\"} %llu\n", probes_event_name(i),
				(unsigned long long)s->ring_events[i]);
	}
	COUNTER(out, "exec_probe_runs_all_total", "Exec probe runs recognised by their argv (no record each)",
		cs->probe_runs);
	COUNTER(out, "exec_probe_failures_all_total", "Of those, the runs that failed", cs->probe_failures);
	COUNTER(out, "exec_hook_runs_total", "Exec postStart and preStop hook runs", cs->hook_runs);
	COUNTER(out, "kill_causes_asked_total", "Stops from outside held for the kubelet's events on the pod",
		cs->kill_causes_asked);
	COUNTER(out, "kill_causes_found_total", "Of those, explained by the kubelet's Killing event", cs->kill_causes_found);
	COUNTER(out, "kill_causes_unanswered_total", "Of those, sent without: the events did not come in time",
		cs->kill_causes_unanswered);
	COUNTER(out, "pending_overflow_total", "Records sent before their join window closed: the pending set was full",
		cs->pending_overflow);
	COUNTER(out, "duplicates_suppressed_total", "Facts not written twice", s->sink.duplicates);
	COUNTER(out, "lines_truncated_total", "Records shrunk to fit a 16 KiB line", s->writer.truncated);
	COUNTER(out, "writer_errors_total", "Failed writes of the record file", s->writer.write_errors);
	COUNTER(out, "checkpoint_failures_total", "Checkpoint writes that failed", s->src.checkpoint_failures);
	COUNTER(out, "pruned_files_total", "Record files of earlier pods of this DaemonSet deleted", s->prune.files);
	COUNTER(out, "pruned_bytes_total", "Bytes of those files", s->prune.bytes);
	COUNTER(out, "prune_errors_total",
		"Earlier pods' record files that could not be deleted, and passes that could not read the directory",
		s->prune.errors);
	COUNTER(out, "metrics_refused_total", "Connections to this endpoint refused", s->metrics.refused);
	GAUGE(out, "writer_queue_lines", "Lines waiting to be written", s->writer.queued);
	GAUGE(out, "writer_queue_bytes", "Bytes of lines waiting to be written", s->writer.queued_bytes);
	COUNTER(out, "writer_syncs_total", "fdatasyncs of the record file (durable records, stop)", s->writer.syncs);
	GAUGE(out, "io_in_flight", "File operations handed to the kernel or the worker thread, not yet done",
	      s->aio.in_flight);
	GAUGE(out, "io_in_flight_max", "The most file operations in flight at once since start (a stalled disk shows here)",
	      s->aio.in_flight_max);
	GAUGE(out, "pending_records", "Records waiting for the API's side", cs->pending);
	GAUGE(out, "tracked_containers", "Containers the kernel side tracks", cs->containers);
	GAUGE(out, "series", "Containers whose exits are followed (crash-loop series)", cs->series);
	GAUGE(out, "started_followed", "Pods whose pod.started is followed", cs->started);
	COUNTER(out, "cgroups_reconciled_total", "Tracked cgroups found gone without their cgroup_rmdir (lost), forgotten",
		cs->cgroups_reconciled);
	GAUGE(out, "tracked_cgroups", "Cgroups tracked (kubepods, QoS classes, pods, containers; no container's descendants)",
	      cs->cgroups);
	GAUGE(out, "dedup_window_ids", "Record ids remembered so that no fact is written twice", s->sink.dedup_ids);
	GAUGE(out, "dedup_window_cap", "Record ids the window holds at most", s->sink.dedup_cap);
	COUNTER(out, "dedup_window_forgotten_total", "Record ids forgotten, oldest first, at the window's cap",
		s->sink.dedup_forgotten);
	GAUGE(out, "resident_memory_bytes", "Resident memory (VmRSS), shared library pages included", s->rss_kib * 1024);
	GAUGE(out, "private_memory_bytes", "Private (anonymous) resident memory", s->private_kib * 1024);
	if (s->src.http) {
		COUNTER(out, "http_requests_total", "HTTP requests to the API server and IMDS", s->http.requests);
		COUNTER(out, "http_received_bytes_total", "Bytes received from the API server and IMDS", s->http.bytes_in);
		COUNTER(out, "http_failures_total", "HTTP transfers that failed below HTTP (connect, TLS, timeout)",
			s->http.failures);
	}
	if (s->src.kube)
		api_metrics(s, out);
}

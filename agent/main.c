/* nodetrail: wire the stages together on one epoll loop.
 *
 *   probes (ring buffer) -> correlator (cgroup map, container state)
 *     -> record encoder -> writer (CRI lines) */
#include <errno.h>
#include <glob.h>
#include <malloc.h>
#include <regex.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "nodetrail/checkpoint.h"
#include "nodetrail/clock.h"
#include "nodetrail/config.h"
#include "nodetrail/correlate.h"
#include "nodetrail/history.h"
#include "nodetrail/http.h"
#include "nodetrail/imds.h"
#include "nodetrail/kube_client.h"
#include "nodetrail/node_state.h"
#include "nodetrail/log.h"
#include "nodetrail/loop.h"
#include "nodetrail/metrics.h"
#include "nodetrail/probes.h"
#include "nodetrail/record.h"
#include "nodetrail/writer.h"

#define ENCODE_BUF (64 * 1024)

/* record types, for the per-type counters of /metrics */
static const char *const record_types[] = { "container.exited", "container.oom_killed", "container.exec",
					     "pod.started",      "pod.terminated",       "node.taint",
					     "node.condition",   "node.event",           "node.interruption",
					     "node.drain_report", "agent.status" };
#define RECORD_TYPES (sizeof(record_types) / sizeof(record_types[0]))
#define RECENT_IDS 65536           /* record ids remembered to write each fact once */
#define HISTORY_BYTES (8u << 20)   /* read back at start, from each of the two newest files */

struct agent {
	struct config cfg;
	struct cgroup_mode mode;
	struct record_node node;
	char boot_id[64];
	char file_name[256];
	struct loop *loop;
	struct writer *writer;
	struct probes *probes;
	struct correlator *correlator;
	struct http *http;
	struct node_state *node_state;
	struct kube_client *kube;
	struct imds *imds;
	bool imds_off_reported;   /* the status record saying IMDS went off is out */
	bool trimmed_after_sync;  /* the heap the first lists used is given back */
	bool drain_pending;       /* a spot interruption is open: report the drain at its deadline */
	int64_t drain_notice_ns, drain_deadline_ns;
	char api_server[512];
	char api_reason[512];
	char bpf_reason[512];
	uint64_t seq;
	int64_t start_ns;
	cJSON *checkpoint;              /* what the last run left, until taken over */
	bool same_boot;
	struct record_ids *recent_ids;  /* facts already written, this run or before */
	struct history previous;        /* what the files say about the last run */
	uint64_t duplicates_suppressed;
	uint64_t records_dropped;
	uint64_t records_by_type[RECORD_TYPES + 1]; /* the last one: any other */
	struct metrics_server *metrics;
	regex_t exec_args_redact;
	bool exec_args_redact_set;
	/* the checkpoint in the state dir */
	uint64_t changes;               /* inputs and records since start: a save is due when it moved */
	uint64_t changes_saved;
	int64_t checkpoint_due_ns;      /* CLOCK_REALTIME of the next save */
	uint64_t checkpoint_saves;
	uint64_t checkpoint_failures;
	int checkpoint_last_error;
	char checkpoint_restored[256];  /* what the start took over, for agent.status */
	int exit_code;
	char *encode_buf;
};

static void emit(void *ctx, struct record *r)
{
	struct agent *a = ctx;
	int n, err;

	/* the same fact twice (a relist after a restart, a replayed watch) is
	 * written once; agent.status ids are unique per status anyway */
	if (a->recent_ids && record_ids_check_add(a->recent_ids, r->record_id)) {
		a->duplicates_suppressed++;
		log_debug("record %s %s already written, skipping", r->type, r->record_id);
		return;
	}
	r->seq = a->seq + 1;
	n = record_encode(r, a->encode_buf, ENCODE_BUF);
	if (n < 0) {
		a->records_dropped++;
		log_warn("failed to encode a %s record: %s, dropping it", r->type, strerror(-n));
		return;
	}
	err = writer_append(a->writer, clock_ns(CLOCK_REALTIME), a->encode_buf, (size_t)n);
	if (err < 0) {
		a->records_dropped++;
		log_warn("record queue full (%s), dropping a %s record", strerror(-err), r->type);
		return;
	}
	a->seq++;
	a->changes++;
	{
		size_t i = 0;

		while (i < RECORD_TYPES && strcmp(record_types[i], r->type) != 0)
			i++;
		a->records_by_type[i]++;
	}
	log_debug("record %s: %s", r->type, r->summary ? r->summary : "");
}

static void flush(struct agent *a)
{
	int err = writer_flush(a->writer);

	if (err < 0)
		log_warn("failed to write records to %s: %s, keeping them queued", writer_path(a->writer),
			 strerror(-err));
}

/* the gap: when the previous run's last record was written and how it ended */
static void add_previous_run(struct agent *a, cJSON *o)
{
	char when[32];
	cJSON *p;

	if (!a->previous.found)
		return;
	p = cJSON_AddObjectToObject(o, "previous_run");
	if (!p)
		return;
	cJSON_AddStringToObject(p, "stop", a->previous.clean_stop ? "clean" : "unclean");
	cJSON_AddNumberToObject(p, "last_seq", (double)a->previous.last_seq);
	if (a->previous.last_event_ns) {
		cJSON_AddStringToObject(p, "last_record_at", writer_format_time(a->previous.last_event_ns, when));
		cJSON_AddNumberToObject(p, "gap_s", (double)((clock_ns(CLOCK_REALTIME) - a->previous.last_event_ns) / 1000000) / 1000.0);
	}
	if (a->previous.last_boot_id[0])
		cJSON_AddBoolToObject(p, "same_boot", strcmp(a->previous.last_boot_id, a->boot_id) == 0);
}

static void add_imds_status(struct agent *a, cJSON *o)
{
	struct imds_stats st;
	cJSON *m = cJSON_AddObjectToObject(o, "imds");

	if (!m)
		return;
	if (!a->imds) {
		cJSON_AddStringToObject(m, "mode", "off");
		cJSON_AddStringToObject(m, "reason", "disabled by --imds off");
		return;
	}
	imds_get_stats(a->imds, &st);
	cJSON_AddStringToObject(m, "mode", st.on ? "on" : "off");
	if (!st.on)
		cJSON_AddStringToObject(m, "reason", st.reason);
	cJSON_AddBoolToObject(m, "identity", st.identity);
	if (st.spot_action[0])
		cJSON_AddStringToObject(m, "spot_action", st.spot_action);
	if (st.rebalance_notice[0])
		cJSON_AddStringToObject(m, "rebalance_recommendation", st.rebalance_notice);
	cJSON_AddNumberToObject(m, "requests", (double)st.requests);
	cJSON_AddNumberToObject(m, "unauthorized", (double)st.unauthorized);
	cJSON_AddNumberToObject(m, "errors", (double)st.errors);
}

static void add_api_status(struct agent *a, cJSON *o)
{
	struct kube_client_stats ks;
	struct node_state_stats ns;
	cJSON *api, *streams;

	api = cJSON_AddObjectToObject(o, "api");
	if (!api)
		return;
	cJSON_AddStringToObject(api, "mode", a->kube ? "on" : "off");
	if (!a->kube) {
		cJSON_AddStringToObject(api, "reason", a->api_reason);
		return;
	}
	cJSON_AddStringToObject(api, "server", a->api_server);
	kube_client_get_stats(a->kube, &ks);
	node_state_get_stats(a->node_state, &ns);
	cJSON_AddBoolToObject(api, "synced", ks.synced);
	cJSON_AddNumberToObject(api, "pods", (double)ns.pods);
	cJSON_AddNumberToObject(api, "pods_dropped", (double)ns.pods_dropped);
	cJSON_AddNumberToObject(api, "decode_errors", (double)ns.decode_errors);
	cJSON_AddNumberToObject(api, "missed_deletions", (double)ns.missed_deletions);
	cJSON_AddNumberToObject(api, "events_forgotten", (double)ns.events_forgotten);
	cJSON_AddNumberToObject(api, "token_reloads", (double)ks.token_reloads);
	streams = cJSON_AddObjectToObject(api, "streams");
	for (int i = 0; streams && i < KUBE_NRESOURCES; i++) {
		const struct kube_stream_stats *st = &ks.stream[i];
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

static void add_checkpoint_status(struct agent *a, cJSON *o, const struct correlate_stats *cs)
{
	cJSON *c = cJSON_AddObjectToObject(o, "checkpoint");

	if (!c)
		return;
	cJSON_AddNumberToObject(c, "saves", (double)a->checkpoint_saves);
	cJSON_AddNumberToObject(c, "failures", (double)a->checkpoint_failures);
	if (a->checkpoint_last_error)
		cJSON_AddStringToObject(c, "last_error", strerror(-a->checkpoint_last_error));
	cJSON_AddStringToObject(c, "restored", a->checkpoint_restored[0] ? a->checkpoint_restored : "nothing");
	cJSON_AddNumberToObject(c, "restored_containers", (double)cs->restored_containers);
	cJSON_AddNumberToObject(c, "ended_while_down", (double)cs->ended_unseen);
	cJSON_AddNumberToObject(c, "restored_pending", (double)cs->restored_pending);
}

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

static void emit_status(struct agent *a, const char *state)
{
	static const char *const type_names[8] = { "unknown", "cgroup_mkdir", "cgroup_rmdir", "exec",
						   "exit",    "signal",       "oom",          "other" };
	struct correlate_stats cs;
	struct writer_stats ws;
	char summary[768];
	struct record r;
	cJSON *o, *drops, *events, *window;
	uint64_t per_type[8] = { 0 }, total = 0, rss_kib, private_kib;

	o = cJSON_CreateObject();
	if (!o)
		return;
	cJSON_AddStringToObject(o, "state", state);
	cJSON_AddStringToObject(o, "version", NODETRAIL_VERSION);
	cJSON_AddNumberToObject(o, "pid", getpid());
	cJSON_AddStringToObject(o, "boot_id", a->boot_id);
	if (!strcmp(state, "started")) {
		char libs[256];

		snprintf(libs, sizeof(libs), "%s %s", http_library_version(), probes_library_version());
		cJSON_AddStringToObject(o, "libraries", libs);
		add_previous_run(a, o);
	}
	cJSON_AddStringToObject(o, "bpf", a->probes ? "on" : "off");
	if (!a->probes)
		cJSON_AddStringToObject(o, "bpf_reason", a->bpf_reason);
	else
		cJSON_AddStringToObject(o, "attach", probes_attach_mode(a->probes));
	cJSON_AddStringToObject(o, "cgroup_mode", a->mode.name);
	cJSON_AddStringToObject(o, "cgroup_ids", a->mode.v2_ids ? "unified" : "memory");
	writer_get_stats(a->writer, &ws);
	cJSON_AddStringToObject(o, "io", ws.io_uring ? "io_uring" : "write");
	correlator_get_stats(a->correlator, &cs);
	cJSON_AddNumberToObject(o, "tracked_containers", (double)cs.containers);
	cJSON_AddNumberToObject(o, "preexisting_containers", (double)cs.preexisting);
	drops = cJSON_AddObjectToObject(o, "ringbuf_drops");
	if (a->probes && probes_drops(a->probes, per_type) == 0) {
		for (int i = 1; i < 7; i++) {
			cJSON_AddNumberToObject(drops, type_names[i], (double)per_type[i]);
			total += per_type[i];
		}
		cJSON_AddNumberToObject(o, "malformed_events", (double)probes_malformed(a->probes));
		probes_received(a->probes, per_type);
		events = cJSON_AddObjectToObject(o, "ringbuf_events");
		for (int i = 1; events && i < 7; i++)
			cJSON_AddNumberToObject(events, type_names[i], (double)per_type[i]);
		probes_drops(a->probes, per_type);
		cJSON_AddNumberToObject(o, "kernel_map_full", (double)per_type[NT_DROP_MAP_FULL]);
	}
	add_api_status(a, o);
	add_imds_status(a, o);
	cJSON_AddNumberToObject(o, "cgroup_map_full", (double)(cs.cgroups_dropped + cs.containers_dropped));
	cJSON_AddNumberToObject(o, "signals_dropped", (double)cs.signals_dropped);
	cJSON_AddNumberToObject(o, "joined", (double)cs.joined);
	cJSON_AddNumberToObject(o, "unconfirmed", (double)cs.unconfirmed);
	cJSON_AddNumberToObject(o, "sandboxes_folded", (double)cs.sandboxes_folded);
	cJSON_AddNumberToObject(o, "pending", (double)cs.pending);
	cJSON_AddNumberToObject(o, "pending_overflow", (double)cs.pending_overflow);
	cJSON_AddNumberToObject(o, "records_dropped", (double)(a->records_dropped + ws.dropped));
	cJSON_AddNumberToObject(o, "lines_truncated", (double)ws.truncated);
	cJSON_AddNumberToObject(o, "duplicates_suppressed", (double)a->duplicates_suppressed);
	cJSON_AddNumberToObject(o, "api_only_exits", (double)cs.api_only_exits);
	cJSON_AddNumberToObject(o, "series_dropped", (double)cs.series_dropped);
	if ((window = cJSON_AddObjectToObject(o, "dedup_window"))) {
		cJSON_AddNumberToObject(window, "ids", record_ids_count(a->recent_ids));
		cJSON_AddNumberToObject(window, "cap", RECENT_IDS);
		cJSON_AddNumberToObject(window, "forgotten", (double)record_ids_forgotten(a->recent_ids));
	}
	read_memory(&rss_kib, &private_kib);
	cJSON_AddNumberToObject(o, "rss_kib", (double)rss_kib);
	cJSON_AddNumberToObject(o, "private_kib", (double)private_kib);
	add_checkpoint_status(a, o, &cs);

	if (a->probes)
		snprintf(summary, sizeof(summary),
			 "nodetrail %s %s: eBPF on (%s), cgroup %s, %llu containers tracked, %llu ring-buffer drops",
			 NODETRAIL_VERSION, state, probes_attach_mode(a->probes), a->mode.name,
			 (unsigned long long)cs.containers, (unsigned long long)total);
	else
		snprintf(summary, sizeof(summary), "nodetrail %s %s: eBPF off (%s)", NODETRAIL_VERSION, state,
			 a->bpf_reason);
	memset(&r, 0, sizeof(r));
	r.type = "agent.status";
	r.event_time_ns = clock_ns(CLOCK_REALTIME);
	r.node = &a->node;
	record_make_id(r.type, a->boot_id, (uint64_t)r.event_time_ns, (uint64_t)getpid(), 0, r.record_id);
	r.detail_key = "agent";
	r.detail = o;
	r.summary = summary;
	emit(a, &r);
	cJSON_Delete(o);
}

static void on_kernel_event(void *ctx, const struct nt_event_hdr *hdr)
{
	struct agent *a = ctx;

	a->changes++;
	correlator_kernel_event(a->correlator, hdr);
}

static void on_ringbuf(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct agent *a = data;
	int n = probes_consume(a->probes);

	if (n < 0)
		log_warn("failed to read the ring buffer: %s", strerror(-n));
	flush(a);
}

static void on_signal(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("received %s, flushing and exiting", signal_name((int)si.ssi_signo));
	loop_stop(loop);
}

/* The node goes away at the deadline: what is written must be on disk now. */
static void sync_now(struct agent *a)
{
	int err = writer_sync(a->writer);

	if (err < 0)
		log_error("failed to sync records to %s: %s", writer_path(a->writer), strerror(-err));
}

static void save_checkpoint(struct agent *a, bool force);

static void on_interruption(void *ctx, int64_t notice_ns, int64_t deadline_ns)
{
	struct agent *a = ctx;
	char when[32];

	a->drain_pending = true;
	a->drain_notice_ns = notice_ns;
	a->drain_deadline_ns = deadline_ns;
	log_warn("node interruption: the node goes away at %s; drain report then", writer_format_time(deadline_ns, when));
	sync_now(a);
	if (a->correlator)
		save_checkpoint(a, true);
}

static void report_drain(struct agent *a, const char *why, bool final)
{
	if (!a->drain_pending)
		return;
	a->drain_pending = false;
	correlator_drain_report(a->correlator, a->drain_notice_ns, a->drain_deadline_ns, why, final);
	sync_now(a);
}

static void add_hash(void *ctx, uint64_t hash)
{
	char buf[20];

	snprintf(buf, sizeof(buf), "%016llx", (unsigned long long)hash);
	cJSON_AddItemToArray(ctx, cJSON_CreateString(buf));
}

#define CHECKPOINT_IDS 4096        /* record ids kept in the checkpoint (the files hold the rest) */

/* Write the checkpoint now (when anything changed since the last one). */
static void save_checkpoint(struct agent *a, bool force)
{
	cJSON *doc, *o;
	int r;

	/* less a little: the 1 s tick that checks it must not miss it by a hair */
	a->checkpoint_due_ns = clock_ns(CLOCK_REALTIME) + (int64_t)a->cfg.checkpoint_interval_s * 1000000000LL - 200000000LL;
	if (!force && a->changes == a->changes_saved)
		return;
	doc = cJSON_CreateObject();
	if (!doc)
		return;
	cJSON_AddNumberToObject(doc, "version", CHECKPOINT_VERSION);
	cJSON_AddStringToObject(doc, "node", a->cfg.node_name);
	cJSON_AddStringToObject(doc, "boot_id", a->boot_id);
	cJSON_AddNumberToObject(doc, "written_at", (double)clock_ns(CLOCK_REALTIME));
	cJSON_AddNumberToObject(doc, "next_seq", (double)(a->seq + 1));
	if (a->kube && (o = cJSON_AddObjectToObject(doc, "resource_versions")))
		for (int i = 0; i < KUBE_NRESOURCES; i++)
			cJSON_AddStringToObject(o, kube_resource_name((enum kube_resource)i),
						kube_client_resource_version(a->kube, (enum kube_resource)i));
	if ((o = cJSON_AddArrayToObject(doc, "record_ids")))
		record_ids_each_recent(a->recent_ids, CHECKPOINT_IDS, add_hash, o);
	if (a->kube && (o = node_state_checkpoint(a->node_state)))
		cJSON_AddItemToObject(doc, "node_state", o);
	if ((o = correlator_checkpoint(a->correlator)))
		cJSON_AddItemToObject(doc, "correlator", o);
	r = checkpoint_save(a->cfg.state_dir, doc);
	cJSON_Delete(doc);
	/* the document and its text were the largest allocations since the last one: return them */
	malloc_trim(0);
	if (r < 0) {
		if (!a->checkpoint_failures || r != a->checkpoint_last_error)
			log_warn("failed to write the checkpoint in %s: %s, a restart would lose open timelines",
				 a->cfg.state_dir, strerror(-r));
		a->checkpoint_failures++;
		a->checkpoint_last_error = r;
		return;
	}
	if (a->checkpoint_last_error)
		log_info("checkpoint in %s written again", a->cfg.state_dir);
	a->checkpoint_last_error = 0;
	a->checkpoint_saves++;
	a->changes_saved = a->changes;
}

static void on_tick(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct agent *a = data;

	if (a->kube) {
		kube_client_tick(a->kube);
		if (!a->trimmed_after_sync) {
			struct kube_client_stats ks;

			kube_client_get_stats(a->kube, &ks);
			if (ks.synced) {
				/* the first lists' response bodies and parse trees are freed: return them */
				malloc_trim(0);
				a->trimmed_after_sync = true;
			}
		}
	}
	correlator_tick(a->correlator);
	if (a->drain_pending && clock_ns(CLOCK_REALTIME) >= a->drain_deadline_ns) {
		correlator_flush(a->correlator);
		report_drain(a, a->drain_deadline_ns < a->start_ns ? "at agent start, after the deadline" : "at the deadline",
			     true);
	}
	if (a->imds) {
		struct imds_stats st;

		imds_tick(a->imds);
		imds_get_stats(a->imds, &st);
		if (!st.on && !a->imds_off_reported) {
			a->imds_off_reported = true;
			emit_status(a, "running");
		}
	}
	flush(a);
	if (clock_ns(CLOCK_REALTIME) >= a->checkpoint_due_ns)
		save_checkpoint(a, false);
}

static void on_status_timer(struct loop *loop, int fd, uint32_t events, void *data)
{
	emit_status(data, "running");
	flush(data);
	/* relists and bursts leave freed heap behind: return it, so RSS tracks what is in use */
	malloc_trim(0);
}

static void read_boot_id(char *buf, size_t len)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (f) {
		if (fgets(buf, (int)len, f))
			buf[strcspn(buf, "\n")] = '\0';
		fclose(f);
	}
}

static int mkdir_p(const char *dir)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s", dir);
	for (char *p = path + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(path, 0750) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(path, 0750) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* What earlier runs wrote (kill -9 included): seq continues after the
 * highest one, and facts already written are not written again. Oldest
 * file first: the newest rotated one, then the active one. */
static void read_history(struct agent *a)
{
	char pattern[4400], path[4400];
	glob_t g;

	snprintf(pattern, sizeof(pattern), "%s/%s.*", a->cfg.output_dir, a->file_name);
	if (glob(pattern, 0, NULL, &g) == 0) {
		/* names end in YYYYMMDD-hhmmss: the last in sort order is the newest */
		history_read_file(g.gl_pathv[g.gl_pathc - 1], HISTORY_BYTES, a->recent_ids, &a->previous);
		globfree(&g);
	}
	snprintf(path, sizeof(path), "%s/%s", a->cfg.output_dir, a->file_name);
	history_read_file(path, HISTORY_BYTES, a->recent_ids, &a->previous);
	a->seq = a->previous.last_seq;
	if (a->previous.found)
		log_info("continuing after seq %llu (%llu records read back, previous run %s)",
			 (unsigned long long)a->seq, (unsigned long long)a->previous.records,
			 a->previous.clean_stop ? "stopped cleanly" : "did not stop cleanly");
}

static void take_hash(struct agent *a, const cJSON *ids)
{
	const cJSON *item;

	cJSON_ArrayForEach(item, ids)
		if (cJSON_IsString(item))
			record_ids_check_add_hash(a->recent_ids, strtoull(item->valuestring, NULL, 16));
}

/* The checkpoint the last run left: seq and record ids now, the rest once
 * the stages that own it exist. One that does not parse costs its state,
 * nothing else. */
static void load_checkpoint(struct agent *a)
{
	const char *node, *boot;
	const cJSON *seq;
	int r = checkpoint_load(a->cfg.state_dir, &a->checkpoint);

	if (r == -ENOENT)
		return;
	if (r < 0) {
		log_warn("failed to read the checkpoint in %s: %s (moved aside as %s.bad), starting without it",
			 a->cfg.state_dir, r == -EINVAL ? "not a checkpoint of this version" : strerror(-r),
			 CHECKPOINT_FILE);
		snprintf(a->checkpoint_restored, sizeof(a->checkpoint_restored), "nothing: unreadable, moved aside");
		return;
	}
	node = cJSON_GetStringValue(cJSON_GetObjectItem(a->checkpoint, "node"));
	if (!node || strcmp(node, a->cfg.node_name) != 0) {
		log_warn("the checkpoint in %s is of node %s, not %s: ignoring it", a->cfg.state_dir, node ? node : "?",
			 a->cfg.node_name);
		cJSON_Delete(a->checkpoint);
		a->checkpoint = NULL;
		return;
	}
	boot = cJSON_GetStringValue(cJSON_GetObjectItem(a->checkpoint, "boot_id"));
	a->same_boot = boot && !strcmp(boot, a->boot_id);
	seq = cJSON_GetObjectItem(a->checkpoint, "next_seq");
	if (json_int(seq, 0, INT64_MAX, 0) >= 1 && (uint64_t)json_int(seq, 0, INT64_MAX, 0) - 1 > a->seq)
		a->seq = (uint64_t)json_int(seq, 0, INT64_MAX, 0) - 1;
	take_hash(a, cJSON_GetObjectItem(a->checkpoint, "record_ids"));
	snprintf(a->checkpoint_restored, sizeof(a->checkpoint_restored), "%s",
		 a->same_boot ? "same boot: timelines, pending records, pods, interruption" :
				"new boot: pending records, pods, interruption; kernel timelines dropped");
}

static void restore_checkpoint(struct agent *a)
{
	const cJSON *when = cJSON_GetObjectItem(a->checkpoint, "written_at");
	int64_t written = json_int(when, 0, INT64_MAX, 0);
	int pods = 0;

	if (!a->checkpoint)
		return;
	if (a->kube)
		pods = node_state_restore(a->node_state, cJSON_GetObjectItem(a->checkpoint, "node_state"));
	correlator_restore(a->correlator, cJSON_GetObjectItem(a->checkpoint, "correlator"), a->same_boot, written);
	log_info("checkpoint of %.0f s ago taken over (%s, %d pods)",
		 written ? (double)(clock_ns(CLOCK_REALTIME) - written) / 1e9 : 0.0, a->same_boot ? "same boot" : "new boot",
		 pods);
	cJSON_Delete(a->checkpoint);
	a->checkpoint = NULL;
}

static enum writer_io parse_io(const char *s)
{
	if (strcmp(s, "io_uring") == 0)
		return WRITER_IO_URING;
	if (strcmp(s, "write") == 0)
		return WRITER_IO_WRITE;
	return WRITER_IO_AUTO;
}

/* The API server: --api-server, else the in-cluster service from the environment. */
static bool find_api_server(struct agent *a)
{
	const char *host = getenv("KUBERNETES_SERVICE_HOST"), *port = getenv("KUBERNETES_SERVICE_PORT");

	if (a->cfg.api_server[0]) {
		snprintf(a->api_server, sizeof(a->api_server), "%s", a->cfg.api_server);
		return true;
	}
	if (!host || !*host)
		return false;
	snprintf(a->api_server, sizeof(a->api_server), strchr(host, ':') ? "https://[%s]:%s" : "https://%s:%s", host,
		 port && *port ? port : "443");
	return true;
}

static void on_api_pod(void *ctx, const struct kube_pod *pod, bool deleted)
{
	struct agent *a = ctx;

	a->changes++;
	if (a->correlator)
		correlator_api_pod(a->correlator, pod, deleted);
}

static cJSON *on_memory_context(void *ctx)
{
	struct agent *a = ctx;

	return a->correlator && a->probes ? correlator_memory_context(a->correlator) : NULL;
}

static cJSON *on_kernel_view(void *ctx, const struct kube_pod *pod, int64_t grace_s)
{
	struct agent *a = ctx;

	return a->correlator && a->probes ? correlator_kernel_view(a->correlator, pod, grace_s) : NULL;
}

static int setup_api(struct agent *a)
{
	struct kube_client_options ko = { 0 };
	char err[512];
	int r;

	if (a->cfg.api == CONFIG_OFF) {
		snprintf(a->api_reason, sizeof(a->api_reason), "disabled by --api off");
		return 0;
	}
	if (!find_api_server(a)) {
		snprintf(a->api_reason, sizeof(a->api_reason),
			 "no API server: not in a pod (no KUBERNETES_SERVICE_HOST) and no --api-server");
		if (a->cfg.api == CONFIG_ON) {
			log_error("Kubernetes API required (--api on) but unavailable: %s", a->api_reason);
			return -ENOENT;
		}
		log_info("running without the Kubernetes API: %s", a->api_reason);
		return 0;
	}
	if (!a->http && !(a->http = http_new(a->loop)))
		return -ENOMEM;
	ko.server = a->api_server;
	ko.token_file = a->cfg.token_file;
	ko.ca_file = a->cfg.ca_file;
	ko.node_name = a->cfg.node_name;
	ko.http = a->http;
	ko.state = a->node_state;
	ko.dead_after_s = a->cfg.api_dead_after_s;
	r = kube_client_new(&ko, &a->kube, err, sizeof(err));
	if (r < 0) {
		snprintf(a->api_reason, sizeof(a->api_reason), "%s", err);
		if (a->cfg.api == CONFIG_ON) {
			log_error("Kubernetes API required (--api on) but unavailable: %s", err);
			return r;
		}
		log_warn("running without the Kubernetes API: %s", err);
		return 0;
	}
	log_info("watching pods, node and node events of %s at %s", a->cfg.node_name, a->api_server);
	return 0;
}

static int setup_imds(struct agent *a)
{
	struct imds_options io = { 0 };

	if (a->cfg.imds == CONFIG_OFF)
		return 0;
	if (!a->http && !(a->http = http_new(a->loop)))
		return -ENOMEM;
	io.endpoint = a->cfg.imds_endpoint;
	io.mode = a->cfg.imds;
	io.http = a->http;
	io.state = a->node_state;
	io.node = &a->node;
	io.poll_s = a->cfg.imds_poll_s;
	a->imds = imds_new(&io);
	return a->imds ? 0 : -ENOMEM;
}

static int setup(struct agent *a)
{
	struct writer_options wo = { 0 };
	struct probes_options po = { 0 };
	struct correlate_options co = { 0 };
	struct node_state_options no = { 0 };
	const char *detail = NULL;
	char err[512];
	int r;

	a->loop = loop_new();
	if (!a->loop)
		return -ENOMEM;
	if (a->cfg.exec_args_redact[0]) {
		char msg[256];

		r = regcomp(&a->exec_args_redact, a->cfg.exec_args_redact, REG_EXTENDED | REG_NOSUB);
		if (r != 0) {
			regerror(r, &a->exec_args_redact, msg, sizeof(msg));
			log_error("--exec-args-redact '%s': %s", a->cfg.exec_args_redact, msg);
			return -EINVAL;
		}
		a->exec_args_redact_set = true;
	}
	read_boot_id(a->boot_id, sizeof(a->boot_id));
	a->start_ns = clock_ns(CLOCK_REALTIME);
	a->node.cluster_name = a->cfg.cluster_name;
	a->node.emf = !strcmp(a->cfg.emf, "node") ? RECORD_EMF_NODE : !strcmp(a->cfg.emf, "cluster") ? RECORD_EMF_CLUSTER :
										    RECORD_EMF_OFF;
	a->node.node_name = a->cfg.node_name;

	r = cgroup_detect_mode(a->cfg.cgroup_root, &a->mode, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	r = config_output_file_name(&a->cfg, a->file_name, sizeof(a->file_name));
	if (r < 0) {
		log_error("output file name from POD_NAME/POD_NAMESPACE/CONTAINER_NAME is too long (max 255 bytes)");
		return r;
	}
	wo.dir = a->cfg.output_dir;
	wo.file_name = a->file_name;
	wo.max_bytes = a->cfg.max_file_bytes;
	wo.keep_rotated = a->cfg.keep_rotated;
	wo.io = parse_io(a->cfg.io);
	a->writer = writer_new(&wo, &detail);
	if (!a->writer) {
		log_error("cannot write records to %s/%s: %s (%s): mount the host's /var/log/containers read-write there or pass --output-dir",
			  a->cfg.output_dir, a->file_name, strerror(errno), detail ? detail : "open");
		return -errno;
	}
	a->recent_ids = record_ids_new(RECENT_IDS);
	if (!a->recent_ids)
		return -ENOMEM;
	read_history(a);
	r = mkdir_p(a->cfg.state_dir);
	if (r < 0) {
		log_error("cannot create state dir %s: %s: mount a writable hostPath there or pass --state-dir",
			  a->cfg.state_dir, strerror(-r));
		return r;
	}
	load_checkpoint(a);

	if (a->cfg.bpf != CONFIG_OFF) {
		po.cgroup_v2 = a->mode.v2_ids;
		po.hierarchy_id = a->mode.hierarchy_id;
		po.ringbuf_bytes = a->cfg.ringbuf_kib * 1024;
		po.cgroup_map_max = a->cfg.cgroup_map_max;
		po.try_tp_btf = strcmp(a->cfg.attach, "raw_tp") != 0;
		po.try_raw_tp = strcmp(a->cfg.attach, "tp_btf") != 0;
		po.capture_args = strcmp(a->cfg.exec_args, "on") == 0;
		r = probes_new(&po, on_kernel_event, a, &a->probes, a->bpf_reason, sizeof(a->bpf_reason));
		if (r < 0 && a->cfg.bpf == CONFIG_ON) {
			log_error("eBPF required (--bpf on) but unavailable: %s", a->bpf_reason);
			return r;
		}
		if (r < 0)
			log_warn("running without eBPF: %s", a->bpf_reason);
	} else {
		snprintf(a->bpf_reason, sizeof(a->bpf_reason), "disabled by --bpf off");
	}

	no.node = &a->node;
	no.emit = emit;
	no.emit_ctx = a;
	no.on_pod = on_api_pod;
	no.kernel_view = on_kernel_view;
	no.memory_context = on_memory_context;
	no.on_interruption = on_interruption;
	no.on_pod_ctx = a;
	a->node_state = node_state_new(&no);
	if (!a->node_state)
		return -ENOMEM;
	r = setup_api(a);
	if (r == 0)
		r = setup_imds(a);
	if (r < 0)
		return r;

	co.node = &a->node;
	co.boot_id = a->boot_id;
	co.api = a->kube ? a->node_state : NULL;
	co.join_window_ms = a->cfg.join_window_ms;
	co.mode = &a->mode;
	co.probes = a->probes;
	co.bpf_off = !a->probes;
	co.exec_args = strcmp(a->cfg.exec_args, "on") == 0;
	co.exec_args_redact = a->exec_args_redact_set ? &a->exec_args_redact : NULL;
	co.max_cgroups = a->cfg.cgroup_map_max;
	co.emit = emit;
	co.emit_ctx = a;
	a->correlator = correlator_new(&co);
	if (!a->correlator) {
		log_error("out of memory");
		return -ENOMEM;
	}
	if (a->probes) {
		r = correlator_scan(a->correlator);
		if (r < 0)
			log_warn("startup scan of %s failed: %s, ignoring", a->mode.dir, strerror(-r));
		else
			log_info("startup scan: %d Kubernetes cgroups under %s", r, a->mode.dir);
	}
	restore_checkpoint(a);
	/* loading the probes parsed the kernel's BTF (megabytes, freed since): give it back */
	malloc_trim(0);
	return 0;
}

static bool is_ready(void *ctx, char *why, size_t len)
{
	struct agent *a = ctx;
	struct kube_client_stats ks;

	if (!a->probes && a->cfg.bpf == CONFIG_ON) {
		snprintf(why, len, "eBPF probes not attached");
		return false;
	}
	if (a->kube) {
		kube_client_get_stats(a->kube, &ks);
		if (!ks.synced) {
			snprintf(why, len, "Kubernetes API: first list of pods, node and events not done yet");
			return false;
		}
	}
	return true;
}

#define COUNTER(out, name, help, value)                                                                           \
	fprintf(out, "# HELP nodetrail_" name " " help "\n# TYPE nodetrail_" name " counter\nnodetrail_" name " %llu\n", \
		(unsigned long long)(value))
#define GAUGE(out, name, help, value)                                                                             \
	fprintf(out, "# HELP nodetrail_" name " " help "\n# TYPE nodetrail_" name " gauge\nnodetrail_" name " %llu\n",   \
		(unsigned long long)(value))

/* Prometheus text: what was written, what was lost at which stage, how the API and queues are doing. */
static void render_metrics(void *ctx, FILE *out)
{
	static const char *const events[] = { "unknown", "cgroup_mkdir", "cgroup_rmdir", "exec", "exit", "signal", "oom" };
	struct agent *a = ctx;
	struct correlate_stats cs;
	struct writer_stats ws;
	struct metrics_stats ms;
	uint64_t per_type[8] = { 0 }, rss_kib, private_kib;
	char why[256];

	correlator_get_stats(a->correlator, &cs);
	writer_get_stats(a->writer, &ws);
	metrics_server_get_stats(a->metrics, &ms);
	GAUGE(out, "ready", "1 once probes are attached and the first API list is done", is_ready(a, why, sizeof(why)));
	GAUGE(out, "bpf_on", "1 while the eBPF probes are attached", a->probes != NULL);
	fprintf(out, "# HELP nodetrail_records_total Records written, by type\n# TYPE nodetrail_records_total counter\n");
	for (size_t i = 0; i <= RECORD_TYPES; i++)
		fprintf(out, "nodetrail_records_total{type=\"%s\"} %llu\n", i < RECORD_TYPES ? record_types[i] : "other",
			(unsigned long long)a->records_by_type[i]);
	fprintf(out, "# HELP nodetrail_dropped_total What was lost, by pipeline stage\n# TYPE nodetrail_dropped_total counter\n");
	if (a->probes && probes_drops(a->probes, per_type) == 0) {
		for (int i = 1; i < 7; i++)
			fprintf(out, "nodetrail_dropped_total{stage=\"ringbuf\",event=\"%s\"} %llu\n", events[i],
				(unsigned long long)per_type[i]);
		fprintf(out, "nodetrail_dropped_total{stage=\"kernel_map\"} %llu\n", (unsigned long long)per_type[NT_DROP_MAP_FULL]);
		fprintf(out, "nodetrail_dropped_total{stage=\"malformed_event\"} %llu\n",
			(unsigned long long)probes_malformed(a->probes));
		probes_received(a->probes, per_type);
		fprintf(out, "# HELP nodetrail_kernel_events_total Events read from the ring buffer, by type\n"
			     "# TYPE nodetrail_kernel_events_total counter\n");
		for (int i = 1; i < 7; i++)
			fprintf(out, "nodetrail_kernel_events_total{event=\"%s\"} %llu\n", events[i],
				(unsigned long long)per_type[i]);
	}
	fprintf(out, "nodetrail_dropped_total{stage=\"cgroup_map\"} %llu\n",
		(unsigned long long)(cs.cgroups_dropped + cs.containers_dropped));
	fprintf(out, "nodetrail_dropped_total{stage=\"signals\"} %llu\n", (unsigned long long)cs.signals_dropped);
	fprintf(out, "nodetrail_dropped_total{stage=\"series\"} %llu\n", (unsigned long long)cs.series_dropped);
	fprintf(out, "nodetrail_dropped_total{stage=\"encode_or_queue\"} %llu\n", (unsigned long long)a->records_dropped);
	fprintf(out, "nodetrail_dropped_total{stage=\"writer\"} %llu\n", (unsigned long long)ws.dropped);
	COUNTER(out, "pending_overflow_total", "Records sent before their join window closed: the pending set was full",
		cs.pending_overflow);
	COUNTER(out, "duplicates_suppressed_total", "Facts not written twice", a->duplicates_suppressed);
	COUNTER(out, "lines_truncated_total", "Records shrunk to fit a 16 KiB line", ws.truncated);
	COUNTER(out, "writer_errors_total", "Failed writes of the record file", ws.write_errors);
	COUNTER(out, "checkpoint_failures_total", "Checkpoint writes that failed", a->checkpoint_failures);
	COUNTER(out, "metrics_refused_total", "Connections to this endpoint refused", ms.refused);
	GAUGE(out, "writer_queue_lines", "Lines waiting to be written", ws.queued);
	GAUGE(out, "pending_records", "Records waiting for the API's side", cs.pending);
	GAUGE(out, "tracked_containers", "Containers the kernel side tracks", cs.containers);
	GAUGE(out, "dedup_window_ids", "Record ids remembered so that no fact is written twice",
	      record_ids_count(a->recent_ids));
	GAUGE(out, "dedup_window_cap", "Record ids the window holds at most", RECENT_IDS);
	COUNTER(out, "dedup_window_forgotten_total", "Record ids forgotten, oldest first, at the window's cap",
		record_ids_forgotten(a->recent_ids));
	read_memory(&rss_kib, &private_kib);
	GAUGE(out, "resident_memory_bytes", "Resident memory (VmRSS), shared library pages included", rss_kib * 1024);
	GAUGE(out, "private_memory_bytes", "Private (anonymous) resident memory", private_kib * 1024);
	if (a->kube) {
		struct kube_client_stats ks;
		struct node_state_stats ns;
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

		kube_client_get_stats(a->kube, &ks);
		node_state_get_stats(a->node_state, &ns);
		for (size_t k = 0; k < sizeof(per_stream) / sizeof(per_stream[0]); k++) {
			fprintf(out, "# HELP nodetrail_%s %s\n# TYPE nodetrail_%s counter\n", per_stream[k].name,
				per_stream[k].help, per_stream[k].name);
			for (int i = 0; i < KUBE_NRESOURCES; i++)
				fprintf(out, "nodetrail_%s{resource=\"%s\"} %llu\n", per_stream[k].name,
					kube_resource_name((enum kube_resource)i),
					(unsigned long long)*(const uint64_t *)((const char *)&ks.stream[i] + per_stream[k].off));
		}
		GAUGE(out, "api_pods", "Pods of this node in the cache", ns.pods);
		COUNTER(out, "api_decode_errors_total", "API objects that did not decode", ns.decode_errors);
	}
}

static int setup_metrics(struct agent *a)
{
	struct metrics_options mo = { .addr = a->cfg.metrics_addr, .ready = is_ready, .render = render_metrics, .ctx = a };
	char err[512];
	int r;

	if (!a->cfg.metrics_addr[0])
		return 0;
	r = metrics_server_new(a->loop, &mo, &a->metrics, err, sizeof(err));
	if (r < 0) {
		log_error("cannot serve /healthz and /metrics: %s", err);
		return r;
	}
	log_info("serving /healthz, /readyz and /metrics on %s (port %d)", a->cfg.metrics_addr,
		 metrics_server_port(a->metrics));
	return 0;
}

static int run(struct agent *a)
{
	sigset_t mask;
	int sfd, r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (sfd < 0)
		return -errno;
	r = loop_add_fd(a->loop, sfd, EPOLLIN, on_signal, a);
	if (r == 0 && a->probes)
		r = loop_add_fd(a->loop, probes_fd(a->probes), EPOLLIN, on_ringbuf, a);
	if (r == 0)
		r = loop_add_timer(a->loop, 1000, on_tick, a) < 0 ? -EIO : 0;
	if (r == 0 && a->cfg.status_interval_s)
		r = loop_add_timer(a->loop, (uint64_t)a->cfg.status_interval_s * 1000, on_status_timer, a) < 0 ? -EIO : 0;
	if (r < 0) {
		close(sfd);
		return r;
	}

	r = setup_metrics(a);
	if (r < 0) {
		close(sfd);
		return r;
	}
	emit_status(a, "started");
	flush(a);
	log_info("started: node %s, records in %s, eBPF %s", a->cfg.node_name, writer_path(a->writer),
		 a->probes ? probes_attach_mode(a->probes) : "off");
	r = loop_run(a->loop);

	/* drain what the kernel already produced, then say goodbye */
	if (a->probes)
		probes_consume(a->probes);
	correlator_flush(a->correlator);
	report_drain(a, "at agent stop, before the deadline", false);
	emit_status(a, "stopping");
	r = writer_sync(a->writer);
	save_checkpoint(a, true);
	if (r < 0)
		log_error("failed to write the last records to %s: %s", writer_path(a->writer), strerror(-r));
	close(sfd);
	return r;
}

int main(int argc, char **argv)
{
	struct agent a = { 0 };
	enum log_level lvl;
	int r;

	switch (config_parse(&a.cfg, argc, argv, stdout, stderr)) {
	case CONFIG_EXIT_OK:
		return 0;
	case CONFIG_EXIT_VERSION:
		printf("%s %s\n", http_library_version(), probes_library_version());
		return 0;
	case CONFIG_EXIT_ERROR:
		return 2;
	case CONFIG_RUN:
		break;
	}
	if (log_parse_level(a.cfg.log_level, &lvl) == 0)
		log_set_level(lvl);
	/* buffers of 64 KiB and more (list bodies, the checkpoint's text, map tables) come from mmap and go
	 * back whole when freed, instead of staying in the heap between trims */
	mallopt(M_MMAP_THRESHOLD, 64 * 1024);
	a.encode_buf = malloc(ENCODE_BUF);
	if (!a.encode_buf)
		return 1;
	r = setup(&a);
	if (r == 0)
		r = run(&a);
	metrics_server_free(a.metrics);
	imds_free(a.imds);
	kube_client_free(a.kube);
	http_free(a.http);
	node_state_free(a.node_state);
	correlator_free(a.correlator);
	probes_free(a.probes);
	writer_free(a.writer);
	loop_free(a.loop);
	record_ids_free(a.recent_ids);
	cJSON_Delete(a.checkpoint);
	if (a.exec_args_redact_set)
		regfree(&a.exec_args_redact);
	free(a.encode_buf);
	return r < 0 ? 1 : 0;
}

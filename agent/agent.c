/* The agent: the stages built and wired on one epoll loop.
 *
 *   kernel/probes (ring buffer) --> join/correlate <-- api/node_state <-- api/kube_client
 *                                        ^                  |
 *                                        |            api/interruption <-- api/imds
 *                                        v
 *                      out/sink -> out/encode -> out/writer (CRI lines)
 *
 * Everything here is wiring: which stage feeds which, the loop's timers,
 * the checkpoint document assembled from each stage's own part, and the
 * agent.status record. */
#include <errno.h>
#include <glob.h>
#include <malloc.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodetrail/agent.h"
#include "nodetrail/api/imds.h"
#include "nodetrail/api/interruption.h"
#include "nodetrail/api/kube_client.h"
#include "nodetrail/api/node_state.h"
#include "nodetrail/api/pod_events.h"
#include "nodetrail/base/aio.h"
#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/http.h"
#include "nodetrail/base/json.h"
#include "nodetrail/base/log.h"
#include "nodetrail/base/loop.h"
#include "nodetrail/join/correlate.h"
#include "nodetrail/kernel/host.h"
#include "nodetrail/kernel/probes.h"
#include "nodetrail/out/checkpoint.h"
#include "nodetrail/out/history.h"
#include "nodetrail/out/metrics.h"
#include "nodetrail/out/prune.h"
#include "nodetrail/out/sink.h"
#include "nodetrail/out/stats.h"
#include "nodetrail/out/writer.h"

#define RECENT_IDS 65536           /* record ids remembered to write each fact once */
#define HISTORY_BYTES (8u << 20)   /* read back at start, from each of the two newest files */
#define CHECKPOINT_IDS 4096        /* record ids kept in the checkpoint (the files hold the rest) */
#define DRAIN_AT_STOP_MS 10000     /* the last records and checkpoint may take this long to reach the disk */
#define PRUNE_PERIOD_MAX_S 3600    /* earlier pods' record files are looked for hourly, */
#define PRUNE_PERIOD_MIN_S 60      /* or every --prune-after seconds when shorter, at most once a minute */
#define PRUNE_AT_STOP_MS 2000      /* a look in flight at stop may take this long to tell its deletions */

/* the checkpoint in the state dir, as the agent keeps it */
struct agent_checkpoint {
	struct checkpoint_saver *saver;
	cJSON *taken;             /* what the last run left, until taken over */
	bool same_boot;
	bool restoring;           /* taking it over: no save from inside */
	char restored[256];       /* what the start took over, for agent.status */
	uint64_t saved_at_change; /* change count at the last save */
	int64_t saved_ns;         /* CLOCK_MONOTONIC of the last save */
	uint64_t timer;           /* the next save, once something changed; 0 if none */
	uint64_t saves, failures;
	int last_error;
};

struct agent {
	struct config cfg;
	struct cgroup_mode mode;
	struct record_node node;
	char boot_id[64];
	bool api_synced;          /* every stream has listed once: the pods to drain are known */
	int64_t start_ns;
	struct loop *loop;
	int signal_fd;
	uint64_t status_timer;
	uint64_t prune_timer;     /* the next look for earlier pods' record files */
	struct pruner *pruner;    /* NULL with --prune-after 0 */
	uint64_t ringbuf_timer;   /* the backstop read of what the kernel let wait */
	uint64_t reconcile_timer; /* tracked cgroups checked against the hierarchy (lost rmdirs) */
	/* out */
	struct aio *aio;
	struct writer *writer;
	int write_error;          /* the writer's last error, logged once */
	struct sink *sink;
	struct history previous;  /* what the files say about the last run */
	struct metrics_server *metrics;
	/* kernel */
	struct probes *probes;
	char bpf_reason[512];
	/* API and IMDS */
	struct http *http;
	struct node_state *node_state;
	struct interruption *interruption;
	struct kube_client *kube;
	struct pod_events *pod_events; /* troubled pods' events, listed on demand */
	uint64_t pod_events_timer;
	char api_server[512];
	char api_reason[512];
	struct imds *imds;
	/* join */
	struct correlator *correlator;
	regex_t exec_args_redact;
	bool exec_args_redact_set;
	struct agent_checkpoint ck;
};

const char *agent_libraries(void)
{
	static char libs[256];

	snprintf(libs, sizeof(libs), "%s %s", http_library_version(), probes_library_version());
	return libs;
}

/* Give freed heap back to the kernel, so that RSS tracks what is in use:
 * after the setup (the kernel's BTF), the first lists, a checkpoint's
 * document, a status period's bursts. */
static void trim_heap(void)
{
	malloc_trim(0);
}

/* ---- records ---- */

static bool is_ready(const struct agent *a, char *why, size_t len)
{
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

static void snapshot(const struct agent *a, struct agent_stats *ret)
{
	char why[256];
	struct stats_sources src = {
		.aio = a->aio,
		.writer = a->writer,
		.sink = a->sink,
		.correlator = a->correlator,
		.probes = a->probes,
		.bpf_reason = a->bpf_reason,
		.mode = &a->mode,
		.kube = a->kube,
		.node_state = a->node_state,
		.pod_events = a->pod_events,
		.api_server = a->api_server,
		.api_reason = a->api_reason,
		.imds = a->imds,
		.http = a->http,
		.metrics = a->metrics,
		.checkpoint_saves = a->ck.saves,
		.checkpoint_failures = a->ck.failures,
		.checkpoint_last_error = a->ck.last_error,
		.checkpoint_restored = a->ck.restored,
		.pruner = a->pruner,
		.ready = is_ready(a, why, sizeof(why)),
	};

	stats_collect(&src, ret);
}

/* the gap: when the previous run's last record was written and how it ended */
static void add_previous_run(const struct agent *a, cJSON *o)
{
	char when[CLOCK_TEXT_LEN];
	cJSON *p;

	if (!a->previous.found || !(p = cJSON_AddObjectToObject(o, "previous_run")))
		return;
	cJSON_AddStringToObject(p, "stop", a->previous.clean_stop ? "clean" : "unclean");
	cJSON_AddNumberToObject(p, "last_seq", (double)a->previous.last_seq);
	if (a->previous.last_event_ns) {
		cJSON_AddStringToObject(p, "last_record_at", clock_format(a->previous.last_event_ns, when));
		cJSON_AddNumberToObject(p, "gap_s",
					(double)((clock_ns(CLOCK_REALTIME) - a->previous.last_event_ns) / 1000000) / 1000.0);
	}
	if (a->previous.last_boot_id[0])
		cJSON_AddBoolToObject(p, "same_boot", strcmp(a->previous.last_boot_id, a->boot_id) == 0);
}

static void emit_status(struct agent *a, const char *state)
{
	struct agent_stats s;
	char summary[768];
	struct record r;
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return;
	snapshot(a, &s);
	cJSON_AddStringToObject(o, "state", state);
	cJSON_AddStringToObject(o, "version", NODETRAIL_VERSION);
	cJSON_AddNumberToObject(o, "pid", getpid());
	cJSON_AddStringToObject(o, "boot_id", a->boot_id);
	if (!strcmp(state, "started")) {
		cJSON_AddStringToObject(o, "libraries", agent_libraries());
		add_previous_run(a, o);
	}
	stats_status(&s, o);
	stats_summary(&s, state, summary, sizeof(summary));
	memset(&r, 0, sizeof(r));
	r.type = RECORD_AGENT_STATUS;
	r.event_time_ns = clock_ns(CLOCK_REALTIME);
	r.node = &a->node;
	record_make_id(r.type, a->boot_id, (uint64_t)r.event_time_ns, (uint64_t)getpid(), 0, r.record_id);
	r.detail_key = "agent";
	r.detail = o;
	r.summary = summary;
	sink_emit(a->sink, &r);
	cJSON_Delete(o);
}

/* ---- the checkpoint ---- */

/* what changed since the start: a save is due when it moved */
static uint64_t change_count(const struct agent *a)
{
	uint64_t n = sink_written(a->sink), per_type[8];
	struct kube_client_stats ks;

	if (a->probes) {
		probes_received(a->probes, per_type);
		for (int i = 0; i < 8; i++)
			n += per_type[i];
	}
	if (a->kube) {
		kube_client_get_stats(a->kube, &ks);
		for (int i = 0; i < KUBE_NRESOURCES; i++)
			n += ks.stream[i].events + ks.stream[i].lists;
	}
	return n;
}

struct hex_ids {
	char *text;
	size_t len;
};

/* the ids as one string of 16 hex digits each: one JSON node, not thousands (the checkpoint is
 * built every 2 s under churn; its transient memory counts against the agent's RSS) */
static void add_hash(void *ctx, uint64_t hash)
{
	struct hex_ids *h = ctx;

	snprintf(h->text + h->len, 17, "%016llx", (unsigned long long)hash);
	h->len += 16;
}

/* The document: the agent's own keys and each stage's part. The
 * interruption's part sits inside "node_state", where version 1 of the
 * document has always kept it. */
static cJSON *checkpoint_document(const struct agent *a)
{
	cJSON *doc = cJSON_CreateObject(), *o, *part;
	struct hex_ids ids = { 0 };

	if (!doc)
		return NULL;
	cJSON_AddNumberToObject(doc, "version", CHECKPOINT_VERSION);
	cJSON_AddStringToObject(doc, "node", a->cfg.node_name);
	cJSON_AddStringToObject(doc, "boot_id", a->boot_id);
	cJSON_AddNumberToObject(doc, "written_at", (double)clock_ns(CLOCK_REALTIME));
	cJSON_AddNumberToObject(doc, "next_seq", (double)(sink_seq(a->sink) + 1));
	ids.text = malloc(CHECKPOINT_IDS * 16 + 1);
	if (ids.text) {
		ids.text[0] = '\0';
		idset_each_recent(sink_ids(a->sink), CHECKPOINT_IDS, add_hash, &ids);
		cJSON_AddStringToObject(doc, "record_ids", ids.text);
		free(ids.text);
	}
	o = a->kube ? node_state_save(a->node_state) : cJSON_CreateObject();
	if (o && (part = interruption_save(a->interruption)))
		cJSON_AddItemToObject(o, "interruption", part);
	if (o)
		cJSON_AddItemToObject(doc, "node_state", o);
	if ((o = correlator_save(a->correlator)))
		cJSON_AddItemToObject(doc, "correlator", o);
	return doc;
}

static void on_checkpoint_written(void *ctx, int r)
{
	struct agent *a = ctx;

	if (r < 0) {
		if (!a->ck.failures || r != a->ck.last_error)
			log_warn("failed to write the checkpoint in %s: %s, a restart would lose open timelines",
				 a->cfg.state_dir, strerror(-r));
		a->ck.failures++;
		a->ck.last_error = r;
		return;
	}
	if (a->ck.last_error)
		log_info("checkpoint in %s written again", a->cfg.state_dir);
	a->ck.last_error = 0;
	a->ck.saves++;
}

/* Write the checkpoint (off the loop) when anything changed since the last one, or forced. */
static void save_checkpoint(struct agent *a, bool force)
{
	uint64_t changes = change_count(a);
	cJSON *doc;
	int r;

	if (a->ck.restoring || (!force && changes == a->ck.saved_at_change))
		return;
	loop_timer_del(a->loop, a->ck.timer);
	a->ck.timer = 0;
	doc = checkpoint_document(a);
	if (!doc)
		return;
	r = checkpoint_saver_save(a->ck.saver, doc);
	cJSON_Delete(doc);
	trim_heap();
	if (r < 0) {
		on_checkpoint_written(a, r);
		return;
	}
	a->ck.saved_at_change = changes;
	a->ck.saved_ns = clock_ns(CLOCK_MONOTONIC);
}

static void on_checkpoint_timer(struct loop *loop, uint64_t id, void *data)
{
	struct agent *a = data;

	a->ck.timer = 0;
	save_checkpoint(a, false);
}

/* Something changed: a save is due --checkpoint-interval after the last one. */
static void schedule_checkpoint(struct agent *a)
{
	int64_t due, now;

	if (a->ck.timer || a->ck.restoring || change_count(a) == a->ck.saved_at_change)
		return;
	now = clock_ns(CLOCK_MONOTONIC);
	due = a->ck.saved_ns + (int64_t)a->cfg.checkpoint_interval_s * 1000000000LL;
	a->ck.timer = loop_timer_add(a->loop, due > now ? (uint64_t)((due - now) / 1000000) : 0, on_checkpoint_timer, a);
}

/* The checkpoint the last run left: seq and record ids now, the rest once
 * the stages that own it exist. One that does not parse costs its state,
 * nothing else. */
static void load_checkpoint(struct agent *a)
{
	const char *node, *boot, *ids;
	const cJSON *item;
	int64_t seq;
	int r = checkpoint_load(a->cfg.state_dir, &a->ck.taken);

	if (r == -ENOENT)
		return;
	if (r < 0) {
		log_warn("failed to read the checkpoint in %s: %s (moved aside as %s.bad), starting without it",
			 a->cfg.state_dir, r == -EINVAL ? "not a checkpoint of this version" : strerror(-r), CHECKPOINT_FILE);
		snprintf(a->ck.restored, sizeof(a->ck.restored), "nothing: unreadable, moved aside");
		return;
	}
	node = cJSON_GetStringValue(cJSON_GetObjectItem(a->ck.taken, "node"));
	if (!node || strcmp(node, a->cfg.node_name) != 0) {
		log_warn("the checkpoint in %s is of node %s, not %s: ignoring it", a->cfg.state_dir, node ? node : "?",
			 a->cfg.node_name);
		cJSON_Delete(a->ck.taken);
		a->ck.taken = NULL;
		return;
	}
	boot = cJSON_GetStringValue(cJSON_GetObjectItem(a->ck.taken, "boot_id"));
	a->ck.same_boot = boot && !strcmp(boot, a->boot_id);
	seq = json_int(cJSON_GetObjectItem(a->ck.taken, "next_seq"), 0, INT64_MAX, 0);
	if (seq >= 1)
		sink_continue_after(a->sink, (uint64_t)seq - 1);
	/* one string of 16 hex digits per id; an array of strings before */
	ids = cJSON_GetStringValue(cJSON_GetObjectItem(a->ck.taken, "record_ids"));
	for (size_t i = 0; ids && i + 16 <= strlen(ids); i += 16) {
		char one[17];

		memcpy(one, ids + i, 16);
		one[16] = '\0';
		idset_check_add(sink_ids(a->sink), strtoull(one, NULL, 16));
	}
	cJSON_ArrayForEach(item, cJSON_GetObjectItem(a->ck.taken, "record_ids"))
		if (cJSON_IsString(item))
			idset_check_add(sink_ids(a->sink), strtoull(item->valuestring, NULL, 16));
	snprintf(a->ck.restored, sizeof(a->ck.restored), "%s",
		 a->ck.same_boot ? "same boot: timelines, pending records, pods, interruption" :
				   "new boot: pending records, pods, interruption; kernel timelines dropped");
}

/* Each stage takes its part over. */
static void restore_checkpoint(struct agent *a)
{
	const cJSON *doc = a->ck.taken, *ns = cJSON_GetObjectItem(doc, "node_state");
	int64_t written = json_int(cJSON_GetObjectItem(doc, "written_at"), 0, INT64_MAX, 0);
	int pods = 0;

	if (!doc)
		return;
	a->ck.restoring = true;
	if (a->kube)
		pods = node_state_restore(a->node_state, ns);
	interruption_restore(a->interruption, cJSON_GetObjectItem(ns, "interruption"));
	correlator_restore(a->correlator, cJSON_GetObjectItem(doc, "correlator"), a->ck.same_boot, written);
	a->ck.restoring = false;
	log_info("checkpoint of %.0f s ago taken over (%s, %d pods)",
		 written ? (double)(clock_ns(CLOCK_REALTIME) - written) / 1e9 : 0.0,
		 a->ck.same_boot ? "same boot" : "new boot", pods);
	cJSON_Delete(a->ck.taken);
	a->ck.taken = NULL;
}

/* ---- the interruption's drain ---- */

static void on_interruption(void *ctx, const struct interruption_info *info)
{
	struct agent *a = ctx;
	char when[CLOCK_TEXT_LEN];

	if (info->deadline_ns)
		log_warn("node interruption (%s%s): the node goes away at %s; drain report then",
			 interruption_kind_name(info->kind), info->confirmed ? "" : ", unconfirmed",
			 clock_format(info->deadline_ns, when));
	else
		log_warn("node interruption (%s%s): no deadline; drain report when it ends",
			 interruption_kind_name(info->kind), info->confirmed ? "" : ", unconfirmed");
	if (a->correlator)
		save_checkpoint(a, true);
}

/* A drain report, if one is owed: the report (final false) or the final one. What is still waiting
 * for the API goes out first. */
static void report_drain(struct agent *a, const char *why, bool final)
{
	const struct interruption_info *in = interruption_get(a->interruption);

	if (!a->correlator || !interruption_drain_pending(a->interruption, final))
		return;
	interruption_drain_reported(a->interruption, final);
	correlator_flush(a->correlator);
	correlator_drain_report(a->correlator, in->notice_ns, in->deadline_ns, why, final);
}

/* The lead before the deadline (Fluent Bit ships the report while the node is still there), or the
 * deadline itself: the final report, if the node is still there. */
static void on_interruption_due(void *ctx, const struct interruption_info *info, bool final)
{
	struct agent *a = ctx;
	/* due before this run started, for an interruption it took over */
	bool late = info->notice_ns < a->start_ns &&
		    info->deadline_ns - (final ? 0 : (int64_t)a->cfg.drain_lead_s * 1000000000LL) < a->start_ns;

	if (final)
		report_drain(a, late ? "at agent start, after the deadline" : "at the deadline", true);
	else
		report_drain(a, late ? "at agent start, before the deadline" : "before the deadline", false);
}

/* It ended (withdrawn, did not happen, or happened): the report still owed (a disruption, which has
 * no deadline, reports here unless its drain ended first). */
static void on_interruption_ended(void *ctx, const struct interruption_info *info)
{
	struct agent *a = ctx;

	log_info("node interruption (%s) ended", interruption_kind_name(info->kind));
	if (!a->correlator || a->ck.restoring)
		return;
	report_drain(a, info->ended == IEND_WITHDRAWN ? "when it was withdrawn" : "when it ended", true);
	save_checkpoint(a, true);
}

/* No pod is left to drain: the report now, not at the lead (the drain is over; a disruption's
 * report comes here) */
static void check_drained(struct agent *a)
{
	const struct interruption_info *in = interruption_get(a->interruption);

	if (!in->open || !in->confirmed || !interruption_drain_pending(a->interruption, false) || !a->kube ||
	    !a->api_synced || node_state_pods_to_drain(a->node_state) > 0)
		return;
	report_drain(a, "when no pod was left to drain", in->deadline_ns == 0);
}

/* the join stage's view of the API, and the drain's end */
static void observe_pod(void *ctx, const struct kube_pod *pod, bool deleted)
{
	struct agent *a = ctx;

	correlator_pod_changed(a->correlator, pod, deleted);
	if (a->pod_events)
		pod_events_pod_changed(a->pod_events, pod, deleted);
	if (deleted)
		check_drained(a);
}

static void observe_end(void *ctx, const struct kube_pod *pod, enum pod_end_seen seen)
{
	struct agent *a = ctx;

	correlator_pod_ended(a->correlator, pod, seen);
	check_drained(a);
}

static void observe_condition(void *ctx, const struct kube_condition *cond, const char *was)
{
	correlator_condition_changed(((struct agent *)ctx)->correlator, cond, was);
}

/* ---- the loop's handlers ---- */

static void on_kernel_event(void *ctx, const struct nt_event_hdr *hdr)
{
	correlator_kernel_event(((struct agent *)ctx)->correlator, hdr);
}

static void on_ringbuf(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct agent *a = data;
	int n = probes_consume(a->probes, true);

	if (n < 0)
		log_warn("failed to read the ring buffer: %s", strerror(-n));
}

/* Events the kernel does not wake the agent for (cgroups made and removed,
 * the exits of probes and hooks) are read with the next urgent one, once
 * an eighth of the buffer fills, or here. */
static void on_ringbuf_timer(struct loop *loop, uint64_t id, void *data)
{
	struct agent *a = data;
	int n = probes_consume(a->probes, false);

	if (n < 0)
		log_warn("failed to read the ring buffer: %s", strerror(-n));
	a->ringbuf_timer = loop_timer_add(loop, PROBES_BACKSTOP_MS, on_ringbuf_timer, a);
}

#define RECONCILE_MS 60000

/* a cgroup_rmdir lost to a full ring buffer must not keep its container for good */
static void on_reconcile_timer(struct loop *loop, uint64_t id, void *data)
{
	struct agent *a = data;

	a->reconcile_timer = loop_timer_add(loop, RECONCILE_MS, on_reconcile_timer, a);
	/* first what the kernel let wait (up to PROBES_BACKSTOP_MS): a cgroup removed
	 * just now has its cgroup_rmdir there, not lost; it goes as removed, uncounted */
	probes_consume(a->probes, false);
	correlator_reconcile(a->correlator);
}

static void on_signal(struct loop *loop, int fd, uint32_t events, void *data)
{
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	log_info("received %s, flushing and exiting", signal_name((int)si.ssi_signo));
	loop_stop(loop);
}

/* Once per loop turn, before it sleeps: what the turn made goes to the
 * disk in one write, and a checkpoint is scheduled if anything changed. */
static void before_sleep(struct loop *loop, void *data)
{
	struct agent *a = data;
	struct writer_stats ws;
	int err = writer_flush(a->writer);

	if (err < 0 && err != a->write_error) {
		writer_get_stats(a->writer, &ws);
		log_warn("failed to write records to %s: %s, keeping %llu queued and retrying", writer_path(a->writer),
			 strerror(-err), (unsigned long long)ws.queued);
	} else if (err == 0 && a->write_error) {
		log_info("records reach %s again", writer_path(a->writer));
	}
	a->write_error = err;
	schedule_checkpoint(a);
}

static void on_api_synced(void *ctx)
{
	struct agent *a = ctx;

	a->api_synced = true;
	/* the first lists' response bodies and parse trees are freed: return them */
	trim_heap();
	check_drained(a);
}

/* IMDS went off (not on EC2), or answers again: say so at once */
static void on_imds_changed(void *ctx)
{
	emit_status(ctx, "running");
}

static void on_status_timer(struct loop *loop, uint64_t id, void *data)
{
	struct agent *a = data;

	a->status_timer = loop_timer_add(loop, (uint64_t)a->cfg.status_interval_s * 1000, on_status_timer, a);
	emit_status(a, "running");
	/* relists and bursts leave freed heap behind */
	trim_heap();
}

/* Record files earlier pods of this DaemonSet left (a rollout leaves one pod's worth on every node),
 * untouched for --prune-after seconds: deleted off the loop, and said in a record. */
static void on_pruned(void *ctx, int pass, const struct prune_options *po, const struct prune_result *res)
{
	struct agent *a = ctx;

	if (pass < 0) {
		log_warn("failed to look for earlier pods' record files in %s: %s, ignoring", po->dir, strerror(-pass));
		return;
	}
	if (res->errors)
		log_warn("failed to delete %s/%s, a record file of an earlier pod: %s (%u such failures), ignoring",
			 po->dir, res->first_error_name, strerror(-res->first_error), res->errors);
	if (res->removed) {
		log_info("deleted %u record file%s of earlier pods from %s (%llu bytes)", res->removed,
			 res->removed == 1 ? "" : "s", po->dir, (unsigned long long)res->bytes_freed);
		prune_report(po, res, &a->node, a->boot_id, sink_emit, a->sink);
	}
}

static void on_prune_timer(struct loop *loop, uint64_t id, void *data)
{
	struct agent *a = data;
	uint32_t period = a->cfg.prune_after_s;
	dev_t dev;
	ino_t ino;
	int r;

	period = period < PRUNE_PERIOD_MIN_S ? PRUNE_PERIOD_MIN_S : period > PRUNE_PERIOD_MAX_S ? PRUNE_PERIOD_MAX_S : period;
	a->prune_timer = loop_timer_add(loop, (uint64_t)period * 1000, on_prune_timer, a);
	writer_file_id(a->writer, &dev, &ino);
	r = pruner_run(a->pruner, clock_ns(CLOCK_REALTIME), dev, ino);
	if (r < 0)
		log_warn("failed to look for earlier pods' record files in %s: %s, ignoring", a->cfg.output_dir,
			 r == -EBUSY ? "the last look is not done yet (a stalled disk?)" : strerror(-r));
}

/* ---- setup ---- */

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

static enum aio_mode parse_io(const char *s)
{
	if (strcmp(s, "io_uring") == 0)
		return AIO_URING;
	if (strcmp(s, "write") == 0)
		return AIO_THREAD;
	return AIO_AUTO;
}

/* --output stdout: bare JSON lines on fd 1, which the runtime stores under --pod-logs-dir; what
 * earlier instances of this container wrote is read back from there. */
static int setup_output_stdout(struct agent *a)
{
	struct writer_options wo = { .stream_name = "stdout", .stream_fd = STDOUT_FILENO, .loop = a->loop,
				     .aio = a->aio };
	char dir[8600];
	const char *detail = NULL;
	int r;

	/* a runtime that stops reading is an error to retry (EPIPE), not the agent's death */
	signal(SIGPIPE, SIG_IGN);
	r = writer_new(&wo, &a->writer, &detail);
	if (r < 0) {
		log_error("cannot write records to stdout: %s (%s)", strerror(-r), detail ? detail : "open");
		return r;
	}
	r = sink_new(a->writer, RECENT_IDS, &a->sink);
	if (r < 0)
		return r;
	snprintf(dir, sizeof(dir), "%s/%s_%s_%s/%s", a->cfg.pod_logs_dir, a->cfg.pod_namespace, a->cfg.pod_name,
		 a->cfg.pod_uid, a->cfg.container_name);
	/* the previous instance's files (its rotated one too) and the current one, oldest first */
	r = history_read_runtime_dir(dir, 4, HISTORY_BYTES, sink_ids(a->sink), &a->previous);
	if (r < 0)
		log_info("records go to stdout; nothing read back from %s (%s): without it a restart may write "
			 "again what the previous run wrote (mount the host's /var/log/pods read-only there)",
			 dir, strerror(-r));
	else
		log_info("records go to stdout; read back %d of the runtime's files in %s", r, dir);
	return 0;
}

/* --output file: the record file and the sink; then what earlier runs wrote (kill -9
 * included): seq continues after the highest one, and facts already
 * written are not written again. Oldest file first: the newest rotated
 * one, then the active one. */
static int setup_output_file(struct agent *a)
{
	struct writer_options wo = { 0 };
	char file_name[256], pattern[4400], path[4400];
	const char *detail = NULL;
	glob_t g;
	int r;

	r = config_output_file_name(&a->cfg, file_name, sizeof(file_name));
	if (r < 0) {
		log_error("output file name from POD_NAME/POD_NAMESPACE/CONTAINER_NAME is too long (max 255 bytes)");
		return r;
	}
	wo.dir = a->cfg.output_dir;
	wo.file_name = file_name;
	wo.max_bytes = a->cfg.max_file_bytes;
	wo.keep_rotated = a->cfg.keep_rotated;
	wo.loop = a->loop;
	wo.aio = a->aio;
	r = writer_new(&wo, &a->writer, &detail);
	if (r < 0) {
		log_error("cannot write records to %s/%s: %s (%s): mount the host's /var/log/containers read-write there or pass --output-dir",
			  a->cfg.output_dir, file_name, strerror(-r), detail ? detail : "open");
		return r;
	}
	r = sink_new(a->writer, RECENT_IDS, &a->sink);
	if (r < 0)
		return r;
	snprintf(pattern, sizeof(pattern), "%s/%s.*", a->cfg.output_dir, file_name);
	if (glob(pattern, 0, NULL, &g) == 0) {
		/* names end in YYYYMMDD-hhmmss: the last in sort order is the newest */
		history_read_file(g.gl_pathv[g.gl_pathc - 1], HISTORY_BYTES, sink_ids(a->sink), &a->previous);
		globfree(&g);
	}
	snprintf(path, sizeof(path), "%s/%s", a->cfg.output_dir, file_name);
	history_read_file(path, HISTORY_BYTES, sink_ids(a->sink), &a->previous);
	return 0;
}

static int setup_output(struct agent *a)
{
	int r = strcmp(a->cfg.output, "stdout") == 0 ? setup_output_stdout(a) : setup_output_file(a);

	if (r < 0)
		return r;
	sink_continue_after(a->sink, a->previous.last_seq);
	if (a->previous.found)
		log_info("continuing after seq %llu (%llu records read back, previous run %s)",
			 (unsigned long long)a->previous.last_seq, (unsigned long long)a->previous.records,
			 a->previous.clean_stop ? "stopped cleanly" : "did not stop cleanly");
	return 0;
}

static int setup_probes(struct agent *a)
{
	struct probes_options po = { 0 };
	int r;

	if (a->cfg.bpf == CONFIG_OFF) {
		snprintf(a->bpf_reason, sizeof(a->bpf_reason), "disabled by --bpf off");
		return 0;
	}
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
	return 0;
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

static int fetch_with_kube(void *fctx, const char *ns, const char *resource, const char *field_selector,
			   kube_fetch_done done, void *ctx)
{
	return kube_client_fetch(fctx, ns, resource, field_selector, done, ctx);
}

#define POD_EVENTS_TICK_MS 5000

static void on_pod_events_timer(struct loop *loop, uint64_t id, void *data)
{
	struct agent *a = data;

	a->pod_events_timer = loop_timer_add(loop, POD_EVENTS_TICK_MS, on_pod_events_timer, a);
	pod_events_tick(a->pod_events);
}

/* a pod's events, for why the kubelet stopped one of its containers */
static bool explain_kill(void *ctx, const struct kube_pod *pod)
{
	struct agent *a = ctx;

	return a->pod_events && pod_events_explain(a->pod_events, pod);
}

static void observe_pod_event(void *ctx, const char *pod_uid, const struct kube_event_obj *e)
{
	struct agent *a = ctx;

	if (a->correlator)
		correlator_pod_event(a->correlator, pod_uid, e);
}

/* troubled pods' events, listed through the API client */
static int setup_pod_events(struct agent *a)
{
	struct pod_events_options po = { .node = &a->node, .emit = sink_emit, .emit_ctx = a->sink,
					 .fetch = fetch_with_kube, .fetch_ctx = a->kube,
					 .trouble_after_ns = (int64_t)a->cfg.pod_trouble_after_s * 1000000000LL,
					 .observe = observe_pod_event, .observe_ctx = a };
	int r;

	if (!a->cfg.pod_trouble_after_s)
		return 0;
	if ((r = pod_events_new(&po, &a->pod_events)) < 0)
		return r;
	a->pod_events_timer = loop_timer_add(a->loop, POD_EVENTS_TICK_MS, on_pod_events_timer, a);
	return 0;
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
	if (!a->http && (r = http_new(a->loop, &a->http)) < 0)
		return r;
	ko.server = a->api_server;
	ko.token_file = a->cfg.token_file;
	ko.ca_file = a->cfg.ca_file;
	ko.node_name = a->cfg.node_name;
	ko.loop = a->loop;
	ko.http = a->http;
	ko.state = a->node_state;
	ko.dead_after_s = a->cfg.api_dead_after_s;
	ko.synced = on_api_synced;
	ko.ctx = a;
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
	return setup_pod_events(a);
}

static int setup_imds(struct agent *a)
{
	struct imds_options io = { 0 };
	int r;

	if (a->cfg.imds == CONFIG_OFF)
		return 0;
	if (!a->http && (r = http_new(a->loop, &a->http)) < 0)
		return r;
	io.endpoint = a->cfg.imds_endpoint;
	io.mode = a->cfg.imds;
	io.http = a->http;
	io.interruption = a->interruption;
	io.state = a->node_state;
	io.node = &a->node;
	io.poll_s = a->cfg.imds_poll_s;
	io.loop = a->loop;
	io.recheck_s = a->cfg.imds_recheck_s;
	io.changed = on_imds_changed;
	io.ctx = a;
	return imds_new(&io, &a->imds);
}

/* The API side: node state and the interruption first (IMDS needs them
 * without the API too), then the watches and IMDS. */
static int setup_api_side(struct agent *a)
{
	struct interruption_options io = { .node = &a->node, .emit = sink_emit, .emit_ctx = a->sink,
					   .armed = on_interruption, .due = on_interruption_due,
					   .ended = on_interruption_ended, .boot_id = a->boot_id, .ctx = a,
					   .drain_lead_ns = (int64_t)a->cfg.drain_lead_s * 1000000000LL,
					   .loop = a->loop };
	struct node_state_options no = { .node = &a->node, .emit = sink_emit };
	int r;

	r = interruption_new(&io, &a->interruption);
	if (r < 0)
		return r;
	no.emit_ctx = a->sink;
	no.interruption = a->interruption;
	r = node_state_new(&no, &a->node_state);
	if (r == 0)
		r = setup_api(a);
	if (r == 0)
		r = setup_imds(a);
	return r;
}

static int setup_join(struct agent *a)
{
	struct correlate_options co = { 0 };
	struct node_state_observer observer;
	int r;

	co.node = &a->node;
	co.boot_id = a->boot_id;
	co.api = a->kube ? a->node_state : NULL;
	co.interruption = a->interruption;
	co.join_window_ms = a->cfg.join_window_ms;
	co.loop = a->loop;
	co.mode = &a->mode;
	co.probes = a->probes;
	co.bpf_off = !a->probes;
	co.exec_args = strcmp(a->cfg.exec_args, "on") == 0;
	co.exec_args_redact = a->exec_args_redact_set ? &a->exec_args_redact : NULL;
	co.max_cgroups = a->cfg.cgroup_map_max;
	co.emit = sink_emit;
	co.emit_ctx = a->sink;
	co.explain = explain_kill;
	co.explain_ctx = a;
	r = correlator_new(&co, &a->correlator);
	if (r < 0) {
		log_error("out of memory");
		return r;
	}
	observer = (struct node_state_observer){ .pod_changed = observe_pod, .pod_ended = observe_end,
						 .condition_changed = observe_condition, .ctx = a };
	node_state_set_observer(a->node_state, &observer);
	if (a->probes) {
		r = correlator_scan(a->correlator);
		if (r < 0)
			log_warn("startup scan of %s failed: %s, ignoring", a->mode.dir, strerror(-r));
		else
			log_info("startup scan: %d Kubernetes cgroups under %s", r, a->mode.dir);
	}
	return 0;
}

static int setup(struct agent *a)
{
	char err[512];
	int r;

	r = loop_new(&a->loop);
	if (r < 0)
		return r;
	r = aio_new(a->loop, parse_io(a->cfg.io), &a->aio);
	if (r < 0) {
		log_error("--io %s: io_uring refused (%s): the kernel or a seccomp profile does not allow it; use --io auto",
			  a->cfg.io, strerror(-r));
		return r;
	}
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
	a->node.node_name = a->cfg.node_name;
	a->node.emf = !strcmp(a->cfg.emf, "node")    ? RECORD_EMF_NODE :
		      !strcmp(a->cfg.emf, "cluster") ? RECORD_EMF_CLUSTER :
						       RECORD_EMF_OFF;
	r = cgroup_detect_mode(a->cfg.cgroup_root, &a->mode, err, sizeof(err));
	if (r < 0) {
		log_error("%s", err);
		return r;
	}
	r = setup_output(a);
	if (r < 0)
		return r;
	r = mkdir_p(a->cfg.state_dir);
	if (r < 0) {
		log_error("cannot create state dir %s: %s: mount a writable hostPath there or pass --state-dir",
			  a->cfg.state_dir, strerror(-r));
		return r;
	}
	r = checkpoint_saver_new(a->cfg.state_dir, a->aio, on_checkpoint_written, a, &a->ck.saver);
	if (r < 0)
		return r;
	load_checkpoint(a);
	r = setup_probes(a);
	if (r == 0)
		r = setup_api_side(a);
	if (r == 0)
		r = setup_join(a);
	if (r < 0)
		return r;
	restore_checkpoint(a);
	/* loading the probes parsed the kernel's BTF (megabytes, freed since): give it back */
	trim_heap();
	return 0;
}

int agent_new(const struct config *cfg, struct agent **ret)
{
	struct agent *a = calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	a->signal_fd = -1;
	r = setup(a);
	if (r < 0) {
		agent_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

void agent_free(struct agent *a)
{
	if (!a)
		return;
	metrics_server_free(a->metrics);
	imds_free(a->imds);
	kube_client_free(a->kube); /* cancels the pod event lists in flight: before pod_events_free */
	pod_events_free(a->pod_events);
	loop_timer_del(a->loop, a->pod_events_timer);
	http_free(a->http);
	correlator_free(a->correlator);
	node_state_free(a->node_state);
	interruption_free(a->interruption);
	probes_free(a->probes);
	sink_free(a->sink);
	writer_free(a->writer);
	checkpoint_saver_free(a->ck.saver);
	loop_timer_del(a->loop, a->status_timer);
	loop_timer_del(a->loop, a->prune_timer);
	pruner_free(a->pruner);
	loop_timer_del(a->loop, a->ck.timer);
	aio_free(a->aio);
	if (a->signal_fd >= 0)
		close(a->signal_fd);
	loop_free(a->loop);
	cJSON_Delete(a->ck.taken);
	if (a->exec_args_redact_set)
		regfree(&a->exec_args_redact);
	free(a);
}

/* ---- run ---- */

static bool ready_cb(void *ctx, char *why, size_t len)
{
	return is_ready(ctx, why, len);
}

static void render_metrics(void *ctx, FILE *out)
{
	struct agent_stats s;

	snapshot(ctx, &s);
	stats_prometheus(&s, out);
	correlator_probe_metrics(((struct agent *)ctx)->correlator, out);
}

static int setup_metrics(struct agent *a)
{
	struct metrics_options mo = { .addr = a->cfg.metrics_addr, .ready = ready_cb, .render = render_metrics, .ctx = a };
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

/* Earlier pods' record files: the first look in the loop's first turn, after the started status. */
static int setup_pruner(struct agent *a)
{
	const char *path = writer_path(a->writer), *slash = strrchr(path, '/');
	struct prune_options po = { .dir = a->cfg.output_dir, .live_name = slash ? slash + 1 : path,
				    .pod_name = a->cfg.pod_name, .pod_namespace = a->cfg.pod_namespace,
				    .container_name = a->cfg.container_name, .older_than_s = a->cfg.prune_after_s };
	int r = pruner_new(a->aio, &po, on_pruned, a, &a->pruner);

	if (r < 0)
		return r;
	return (a->prune_timer = loop_timer_add(a->loop, 0, on_prune_timer, a)) ? 0 : -ENOMEM;
}

static int start(struct agent *a)
{
	sigset_t mask;
	int r;

	sigemptyset(&mask);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	a->signal_fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (a->signal_fd < 0)
		return -errno;
	r = loop_add_fd(a->loop, a->signal_fd, EPOLLIN, on_signal, a);
	if (r == 0 && a->probes)
		r = loop_add_fd(a->loop, probes_fd(a->probes), EPOLLIN, on_ringbuf, a);
	if (r == 0 && a->probes && !(a->ringbuf_timer = loop_timer_add(a->loop, PROBES_BACKSTOP_MS, on_ringbuf_timer, a)))
		r = -ENOMEM;
	if (r == 0 && a->probes && !(a->reconcile_timer = loop_timer_add(a->loop, RECONCILE_MS, on_reconcile_timer, a)))
		r = -ENOMEM;
	if (r == 0 && a->cfg.status_interval_s &&
	    !(a->status_timer = loop_timer_add(a->loop, (uint64_t)a->cfg.status_interval_s * 1000, on_status_timer, a)))
		r = -ENOMEM;
	/* --output stdout: the runtime's files are the kubelet's to rotate and delete */
	if (r == 0 && a->cfg.prune_after_s && strcmp(a->cfg.output, "file") == 0)
		r = setup_pruner(a);
	if (r == 0)
		r = setup_metrics(a);
	loop_set_before_sleep(a->loop, before_sleep, a);
	return r;
}

/* At stop: no new look for earlier pods' files; the one in flight tells its deletions before the
 * stopping status, which stays the run's last record. */
static void finish_pruning(struct agent *a)
{
	int64_t end = clock_ns(CLOCK_MONOTONIC) + PRUNE_AT_STOP_MS * 1000000LL;

	loop_timer_del(a->loop, a->prune_timer);
	a->prune_timer = 0;
	while (a->pruner && !pruner_idle(a->pruner) && clock_ns(CLOCK_MONOTONIC) < end)
		loop_run_once(a->loop, 100);
	if (a->pruner && !pruner_idle(a->pruner))
		log_warn("the look for earlier pods' record files in %s did not finish before stop: what it deletes is not recorded",
			 a->cfg.output_dir);
}

/* At stop: the last records and the checkpoint reach the disk, or the
 * time runs out (a disk that stays stalled). */
static int drain(struct agent *a)
{
	int64_t end = clock_ns(CLOCK_MONOTONIC) + DRAIN_AT_STOP_MS * 1000000LL;
	int r;

	writer_sync(a->writer);
	r = writer_drain(a->writer, DRAIN_AT_STOP_MS);
	while ((!checkpoint_saver_idle(a->ck.saver) || !aio_idle(a->aio)) && clock_ns(CLOCK_MONOTONIC) < end)
		loop_run_once(a->loop, 100);
	if (!checkpoint_saver_idle(a->ck.saver))
		log_error("the checkpoint in %s was not written in %d s", a->cfg.state_dir, DRAIN_AT_STOP_MS / 1000);
	return r;
}

int agent_run(struct agent *a)
{
	int r = start(a);

	if (r < 0)
		return r;
	emit_status(a, "started");
	log_info("started: node %s, records in %s, eBPF %s", a->cfg.node_name, writer_path(a->writer),
		 a->probes ? probes_attach_mode(a->probes) : "off");
	loop_run(a->loop);

	/* drain what the kernel already produced, then say goodbye */
	if (a->probes)
		probes_consume(a->probes, false);
	correlator_flush(a->correlator);
	finish_pruning(a);
	report_drain(a, "at agent stop, before the deadline", false);
	emit_status(a, "stopping");
	save_checkpoint(a, true);
	r = drain(a);
	if (r < 0)
		log_error("failed to write the last records to %s: %s", writer_path(a->writer), strerror(-r));
	return r;
}

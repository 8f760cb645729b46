/* Correlator benchmark: 10,000 pod lifecycles through the node state, the
 * correlator, the encoder and the writer, 110 pods on the node at a time,
 * as the agent wires them (no kernel: the probe events are synthesised, the
 * API objects are parsed from JSON as the watch delivers them).
 *
 * Measures, each against a baseline taken in the same run:
 *  - latency of a joined record, from the moment its second side (the API's
 *    container status) arrives to the line being in the file (its write
 *    completed, through the loop as the agent does it), p50/p99, against the
 *    writer alone (encode + append + write of one line);
 *  - records/s through the whole path, against the writer alone;
 *  - RSS at idle, with 110 pods, and every 1,000 lifecycles (flat = no leak).
 * Prints a Markdown table and writes JSON to argv[1] (default stdout only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nodetrail/api/node_state.h"
#include "nodetrail/base/clock.h"
#include "nodetrail/join/correlate.h"
#include "nodetrail/out/encode.h"
#include "nodetrail/out/writer.h"

#define PODS 110
#define LIFECYCLES 10000
#define ENCODE_BUF (64 * 1024)

static struct writer *writer;
static struct loop *loop;
static struct aio *aio;
static char *encode_buf;
static uint64_t records, seq;

/* a field of /proc/self/status in KiB: VmRSS, or RssAnon (the private part, without library pages) */
static long status_kib(const char *field)
{
	char line[256], fmt[64];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	snprintf(fmt, sizeof(fmt), "%s: %%ld", field);
	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, fmt, &kib) == 1)
			break;
	if (f)
		fclose(f);
	return kib;
}

static long rss_kib(void)
{
	return status_kib("VmRSS");
}

/* what the sink does, minus the dedup set */
static void emit(void *ctx, struct record *r)
{
	int n;

	r->seq = ++seq;
	n = record_encode(r, encode_buf, ENCODE_BUF);
	if (n > 0 && writer_append(writer, clock_ns(CLOCK_REALTIME), encode_buf, (size_t)n) == 0)
		records++;
}

static struct node_state *ns;
static struct correlator *corr;

static void kernel(struct nt_event_hdr *hdr, uint32_t type, size_t size, uint64_t cgroup_id, uint32_t tgid)
{
	hdr->type = type;
	hdr->size = (uint32_t)size;
	hdr->ts_ns = (uint64_t)clock_ns(CLOCK_BOOTTIME);
	hdr->cgroup_id = cgroup_id;
	hdr->pid = hdr->tgid = tgid;
	correlator_kernel_event(corr, hdr);
}

static void cgroup_ev(uint32_t type, uint64_t id, uint64_t parent, const char *path)
{
	struct nt_cgroup_event ev = { 0 };

	ev.parent_id = parent;
	ev.parent_tracked = 1;
	snprintf(ev.path, sizeof(ev.path), "%s", path);
	kernel(&ev.hdr, type, sizeof(ev), id, 0);
}

struct pod {
	char uid[40], cid[65], path[256];
	uint64_t pod_cg, ctr_cg;
	uint32_t tgid;
};

static void api(enum kube_event_type type, const struct pod *p, const char *state, const char *extra_status)
{
	char json[4096], now[CLOCK_TEXT_LEN];
	cJSON *o;

	clock_format(clock_ns(CLOCK_REALTIME), now);
	snprintf(json, sizeof(json),
		 "{\"metadata\":{\"uid\":\"%s\",\"name\":\"web-%s\",\"namespace\":\"shop\",\"resourceVersion\":\"1\","
		 "\"ownerReferences\":[{\"kind\":\"ReplicaSet\",\"name\":\"web\"}]},"
		 "\"spec\":{\"nodeName\":\"bench-node\",\"terminationGracePeriodSeconds\":30,"
		 "\"containers\":[{\"name\":\"app\",\"image\":\"shop/web:1\",\"resources\":{\"limits\":{\"memory\":\"256Mi\"}}}]},"
		 "\"status\":{\"phase\":\"Running\",\"qosClass\":\"Burstable\",\"conditions\":[{\"type\":\"PodScheduled\","
		 "\"status\":\"True\",\"lastTransitionTime\":\"%s\"}%s],\"containerStatuses\":[{\"name\":\"app\","
		 "\"containerID\":\"containerd://%s\",\"restartCount\":0,\"state\":%s}]}}",
		 p->uid, p->uid + 28, now, extra_status, p->cid, state);
	o = cJSON_Parse(json);
	node_state_apply(ns, KUBE_PODS, type, o);
	cJSON_Delete(o);
}

static int cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(int64_t *v, size_t n, double p)
{
	qsort(v, n, sizeof(*v), cmp);
	return (double)v[(size_t)(p * (double)(n - 1))] / 1000.0;
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/nt-bench-correlator-XXXXXX", cmd[128], ready[512], now[CLOCK_TEXT_LEN];
	struct writer_options wo = { 0 };
	struct node_state_options no = { 0 };
	struct correlate_options co = { 0 };
	struct cgroup_mode mode = { .name = "v1" };
	struct record_node node = { .node_name = "bench-node", .cluster_name = "bench" };
	struct node_state_observer observer;
	static struct pod pods[PODS];
	int64_t *lat = calloc(LIFECYCLES, sizeof(int64_t)), *base_lat = calloc(LIFECYCLES, sizeof(int64_t));
	long rss_idle, rss_110 = 0, rss_at[LIFECYCLES / 1000 + 1], anon_end;
	uint64_t next_cg = 1000, base_records;
	int64_t t0, t_pipeline, t_base;
	size_t nlat = 0;
	FILE *out;

	encode_buf = malloc(ENCODE_BUF);
	if (!mkdtemp(dir) || !encode_buf || !lat || !base_lat)
		return 1;
	wo.dir = dir;
	wo.file_name = "bench.log";
	no.node = &node;
	no.emit = emit;
	no.max_pods = 256;
	co.node = &node;
	co.boot_id = "bench";
	co.mode = &mode;
	co.max_cgroups = 16384;
	co.join_window_ms = 5000;
	co.emit = emit;
	if (loop_new(&loop) < 0 || aio_new(loop, AIO_AUTO, &aio) < 0)
		return 1;
	wo.loop = loop;
	wo.aio = aio;
	if (writer_new(&wo, &writer, NULL) < 0 || node_state_new(&no, &ns) < 0)
		return 1;
	co.api = ns;
	if (correlator_new(&co, &corr) < 0)
		return 1;
	observer = correlator_observer(corr);
	node_state_set_observer(ns, &observer);
	node_state_relist_begin(ns, KUBE_PODS);
	node_state_relist_end(ns, KUBE_PODS);
	cgroup_ev(NT_EV_CGROUP_MKDIR, 10, 1, "/kubepods");
	cgroup_ev(NT_EV_CGROUP_MKDIR, 11, 10, "/kubepods/burstable");
	rss_idle = rss_kib();

	t0 = clock_ns(CLOCK_MONOTONIC);
	for (int done = 0; done < LIFECYCLES; done += PODS) {
		int batch = LIFECYCLES - done < PODS ? LIFECYCLES - done : PODS;

		/* scheduled, sandbox-less for brevity: pod cgroup, container cgroup, first exec, Ready */
		for (int i = 0; i < batch; i++) {
			struct pod *p = &pods[i];
			unsigned n = (unsigned)(done + i);

			snprintf(p->uid, sizeof(p->uid), "0f3c2a9e-5b7d-4e21-9a1c-%012x", n);
			snprintf(p->cid, sizeof(p->cid), "%064x", n + 1);
			p->pod_cg = next_cg++;
			p->ctr_cg = next_cg++;
			p->tgid = 100000 + n;
			snprintf(p->path, sizeof(p->path), "/kubepods/burstable/pod%.36s", p->uid);
			cgroup_ev(NT_EV_CGROUP_MKDIR, p->pod_cg, 11, p->path);
			strcat(p->path, "/");
			strcat(p->path, p->cid);
			cgroup_ev(NT_EV_CGROUP_MKDIR, p->ctr_cg, p->pod_cg, p->path);
			api(KUBE_EV_ADDED, p, "{\"running\":{}}", "");
			{
				struct nt_exec_event ev = { 0 };

				ev.first = ev.from_outside = 1;
				snprintf(ev.comm, sizeof(ev.comm), "web");
				snprintf(ev.filename, sizeof(ev.filename), "/usr/bin/web");
				kernel(&ev.hdr, NT_EV_EXEC, sizeof(ev), p->ctr_cg, p->tgid);
			}
			snprintf(ready, sizeof(ready), ",{\"type\":\"Ready\",\"status\":\"True\",\"lastTransitionTime\":\"%s\"}",
				 clock_format(clock_ns(CLOCK_REALTIME), now));
			api(KUBE_EV_MODIFIED, p, "{\"running\":{}}", ready);
			writer_drain(writer, 5000);
		}
		if (!rss_110)
			rss_110 = rss_kib();
		/* evicted: SIGTERM, exit, the API's status (the joined record), deletion, cgroups gone */
		for (int i = 0; i < batch; i++) {
			struct pod *p = &pods[i];
			struct nt_signal_event sig = { .sig = 15, .sender_tgid = 1 };
			struct nt_exit_event ex = { .exit_code = 143 << 8 };
			char term[256];
			int64_t t;

			snprintf(sig.sender_comm, sizeof(sig.sender_comm), "containerd-shim");
			kernel(&sig.hdr, NT_EV_SIGNAL, sizeof(sig), p->ctr_cg, p->tgid);
			snprintf(ex.comm, sizeof(ex.comm), "web");
			kernel(&ex.hdr, NT_EV_EXIT, sizeof(ex), p->ctr_cg, p->tgid);
			snprintf(term, sizeof(term), "{\"terminated\":{\"exitCode\":143,\"reason\":\"Error\",\"containerID\":\"containerd://%s\"}}",
				 p->cid);
			t = clock_ns(CLOCK_MONOTONIC);
			api(KUBE_EV_MODIFIED, p, term, "");
			writer_drain(writer, 5000);
			lat[nlat++] = clock_ns(CLOCK_MONOTONIC) - t;
			api(KUBE_EV_DELETED, p, term, "");
			cgroup_ev(NT_EV_CGROUP_RMDIR, p->ctr_cg, p->pod_cg, "");
			cgroup_ev(NT_EV_CGROUP_RMDIR, p->pod_cg, 11, "");
			writer_drain(writer, 5000);
			correlator_tick(corr);
			if ((done + i + 1) % 1000 == 0)
				rss_at[(done + i + 1) / 1000] = rss_kib();
		}
	}
	t_pipeline = clock_ns(CLOCK_MONOTONIC) - t0;

	/* baseline: the same number of lines, encoded and written one by one */
	base_records = records;
	{
		struct record r = { .type = RECORD_CONTAINER_EXITED, .node = &node, .summary = "baseline" };
		cJSON *k = cJSON_Parse("{\"pid\":1,\"comm\":\"web\",\"exit_code\":143}");

		r.detail_key = "kernel";
		r.detail = k;
		t0 = clock_ns(CLOCK_MONOTONIC);
		for (uint64_t i = 0; i < base_records; i++) {
			int64_t t = clock_ns(CLOCK_MONOTONIC);

			emit(NULL, &r);
			writer_drain(writer, 5000);
			if (i < LIFECYCLES)
				base_lat[i] = clock_ns(CLOCK_MONOTONIC) - t;
		}
		t_base = clock_ns(CLOCK_MONOTONIC) - t0;
		cJSON_Delete(k);
	}
	{
		double rps = (double)base_records / ((double)t_pipeline / 1e9), base_rps = (double)base_records / ((double)t_base / 1e9);
		double p50 = pct(lat, nlat, 0.50), p99 = pct(lat, nlat, 0.99);
		double b50 = pct(base_lat, LIFECYCLES, 0.50), b99 = pct(base_lat, LIFECYCLES, 0.99);
		struct correlate_stats cs;

		correlator_get_stats(corr, &cs);
		printf("| measure | nodetrail (node state + correlator + encoder + writer) | baseline (encoder + writer) | ratio |\n");
		printf("| --- | ---: | ---: | ---: |\n");
		printf("| joined record, second side in -> line in file, p50 | %.1f us | %.1f us | %.2f |\n", p50, b50, p50 / b50);
		printf("| same, p99 | %.1f us | %.1f us | %.2f |\n", p99, b99, p99 / b99);
		printf("| records/s (%llu records, 110 pods on the node) | %.0f | %.0f | %.2f |\n",
		       (unsigned long long)base_records, rps, base_rps, rps / base_rps);
		printf("\n| RSS | KiB | ratio to 1,000 lifecycles |\n| --- | ---: | ---: |\n");
		anon_end = status_kib("RssAnon");
		printf("| idle | %ld | |\n| 110 pods running | %ld | |\n", rss_idle, rss_110);
		for (int i = 1; i <= LIFECYCLES / 1000; i++)
			printf("| after %d lifecycles | %ld | %.3f |\n", i * 1000, rss_at[i], (double)rss_at[i] / (double)rss_at[1]);
		printf("\nprivate (anonymous) RSS at the end: %ld KiB; the rest is shared library pages\n", anon_end);
		printf("joined %llu, unconfirmed %llu, pending now %llu, containers tracked now %llu\n",
		       (unsigned long long)cs.joined, (unsigned long long)cs.unconfirmed, (unsigned long long)cs.pending,
		       (unsigned long long)cs.containers);
		out = argc > 1 ? fopen(argv[1], "w") : NULL;
		if (out) {
			fprintf(out, "{\"lifecycles\":%d,\"pods\":%d,\"records\":%llu,\"latency_us\":{\"p50\":%.1f,\"p99\":%.1f,"
				     "\"baseline_p50\":%.1f,\"baseline_p99\":%.1f},\"records_per_s\":%.0f,\"baseline_records_per_s\":%.0f,"
				     "\"rss_kib\":{\"idle\":%ld,\"pods_110\":%ld,\"after_1000\":%ld,\"after_10000\":%ld},"
				     "\"joined\":%llu,\"unconfirmed\":%llu}\n",
				LIFECYCLES, PODS, (unsigned long long)base_records, p50, p99, b50, b99, rps, base_rps, rss_idle,
				rss_110, rss_at[1], rss_at[LIFECYCLES / 1000], (unsigned long long)cs.joined,
				(unsigned long long)cs.unconfirmed);
			fclose(out);
		}
	}
	correlator_free(corr);
	node_state_free(ns);
	writer_free(writer);
	aio_free(aio);
	loop_free(loop);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	/* not timings: what must hold however fast the machine is */
	if (records != 3ULL * LIFECYCLES * 2) {
		fprintf(stderr, "bench-correlator: FAIL: %llu records, want 3 per lifecycle (+ baseline)\n",
			(unsigned long long)records);
		return 1;
	}
	if (rss_at[LIFECYCLES / 1000] > rss_at[1] + rss_at[1] / 4) {
		fprintf(stderr, "bench-correlator: FAIL: RSS grew from %ld to %ld KiB: something is not freed\n",
			rss_at[1], rss_at[LIFECYCLES / 1000]);
		return 1;
	}
	return 0;
}

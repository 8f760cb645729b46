/* The option table and its parser. */
#include <errno.h>
#include <getopt.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <openssl/evp.h>

#include "nodetrail/base/config.h"
#include "nodetrail/base/log.h"

#ifndef NODETRAIL_VERSION
#define NODETRAIL_VERSION "0.1.0"
#endif

enum opt_type { OPT_STRING, OPT_MODE, OPT_U32, OPT_SIZE };

struct option_def {
	const char *name;         /* long flag without dashes */
	const char *env;          /* environment variable, NULL for none */
	const char *def;          /* default as text; NULL: computed (see help) */
	const char *help;
	enum opt_type type;
	size_t offset;            /* into struct config */
	size_t size;              /* buffer size for strings */
	const char *choices;      /* "a|b|c" for enums checked by value */
};

#define STR(field) OPT_STRING, offsetof(struct config, field), sizeof(((struct config *)0)->field)
#define U32(field) OPT_U32, offsetof(struct config, field), sizeof(uint32_t)
#define SIZE(field) OPT_SIZE, offsetof(struct config, field), sizeof(uint64_t)
#define MODE(field) OPT_MODE, offsetof(struct config, field), sizeof(enum config_mode)

static const struct option_def options[] = {
	{ "node-name", "NODE_NAME", NULL, "this node's name (default: the hostname)", STR(node_name), NULL },
	{ "cluster-name", "CLUSTER_NAME", "", "cluster name written as ClusterName", STR(cluster_name), NULL },
	{ "output", "NODETRAIL_OUTPUT", "file",
	  "where records go: file (a CRI-format file of the agent's own in --output-dir, rotated by the agent) or "
	  "stdout (one JSON record a line on the agent's stdout, which the container runtime stores under "
	  "/var/log/pods, for collectors that read only there; the agent's own log stays on stderr)",
	  STR(output), "file|stdout" },
	{ "output-dir", "NODETRAIL_OUTPUT_DIR", "/var/log/containers",
	  "directory of the CRI-format record file (--output file)", STR(output_dir), NULL },
	{ "pod-logs-dir", "NODETRAIL_POD_LOGS_DIR", "/var/log/pods",
	  "with --output stdout: where the runtime stores containers' output; the agent reads back its own "
	  "(<namespace>_<pod>_<uid>/<CONTAINER_NAME>/) so that a restart neither reuses a seq nor writes a fact twice",
	  STR(pod_logs_dir), NULL },
	{ "state-dir", "NODETRAIL_STATE_DIR", "/var/lib/nodetrail",
	  "directory of the checkpoint (open timelines, pending joins, the open interruption, pods last known); "
	  "created at start", STR(state_dir), NULL },
	{ "checkpoint-interval", "NODETRAIL_CHECKPOINT_INTERVAL", "2",
	  "seconds between checkpoint writes when something changed (also at an interruption and at stop)",
	  U32(checkpoint_interval_s), NULL },
	{ "cgroup-root", "NODETRAIL_CGROUP_ROOT", "/sys/fs/cgroup", "cgroupfs mount point", STR(cgroup_root),
	  NULL },
	{ "bpf", "NODETRAIL_BPF", "auto",
	  "eBPF probes: on (fail without them), auto (run without them and say so), off", MODE(bpf),
	  "auto|on|off" },
	{ "api", "NODETRAIL_API", "auto",
	  "Kubernetes API watches: on (fail without), auto (in a cluster or with --api-server), off", MODE(api),
	  "auto|on|off" },
	{ "api-server", "NODETRAIL_API_SERVER", "",
	  "API server URL (https only); in a pod: from KUBERNETES_SERVICE_HOST/PORT", STR(api_server), NULL },
	{ "token-file", "NODETRAIL_TOKEN_FILE", "/var/run/secrets/kubernetes.io/serviceaccount/token",
	  "bearer token file, re-read every minute and on a 401", STR(token_file), NULL },
	{ "ca-file", "NODETRAIL_CA_FILE", "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt",
	  "CA bundle the API server's certificate is verified against (always verified)", STR(ca_file), NULL },
	{ "api-dead-after", "NODETRAIL_API_DEAD_AFTER", "120",
	  "seconds without a byte (not even a bookmark) before a watch is reconnected", U32(api_dead_after_s),
	  NULL },
	{ "imds", "NODETRAIL_IMDS", "auto",
	  "EC2 instance metadata (IMDSv2): on, auto (off while the token request is refused or times out, i.e. not "
	  "on EC2; other errors are retried), off", MODE(imds),
	  "auto|on|off" },
	{ "imds-endpoint", "NODETRAIL_IMDS_ENDPOINT", "http://169.254.169.254", "IMDS base URL",
	  STR(imds_endpoint), NULL },
	{ "imds-poll", "NODETRAIL_IMDS_POLL", "2", "seconds between polls of spot, rebalance and maintenance notices",
	  U32(imds_poll_s), NULL },
	{ "imds-recheck", "NODETRAIL_IMDS_RECHECK", "300",
	  "with --imds auto, after the token request was refused (not on EC2): seconds between asking again",
	  U32(imds_recheck_s), NULL },
	{ "drain-lead", "NODETRAIL_DRAIN_LEAD", "15",
	  "seconds before an interruption's deadline when its drain report is written (Fluent Bit ships it before "
	  "the instance goes); a final one follows at the deadline", U32(drain_lead_s), NULL },
	{ "pod-trouble-after", "NODETRAIL_POD_TROUBLE_AFTER", "60",
	  "seconds a pod may stay Pending before its events are listed and written as pod.event (a container "
	  "in CrashLoopBackOff, ImagePullBackOff... at once); 0: never list pod events",
	  U32(pod_trouble_after_s), NULL },
	{ "join-window", "NODETRAIL_JOIN_WINDOW_MS", "5000",
	  "milliseconds a container record waits for the API's status of the container (with --api)",
	  U32(join_window_ms), NULL },
	{ "log-level", "NODETRAIL_LOG_LEVEL", "info", "error, warn, info or debug", STR(log_level),
	  "error|warn|info|debug" },
	{ "io", "NODETRAIL_IO", "auto",
	  "file I/O, always off the loop: auto (io_uring, else write(2) on a worker thread), io_uring, write",
	  STR(io), "auto|io_uring|write" },
	{ "attach", "NODETRAIL_ATTACH", "auto",
	  "probe attach: auto (tp_btf, else raw_tp), tp_btf or raw_tp only", STR(attach),
	  "auto|tp_btf|raw_tp" },
	{ "max-file-size", "NODETRAIL_MAX_FILE_SIZE", "10485760",
	  "rotate the record file at this many bytes (suffix K, M, G allowed)", SIZE(max_file_bytes), NULL },
	{ "keep-rotated", "NODETRAIL_KEEP_ROTATED", "5", "rotated record files kept", U32(keep_rotated), NULL },
	{ "prune-after", "NODETRAIL_PRUNE_AFTER", "3600",
	  "seconds a record file of an earlier pod of this DaemonSet (same namespace and container, a pod name "
	  "equal up to its last '-'; regular files only, never a symlink or this pod's own) may stay untouched "
	  "before it is deleted: looked for at start and hourly, deletions said in an agent.files_pruned record; "
	  "0: never",
	  U32(prune_after_s), NULL },
	{ "ringbuf-size", "NODETRAIL_RINGBUF_KIB", "256",
	  "BPF ring buffer size in KiB (a power of two, >= 4)", U32(ringbuf_kib), NULL },
	{ "cgroup-map-size", "NODETRAIL_CGROUP_MAP_SIZE", "16384", "cgroups tracked at most",
	  U32(cgroup_map_max), NULL },
	{ "emf", "NODETRAIL_EMF", "off",
	  "CloudWatch Embedded Metric Format in counted records (OOM kills, evictions, non-graceful terminations, "
	  "interruptions, Karpenter disruptions): off, cluster ([ClusterName], [ClusterName, NodeGroup]) or node (also [ClusterName, "
	  "NodeName, InstanceId]: one billed metric per node)", STR(emf), "off|cluster|node" },
	{ "exec-args", "NODETRAIL_EXEC_ARGS", "off",
	  "arguments in container.exec records: off (command name and path only), on (values of NAME=VALUE and "
	  "--NAME VALUE redacted when NAME looks like a secret, URL passwords, Authorization headers, mysql/sshpass/redis-cli/curl secret flags, and --exec-args-redact matches)", STR(exec_args),
	  "off|on" },
	{ "exec-args-redact", "NODETRAIL_EXEC_ARGS_REDACT", "",
	  "with --exec-args on: a POSIX extended regular expression; matching arguments are redacted whole",
	  STR(exec_args_redact), NULL },
	{ "metrics-addr", "NODETRAIL_METRICS_ADDR", "",
	  "serve GET /healthz, /readyz and /metrics (Prometheus) on host:port, or on up to 3 comma-separated "
	  "ones, each with its own 8 connections: e.g. 127.0.0.1:17390 for the kubelet's probes plus "
	  "$(HOST_IP):17390 for a scraper (numeric hosts, [v6]:port, :port for all; empty: off)",
	  STR(metrics_addr), NULL },
	{ "status-interval", "NODETRAIL_STATUS_INTERVAL", "3600",
	  "seconds between agent.status records (0: only at start and stop); the live state is on /metrics",
	  U32(status_interval_s), NULL },
};

#define N_OPTIONS (sizeof(options) / sizeof(options[0]))

/* downward-API variables that name the output file (DESIGN 5) */
static const struct {
	const char *env;
	const char *def;
	size_t offset;
	size_t size;
	const char *help;
} pod_env[] = {
	{ "POD_NAME", "nodetrail", offsetof(struct config, pod_name), sizeof(((struct config *)0)->pod_name),
	  "the agent's pod name" },
	{ "POD_NAMESPACE", "nodetrail", offsetof(struct config, pod_namespace),
	  sizeof(((struct config *)0)->pod_namespace), "the agent's namespace" },
	{ "POD_UID", "", offsetof(struct config, pod_uid), sizeof(((struct config *)0)->pod_uid),
	  "the agent's pod UID" },
	{ "CONTAINER_NAME", "nodetrail", offsetof(struct config, container_name),
	  sizeof(((struct config *)0)->container_name), "the agent's container name" },
};

static int parse_size(const char *s, uint64_t *ret)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -EINVAL;
	switch (*end) {
	case 'K': case 'k': v <<= 10; end++; break;
	case 'M': case 'm': v <<= 20; end++; break;
	case 'G': case 'g': v <<= 30; end++; break;
	default: break;
	}
	if (*end == 'i' || *end == 'B')
		end++;
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

static bool in_choices(const char *choices, const char *v)
{
	size_t n = strlen(v);
	const char *p = choices;

	while (p && *p) {
		const char *bar = strchr(p, '|');
		size_t len = bar ? (size_t)(bar - p) : strlen(p);

		if (len == n && strncmp(p, v, n) == 0)
			return true;
		p = bar ? bar + 1 : NULL;
	}
	return false;
}

static int set_option(struct config *cfg, const struct option_def *o, const char *v, FILE *err,
		      const char *origin)
{
	char *field = (char *)cfg + o->offset;
	uint64_t n;

	if (o->choices && !in_choices(o->choices, v)) {
		fprintf(err, "nodetrail: invalid %s '%s' for --%s: expected %s\n", origin, v, o->name,
			o->choices);
		return -EINVAL;
	}
	switch (o->type) {
	case OPT_STRING:
		if (strlen(v) >= o->size) {
			fprintf(err, "nodetrail: %s for --%s is too long (max %zu bytes)\n", origin, o->name,
				o->size - 1);
			return -EINVAL;
		}
		strcpy(field, v);
		return 0;
	case OPT_MODE:
		*(enum config_mode *)field = strcmp(v, "on") == 0 ? CONFIG_ON :
					     strcmp(v, "off") == 0 ? CONFIG_OFF : CONFIG_AUTO;
		return 0;
	case OPT_U32:
	case OPT_SIZE:
		if (parse_size(v, &n) < 0 || (o->type == OPT_U32 && n > UINT32_MAX)) {
			fprintf(err, "nodetrail: invalid %s '%s' for --%s: expected a number\n", origin, v,
				o->name);
			return -EINVAL;
		}
		if (o->type == OPT_U32)
			*(uint32_t *)field = (uint32_t)n;
		else
			*(uint64_t *)field = n;
		return 0;
	}
	return -EINVAL;
}

static void print_help(FILE *out)
{
	fprintf(out, "Usage: nodetrail [OPTION]...\n"
		     "Node agent: container lifecycle from eBPF, written as CRI-format records for Fluent Bit.\n\n");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_def *o = &options[i];
		char flag[64];

		snprintf(flag, sizeof(flag), "--%s %s", o->name,
			 o->choices ? o->choices : o->type == OPT_STRING ? "STR" : "N");
		fprintf(out, "  %-34s %s\n", flag, o->help);
		fprintf(out, "  %-34s env %s", "", o->env);
		if (o->def && *o->def)
			fprintf(out, ", default %s", o->def);
		fprintf(out, "\n");
	}
	fprintf(out, "  %-34s %s\n  %-34s %s\n", "--version", "print the version and exit", "--help",
		"print this help and exit");
	fprintf(out, "\nThe output file is named from the downward API:\n");
	for (size_t i = 0; i < sizeof(pod_env) / sizeof(pod_env[0]); i++)
		fprintf(out, "  %-34s %s (default '%s')\n", pod_env[i].env, pod_env[i].help, pod_env[i].def);
	fprintf(out, "\nExit status: 0 after SIGTERM/SIGINT, 1 on a startup error (the log line names it), 2 on bad usage.\n");
}

void config_print_markdown(FILE *out)
{
	fprintf(out, "| option | environment | default | meaning |\n| --- | --- | --- | --- |\n");
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_def *o = &options[i];

		bool quoted = o->def && *o->def;

		fprintf(out, "| `--%s` | `%s` | %s%s%s | %s |\n", o->name, o->env, quoted ? "`" : "",
			!o->def ? "hostname" : *o->def ? o->def : "(none)", quoted ? "`" : "", o->help);
	}
	for (size_t i = 0; i < sizeof(pod_env) / sizeof(pod_env[0]); i++)
		fprintf(out, "| | `%s` | %s%s%s | %s, names the output file |\n", pod_env[i].env,
			*pod_env[i].def ? "`" : "", *pod_env[i].def ? pod_env[i].def : "(none)",
			*pod_env[i].def ? "`" : "", pod_env[i].help);
}

enum config_result config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err)
{
	struct option longopts[N_OPTIONS + 4];
	enum log_level lvl;
	int c, idx;

	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < N_OPTIONS; i++) {
		const struct option_def *o = &options[i];
		const char *env = o->env ? getenv(o->env) : NULL;

		if (o->def && set_option(cfg, o, o->def, err, "default") < 0)
			return CONFIG_EXIT_ERROR;
		if (env && *env && set_option(cfg, o, env, err, o->env) < 0)
			return CONFIG_EXIT_ERROR;
		longopts[i] = (struct option){ o->name, required_argument, NULL, (int)i };
	}
	longopts[N_OPTIONS] = (struct option){ "help", no_argument, NULL, 'h' };
	longopts[N_OPTIONS + 1] = (struct option){ "version", no_argument, NULL, 'V' };
	longopts[N_OPTIONS + 2] = (struct option){ "help-markdown", no_argument, NULL, 'M' };
	longopts[N_OPTIONS + 3] = (struct option){ 0 };
	for (size_t i = 0; i < sizeof(pod_env) / sizeof(pod_env[0]); i++) {
		const char *v = getenv(pod_env[i].env);

		snprintf((char *)cfg + pod_env[i].offset, pod_env[i].size, "%s", v && *v ? v : pod_env[i].def);
	}

	optind = 1;
	while ((c = getopt_long(argc, argv, "", longopts, &idx)) != -1) {
		if (c == 'h') {
			print_help(out);
			return CONFIG_EXIT_OK;
		}
		if (c == 'V') {
			fprintf(out, "nodetrail %s\n", NODETRAIL_VERSION);
			return CONFIG_EXIT_VERSION;
		}
		if (c == 'M') {
			config_print_markdown(out);
			return CONFIG_EXIT_OK;
		}
		if (c < 0 || (size_t)c >= N_OPTIONS) {
			fprintf(err, "Try 'nodetrail --help'.\n");
			return CONFIG_EXIT_ERROR;
		}
		if (set_option(cfg, &options[c], optarg, err, "value") < 0)
			return CONFIG_EXIT_ERROR;
	}
	if (optind < argc) {
		fprintf(err, "nodetrail: unexpected argument '%s'\nTry 'nodetrail --help'.\n", argv[optind]);
		return CONFIG_EXIT_ERROR;
	}
	if (!cfg->node_name[0] && gethostname(cfg->node_name, sizeof(cfg->node_name) - 1) < 0) {
		fprintf(err, "nodetrail: no --node-name and no hostname: %s\n", strerror(errno));
		return CONFIG_EXIT_ERROR;
	}
	if (log_parse_level(cfg->log_level, &lvl) < 0)
		return CONFIG_EXIT_ERROR;
	if (cfg->ringbuf_kib < 4 || (cfg->ringbuf_kib & (cfg->ringbuf_kib - 1))) {
		fprintf(err, "nodetrail: --ringbuf-size %u: expected a power of two >= 4 (KiB)\n",
			cfg->ringbuf_kib);
		return CONFIG_EXIT_ERROR;
	}
	if (cfg->cgroup_map_max < 64) {
		fprintf(err, "nodetrail: --cgroup-map-size %u: expected >= 64\n", cfg->cgroup_map_max);
		return CONFIG_EXIT_ERROR;
	}
	return CONFIG_RUN;
}

/* Fluent Bit's kubernetes filter needs `<pod>_<ns>_<container>-<64 hex>.log`;
 * the hex is a SHA-256 of the node name and the agent's pod UID so that it
 * is stable for the pod and unique per node. */
int config_output_file_name(const struct config *cfg, char *buf, size_t len)
{
	unsigned char digest[32];
	char seed[512], hex[65];
	unsigned int dlen = 0;
	int n;

	n = snprintf(seed, sizeof(seed), "%s\n%s", cfg->node_name, cfg->pod_uid);
	if (n < 0 || (size_t)n >= sizeof(seed))
		return -ENAMETOOLONG;
	if (!EVP_Digest(seed, (size_t)n, digest, &dlen, EVP_sha256(), NULL) || dlen != 32)
		return -EIO;
	for (int i = 0; i < 32; i++)
		sprintf(hex + 2 * i, "%02x", digest[i]);
	n = snprintf(buf, len, "%s_%s_%s-%s.log", cfg->pod_name, cfg->pod_namespace, cfg->container_name, hex);
	if (n < 0 || (size_t)n >= len || n > 255)
		return -ENAMETOOLONG;
	return 0;
}

/* Configuration: one option table drives parsing, environment variables,
 * defaults, --help and the README's option table (--help-markdown). */
#ifndef NODETRAIL_BASE_CONFIG_H
#define NODETRAIL_BASE_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

enum config_mode { CONFIG_AUTO = 0, CONFIG_ON, CONFIG_OFF };

struct config {
	char node_name[256];      /* this node's Kubernetes name */
	char cluster_name[256];   /* EKS cluster name, for ClusterName */
	char output[8];           /* file (CRI file in output_dir) or stdout (the runtime stores it) */
	char output_dir[4096];    /* where the CRI-format file lives */
	char pod_logs_dir[4096];  /* --output stdout: the runtime's container logs, read back at start */
	char state_dir[4096];     /* checkpoint and state */
	uint32_t checkpoint_interval_s; /* checkpoint writes at most this often */
	char cgroup_root[4096];   /* cgroupfs mount point */
	enum config_mode bpf;     /* eBPF: auto, on (required), off */
	enum config_mode api;     /* Kubernetes API: auto (in cluster or --api-server), on, off */
	char api_server[512];     /* https://host:port; default from KUBERNETES_SERVICE_HOST/PORT */
	char token_file[4096];
	char ca_file[4096];
	uint32_t api_dead_after_s; /* reconnect a watch silent for this long */
	enum config_mode imds;    /* EC2 instance metadata: auto (off when unreachable), on, off */
	char imds_endpoint[256];
	uint32_t imds_poll_s;
	uint32_t imds_recheck_s;  /* auto, IMDS absent: ask again this often */
	uint32_t drain_lead_s;    /* the drain report this long before an interruption's deadline */
	uint32_t pod_trouble_after_s; /* Pending this long: the pod's events are listed; 0: never */
	uint32_t join_window_ms;  /* a container record waits this long for the API's status */
	char log_level[16];
	char io[16];              /* writer I/O: auto, io_uring, write */
	char attach[16];          /* probe attach: auto (tp_btf, else raw_tp), tp_btf, raw_tp */
	uint64_t max_file_bytes;  /* rotate the output file at this size */
	uint32_t keep_rotated;    /* rotated files kept */
	uint32_t prune_after_s;   /* earlier pods' record files untouched this long are deleted; 0 = never */
	uint32_t ringbuf_kib;     /* BPF ring buffer size */
	uint32_t cgroup_map_max;  /* tracked cgroups in the kernel map and in user space */
	uint32_t status_interval_s; /* agent.status period, 0 = only at start and stop */
	char metrics_addr[256];   /* /healthz, /readyz, /metrics: comma-separated host:port; "" = off */
	char emf[16];             /* off, cluster, node */
	char exec_args[8];        /* off, on: argv in container.exec (redacted) */
	char exec_args_redact[256]; /* extra ERE of arguments to redact */
	/* downward API (env only): name the output file */
	char pod_name[254];
	char pod_namespace[64];
	char pod_uid[64];
	char container_name[64];
};

/* CONFIG_EXIT_VERSION: the version line is printed; the caller adds what only it knows (libraries) */
enum config_result { CONFIG_RUN = 0, CONFIG_EXIT_OK, CONFIG_EXIT_ERROR, CONFIG_EXIT_VERSION };

/* Fill *cfg from defaults, then the environment, then argv. Prints --help,
 * --version or an error itself (to out/err) and says whether to run. */
enum config_result config_parse(struct config *cfg, int argc, char **argv, FILE *out, FILE *err);

/* Print the option table as a Markdown table (for the README). */
void config_print_markdown(FILE *out);

/* The output file's base name: <pod>_<ns>_<container>-<sha256(node, pod uid)>.log */
int config_output_file_name(const struct config *cfg, char *buf, size_t len);

#endif

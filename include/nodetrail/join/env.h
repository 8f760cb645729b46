/* What every module of the join stage shares: the node's identity, where
 * records go, the stages upstream it reads (never writes), the options. */
#ifndef NODETRAIL_JOIN_ENV_H
#define NODETRAIL_JOIN_ENV_H

#include <regex.h>
#include <stdbool.h>
#include <stdint.h>

#include "nodetrail/api/interruption.h"
#include "nodetrail/api/node_state.h"
#include "nodetrail/base/record.h"
#include "nodetrail/kernel/host.h"

struct join_env {
	const struct record_node *node;
	const char *boot_id;          /* /proc/sys/kernel/random/boot_id: ids of kernel facts */
	const struct cgroup_mode *mode;
	record_emit_cb emit;
	void *emit_ctx;
	/* the API side, NULL without it; then kernel records go out at once */
	const struct node_state *api;
	const struct interruption *interruption; /* NULL without the API and IMDS */
	bool bpf_off;                 /* no kernel events will come: API-only exits go out at once */
	uint32_t join_window_ms;      /* how long a container record waits for the API's status */
	bool exec_args;               /* put the (redacted) arguments in container.exec */
	const regex_t *exec_args_redact; /* extra pattern, NULL for none */
	int64_t start_ns;             /* CLOCK_REALTIME at start: what ended before is history */
	bool (*explain)(void *ctx, const struct kube_pod *pod); /* correlate_options' */
	void *explain_ctx;
};

/* The API's pod with this uid, NULL without the API or when unknown. */
static inline const struct kube_pod *join_pod(const struct join_env *env, const char *uid)
{
	return env->api ? node_state_pod(env->api, uid) : NULL;
}

#endif

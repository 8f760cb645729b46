/* The agent's own read-only HTTP endpoint on --metrics-addr (host:port):
 *   GET /healthz  200 while the loop runs (liveness)
 *   GET /readyz   200 once ready (probes attached or off by choice, first
 *                 API list done), else 503 with the reason (readiness)
 *   GET /metrics  Prometheus text exposition, rendered by the caller
 * Anything else is 404, any other method 405. Plain HTTP/1.0 semantics: one
 * request per connection, answered at once, then closed. Non-blocking on the
 * agent's loop, at most METRICS_MAX_CLIENTS connections (a new one evicts
 * the oldest idle one, counted), a request larger than 4 KiB is refused. */
#ifndef NODETRAIL_OUT_METRICS_H
#define NODETRAIL_OUT_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_MAX_CLIENTS 8

struct loop;

struct metrics_options {
	const char *addr;             /* "127.0.0.1:9808", "[::1]:9808", ":9808" (all addresses) */
	/* true when ready; else a reason in why */
	bool (*ready)(void *ctx, char *why, size_t len);
	/* write the exposition text to out */
	void (*render)(void *ctx, FILE *out);
	void *ctx;
};

struct metrics_stats {
	uint64_t requests;
	uint64_t refused;             /* connections evicted over the cap, oversized or broken requests */
};

struct metrics_server;

/* Listen on opts->addr. 0, or -errno with a reason in err. */
int metrics_server_new(struct loop *loop, const struct metrics_options *opts, struct metrics_server **ret, char *err,
		       size_t errlen);
void metrics_server_free(struct metrics_server *m);
void metrics_server_get_stats(const struct metrics_server *m, struct metrics_stats *ret);
/* the port bound (useful with port 0) */
int metrics_server_port(const struct metrics_server *m);

#endif

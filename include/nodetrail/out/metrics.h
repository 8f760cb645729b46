/* The agent's own read-only HTTP endpoint on --metrics-addr, one or more
 * comma-separated host:port addresses (loopback for the kubelet's probes,
 * the node's address for a Prometheus scraper):
 *   GET /healthz  200 while the loop runs (liveness)
 *   GET /readyz   200 once ready (probes attached or off by choice, first
 *                 API list done), else 503 with the reason (readiness)
 *   GET /metrics  Prometheus text exposition, rendered by the caller
 * Anything else is 404, any other method 405. Plain HTTP/1.0 semantics: one
 * request per connection, answered at once, then closed. Non-blocking on the
 * agent's loop. Each address has its own METRICS_MAX_CLIENTS connections (a
 * new one evicts that address's oldest idle one, counted), so clients of the
 * node's address never push the kubelet's probe off loopback; a request
 * larger than 4 KiB is refused. */
#ifndef NODETRAIL_OUT_METRICS_H
#define NODETRAIL_OUT_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#define METRICS_MAX_CLIENTS 8
/* loopback, the node's IPv4 and its IPv6 address; each costs the loop
 * 1 + METRICS_MAX_CLIENTS of its fds */
#define METRICS_MAX_ADDRS 3

struct loop;

struct metrics_options {
	/* "127.0.0.1:17390", "[::1]:17390", ":17390" (all addresses), or a
	 * comma-separated list of up to METRICS_MAX_ADDRS of those */
	const char *addr;
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

/* Listen on every address of opts->addr, or on none. 0, or -errno with a
 * reason naming the address in err. */
int metrics_server_new(struct loop *loop, const struct metrics_options *opts, struct metrics_server **ret, char *err,
		       size_t errlen);
void metrics_server_free(struct metrics_server *m);
/* counted over all addresses */
void metrics_server_get_stats(const struct metrics_server *m, struct metrics_stats *ret);
/* the port bound for the first address (useful with port 0) */
int metrics_server_port(const struct metrics_server *m);

#endif

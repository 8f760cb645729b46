/* Kubernetes API client: the three node-scoped list+watch streams (pods on
 * this node, this Node, events about this Node) on the agent's loop, feeding
 * node_state. Lists with resourceVersion=0 (the watch cache), watches with
 * bookmarks and randomised timeouts, relists after a 410 (HTTP or in-stream)
 * with resourceVersion="" and a diff, exponential backoff with jitter, and
 * reconnects when a stream goes silent. */
#ifndef NODETRAIL_API_KUBE_CLIENT_H
#define NODETRAIL_API_KUBE_CLIENT_H

#include <stdint.h>

#include "nodetrail/api/node_state.h"

struct loop;
struct http;

struct kube_client_options {
	const char *server;           /* https://host:port */
	const char *token_file;       /* bearer token, re-read every minute and on 401 */
	const char *ca_file;          /* CA that signed the server's certificate */
	const char *node_name;
	struct loop *loop;            /* retries, silence checks and token re-reads are its timers */
	struct http *http;
	struct node_state *state;
	unsigned dead_after_s;        /* no byte, not even a bookmark, for this long: reconnect */
	unsigned watch_timeout_min_s; /* watch timeoutSeconds drawn in [min, max] */
	unsigned watch_timeout_max_s;
	/* every stream has completed its first list (once; may be NULL) */
	void (*synced)(void *ctx);
	void *ctx;
};

struct kube_stream_stats {
	uint64_t lists;               /* list requests */
	uint64_t watches;             /* watch requests */
	uint64_t relists_410;         /* relists after an expired resourceVersion */
	uint64_t reconnects;          /* watches restarted after an error or a drop */
	uint64_t dead_streams;        /* watches cut for silence */
	uint64_t http_errors;         /* non-2xx answers */
	uint64_t unauthorized;        /* 401s */
	uint64_t tls_failures;        /* server certificate not verified by the CA */
	uint64_t malformed;           /* lines that were not a watch event */
	uint64_t oversized;           /* objects over the size cap, skipped */
	uint64_t events;              /* watch events applied */
};

struct kube_client_stats {
	struct kube_stream_stats stream[KUBE_NRESOURCES];
	uint64_t token_reloads;
	int synced;                   /* every stream has completed its first list */
};

struct kube_client;

/* -errno and a reason on failure (unreadable token or CA file...). */
int kube_client_new(const struct kube_client_options *opts, struct kube_client **ret, char *err, size_t errlen);
void kube_client_free(struct kube_client *kc);

void kube_client_get_stats(const struct kube_client *kc, struct kube_client_stats *ret);
#endif

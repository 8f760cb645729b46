/* Kubernetes API client: the three node-scoped list+watch streams (pods on
 * this node, this Node, events about this Node) on the agent's loop, feeding
 * node_state. Lists with resourceVersion=0 (the watch cache), watches with
 * bookmarks and randomised timeouts, relists after a 410 (HTTP or in-stream)
 * with resourceVersion="" and a diff, exponential backoff with jitter, and
 * reconnects when a stream goes silent. */
#ifndef NODETRAIL_API_KUBE_CLIENT_H
#define NODETRAIL_API_KUBE_CLIENT_H

#include <stdint.h>
#include <cjson/cJSON.h>

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
	uint64_t fetches;             /* one-shot lists (kube_client_fetch) */
	uint64_t fetch_errors;        /* of those, failed (transport, HTTP status, oversized, not JSON) */
	uint64_t fetches_refused;     /* not started: KUBE_MAX_FETCHES in flight */
	struct kube_slim_stats slim;  /* objects slimmed before parsing: what they lost */
	int synced;                   /* every stream has completed its first list */
};

struct kube_client;

/* -errno and a reason on failure (unreadable token or CA file...). */
int kube_client_new(const struct kube_client_options *opts, struct kube_client **ret, char *err, size_t errlen);
void kube_client_free(struct kube_client *kc);

void kube_client_get_stats(const struct kube_client *kc, struct kube_client_stats *ret);

#define KUBE_MAX_FETCHES 4
#define KUBE_FETCH_MAX_BYTES (1024u * 1024)

/* The answer of a one-shot GET: its JSON body, or NULL and why (err, HTTP status). */
typedef void (*kube_fetch_done)(void *ctx, const cJSON *body, long status, const char *err);

/* One GET of "/api/v1/namespaces/<ns>/<resource>" filtered by field_selector
 * (not yet encoded), with the client's token and CA, on the loop; done is
 * called once, unless the client is freed first. The body is capped at
 * KUBE_FETCH_MAX_BYTES. 0, -EBUSY (KUBE_MAX_FETCHES in flight), -ENOMEM. */
int kube_client_fetch(struct kube_client *kc, const char *ns, const char *resource, const char *field_selector,
		      kube_fetch_done done, void *ctx);
#endif

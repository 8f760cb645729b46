/* Kubernetes watch streams: framing and decoding.
 *
 * A watch response is a stream of JSON objects, one per line, that arrives
 * in chunks cut anywhere (mid-line, mid-UTF-8, several lines at once). The
 * framer reassembles lines whatever the boundaries; the decoder turns one
 * line into an event type and its object. Pure: no I/O. */
#ifndef NODETRAIL_API_KUBE_WATCH_H
#define NODETRAIL_API_KUBE_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

#include "nodetrail/api/kube_slim.h"

#include "nodetrail/base/buf.h"

/* an object larger than this is skipped (counted), not buffered */
#define KUBE_MAX_OBJECT (4u * 1024 * 1024)

/* Called with each complete line (without its newline, NUL-terminated). */
typedef void (*kube_line_cb)(void *ctx, const char *line, size_t len);

struct kube_framer {
	struct buf line;          /* the partial line so far */
	size_t max_line;          /* KUBE_MAX_OBJECT unless set */
	int skipping;             /* inside an oversized line: drop until its newline */
	uint64_t oversized;       /* lines dropped for size */
	uint64_t lines;           /* lines delivered */
};

void kube_framer_init(struct kube_framer *f, size_t max_line);
void kube_framer_reset(struct kube_framer *f); /* a new stream: forget any partial line */
void kube_framer_free(struct kube_framer *f);
/* Feed bytes; calls cb for every line completed. 0 or -ENOMEM. */
int kube_framer_feed(struct kube_framer *f, const char *data, size_t len, kube_line_cb cb, void *ctx);

/* A list response (PodList, NodeList, EventList) cut into its items as it
 * streams in, so that no list is ever held whole, parsed whole or bounded
 * by its size: each item's text goes to cb as soon as its closing brace
 * arrives; an item over max_item bytes is skipped (counted); the list's own
 * metadata is kept (small) for its resourceVersion. */
struct kube_list_splitter {
	struct buf item;          /* the item so far */
	struct buf meta;          /* the list's "metadata" value */
	size_t max_item;          /* KUBE_MAX_OBJECT unless set */
	int depth;                /* nesting before the next byte */
	bool in_string, escape;
	char str[16];             /* a string at depth 1 (a key of the list), its first bytes */
	size_t strlen;
	char key[16];             /* the key whose value comes at depth 1 */
	bool in_items, in_meta, capturing, skipping;
	bool seen_items;          /* the "items" array was there */
	bool malformed;           /* not a JSON object or cut short: the caller retries */
	uint64_t items;           /* items delivered */
	uint64_t oversized;       /* items skipped for size */
};

void kube_list_splitter_init(struct kube_list_splitter *ls, size_t max_item);
void kube_list_splitter_free(struct kube_list_splitter *ls); /* its buffers; init again to reuse */
/* Feed bytes; cb for every item completed. 0 or -ENOMEM. */
int kube_list_splitter_feed(struct kube_list_splitter *ls, const char *data, size_t len, kube_line_cb cb, void *ctx);
/* The whole response was fed: 0 with the list's resourceVersion in rv, or
 * -EINVAL (not a list, cut short, no resourceVersion). */
int kube_list_splitter_finish(struct kube_list_splitter *ls, char *rv, size_t rvlen);

enum kube_event_type {
	KUBE_EV_INVALID = 0,      /* not a watch event: malformed JSON or shape */
	KUBE_EV_ADDED,
	KUBE_EV_MODIFIED,
	KUBE_EV_DELETED,
	KUBE_EV_BOOKMARK,
	KUBE_EV_ERROR,            /* in-stream Status: see code */
};

struct kube_event {
	enum kube_event_type type;
	cJSON *root;              /* owns the parsed line */
	cJSON *object;            /* root["object"] */
	char resource_version[32]; /* object.metadata.resourceVersion, "" if none */
	int code;                 /* ERROR: the Status code (410 = expired) */
};

/* Decode one watch line, slimmed first (kube_slim: what nodetrail never
 * reads is not materialised; slim may be NULL). Returns 0, -EINVAL
 * (malformed: ev->type is KUBE_EV_INVALID and nothing to free) or -ENOMEM. */
int kube_event_decode(const char *line, size_t len, struct kube_event *ev, struct kube_slim_stats *slim);
void kube_event_free(struct kube_event *ev);

#endif

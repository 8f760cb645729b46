/* Kubernetes watch streams: framing and decoding.
 *
 * A watch response is a stream of JSON objects, one per line, that arrives
 * in chunks cut anywhere (mid-line, mid-UTF-8, several lines at once). The
 * framer reassembles lines whatever the boundaries; the decoder turns one
 * line into an event type and its object. Pure: no I/O. */
#ifndef NODETRAIL_API_KUBE_WATCH_H
#define NODETRAIL_API_KUBE_WATCH_H

#include <stddef.h>
#include <stdint.h>
#include <cjson/cJSON.h>

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

/* Decode one watch line. Returns 0, or -EINVAL (malformed: ev->type is
 * KUBE_EV_INVALID and nothing to free). */
int kube_event_decode(const char *line, size_t len, struct kube_event *ev);
void kube_event_free(struct kube_event *ev);

#endif

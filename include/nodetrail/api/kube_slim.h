/* Kubernetes objects slimmed as text, before cJSON materialises them. A
 * pod is parsed at roughly 35 bytes of memory per input byte for arrays of
 * short strings: one pod with 460,000 empty `args` (1.4 MiB of JSON) would
 * cost 50 MiB, and the DaemonSet's limit is 64. So the text is copied
 * without what nodetrail never reads and can be huge (container args,
 * managedFields, volumes, a node's image list, the last-applied
 * annotation...), with long strings cut (on a character boundary) and
 * arrays, objects and the whole object bounded; what was dropped is
 * counted. Identity, containers and statuses survive any of it. Pure. */
#ifndef NODETRAIL_API_KUBE_SLIM_H
#define NODETRAIL_API_KUBE_SLIM_H

#include <stddef.h>
#include <stdint.h>

#define KUBE_SLIM_STRING 4096      /* bytes of a string kept (an event's message, an annotation) */
#define KUBE_SLIM_ELEMENTS 256     /* elements of an array, members of an object */
#define KUBE_SLIM_VALUES 16384     /* values of the whole object */
#define KUBE_SLIM_DEPTH 48         /* nesting; deeper is not a Kubernetes object */

struct kube_slim_stats {
	uint64_t objects;           /* objects slimmed */
	uint64_t objects_cut;       /* of those, with anything dropped or cut */
	uint64_t values_dropped;    /* members and elements left out (unused keys, caps) */
	uint64_t strings_cut;       /* strings cut to KUBE_SLIM_STRING */
	uint64_t bytes_in, bytes_out;
};

/* in[0..len) (one JSON value: a watch event, a list item) into out, which
 * must hold len + 1 bytes (the slim text is never longer; NUL-terminated).
 * Returns the slim text's length, or -1 when in is not well-formed JSON
 * (or nests deeper than KUBE_SLIM_DEPTH). st may be NULL. */
long kube_slim(const char *in, size_t len, char *out, struct kube_slim_stats *st);

#endif

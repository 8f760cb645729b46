/* A growable byte buffer: list bodies, partial watch lines, queued record
 * lines. The caller bounds it (buf_append takes a cap). */
#ifndef NODETRAIL_BASE_BUF_H
#define NODETRAIL_BASE_BUF_H

#include <stddef.h>

struct buf {
	char *data;               /* NULL until the first append */
	size_t len;               /* bytes in use */
	size_t cap;               /* bytes allocated */
};

/* Make room for `more` bytes after len (amortised doubling, at least
 * `min_cap`). 0, or -ENOMEM (the buffer is unchanged). */
int buf_reserve(struct buf *b, size_t more, size_t min_cap);
/* Append n bytes. 0, or -ENOMEM. */
int buf_append(struct buf *b, const void *p, size_t n);
/* Drop the first n bytes, keeping the rest. */
void buf_consume(struct buf *b, size_t n);
/* Free the memory; the buffer is empty and usable again. */
void buf_free(struct buf *b);

#endif

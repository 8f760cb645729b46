/* Growable byte buffer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/base/buf.h"

int buf_reserve(struct buf *b, size_t more, size_t min_cap)
{
	size_t cap = b->cap ? b->cap : (min_cap ? min_cap : 64);
	char *p;

	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
	int err = buf_reserve(b, n, 0);

	if (err < 0)
		return err;
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	b->len -= n;
}

void buf_free(struct buf *b)
{
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
}

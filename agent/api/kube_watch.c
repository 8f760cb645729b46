/* Watch stream framing and event decoding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/api/kube_watch.h"

void kube_framer_init(struct kube_framer *f, size_t max_line)
{
	memset(f, 0, sizeof(*f));
	f->max_line = max_line ? max_line : KUBE_MAX_OBJECT;
}

void kube_framer_reset(struct kube_framer *f)
{
	f->line.len = 0;
	f->skipping = 0;
}

void kube_framer_free(struct kube_framer *f)
{
	buf_free(&f->line);
}

int kube_framer_feed(struct kube_framer *f, const char *data, size_t len, kube_line_cb cb, void *ctx)
{
	struct buf *b = &f->line;

	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		if (f->skipping) {
			/* the rest of an oversized line: drop it */
		} else if (b->len + n > f->max_line) {
			f->skipping = 1;
			b->len = 0;
			f->oversized++;
		} else if (buf_reserve(b, n + 1, 4096) < 0) { /* + 1: the NUL */
			return -ENOMEM;
		} else {
			memcpy(b->data + b->len, data, n);
			b->len += n;
		}
		if (!nl)
			return 0;
		if (!f->skipping && b->len > 0) {
			/* a CRLF-terminated line loses its CR too */
			if (b->data[b->len - 1] == '\r')
				b->len--;
			b->data[b->len] = '\0';
			f->lines++;
			cb(ctx, b->data, b->len);
		}
		b->len = 0;
		f->skipping = 0;
		data += n + 1;
		len -= n + 1;
	}
	/* keep memory flat after a large object went through */
	if (b->len == 0 && b->cap > 65536)
		buf_free(b);
	return 0;
}

static const struct {
	const char *name;
	enum kube_event_type type;
} event_types[] = {
	{ "ADDED", KUBE_EV_ADDED },       { "MODIFIED", KUBE_EV_MODIFIED }, { "DELETED", KUBE_EV_DELETED },
	{ "BOOKMARK", KUBE_EV_BOOKMARK }, { "ERROR", KUBE_EV_ERROR },
};

int kube_event_decode(const char *line, size_t len, struct kube_event *ev)
{
	cJSON *type, *rv, *code;

	memset(ev, 0, sizeof(*ev));
	ev->root = cJSON_ParseWithLength(line, len);
	if (!cJSON_IsObject(ev->root))
		goto invalid;
	type = cJSON_GetObjectItemCaseSensitive(ev->root, "type");
	ev->object = cJSON_GetObjectItemCaseSensitive(ev->root, "object");
	if (!cJSON_IsString(type) || !cJSON_IsObject(ev->object))
		goto invalid;
	for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (strcmp(type->valuestring, event_types[i].name) == 0)
			ev->type = event_types[i].type;
	if (ev->type == KUBE_EV_INVALID)
		goto invalid;
	rv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(ev->object, "metadata"),
					      "resourceVersion");
	if (cJSON_IsString(rv) && strlen(rv->valuestring) < sizeof(ev->resource_version))
		strcpy(ev->resource_version, rv->valuestring);
	if (ev->type == KUBE_EV_ERROR) {
		code = cJSON_GetObjectItemCaseSensitive(ev->object, "code");
		ev->code = cJSON_IsNumber(code) ? code->valueint : 0;
	}
	return 0;

invalid:
	cJSON_Delete(ev->root);
	memset(ev, 0, sizeof(*ev));
	return -EINVAL;
}

void kube_event_free(struct kube_event *ev)
{
	cJSON_Delete(ev->root);
	memset(ev, 0, sizeof(*ev));
}

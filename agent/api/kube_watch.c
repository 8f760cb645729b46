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

/* ---- lists, item by item ---- */

void kube_list_splitter_init(struct kube_list_splitter *ls, size_t max_item)
{
	memset(ls, 0, sizeof(*ls));
	ls->max_item = max_item ? max_item : KUBE_MAX_OBJECT;
}

void kube_list_splitter_free(struct kube_list_splitter *ls)
{
	buf_free(&ls->item);
	buf_free(&ls->meta);
}

#define LIST_META_MAX 65536

static int keep_byte(struct buf *b, char c, size_t cap, bool *over)
{
	if (b->len + 2 > cap) {
		*over = true;
		return 0;
	}
	if (buf_reserve(b, 2, 4096) < 0)
		return -ENOMEM;
	b->data[b->len++] = c;
	return 0;
}

int kube_list_splitter_feed(struct kube_list_splitter *ls, const char *data, size_t len, kube_line_cb cb, void *ctx)
{
	for (size_t i = 0; i < len && !ls->malformed; i++) {
		char c = data[i];
		bool opens = false, closes = false, over = false;

		if (ls->in_string) {
			if (ls->escape)
				ls->escape = false;
			else if (c == '\\')
				ls->escape = true;
			else if (c == '"')
				ls->in_string = false;
			else if (ls->depth == 1 && ls->strlen + 1 < sizeof(ls->str))
				ls->str[ls->strlen++] = c;
		} else if (c == '"') {
			ls->in_string = true;
			if (ls->depth == 1)
				ls->strlen = 0;
		} else if (c == ':' && ls->depth == 1) {
			memcpy(ls->key, ls->str, ls->strlen);
			ls->key[ls->strlen] = '\0';
		} else if (c == '{' || c == '[') {
			opens = true;
		} else if (c == '}' || c == ']') {
			closes = true;
		}
		if (opens) {
			if (ls->depth == 0 && c != '{') {
				ls->malformed = true;
				break;
			}
			if (ls->depth == 1 && c == '[' && !strcmp(ls->key, "items"))
				ls->in_items = ls->seen_items = true;
			if (ls->depth == 1 && c == '{' && !strcmp(ls->key, "metadata")) {
				ls->in_meta = true;
				ls->meta.len = 0;
			}
			if (ls->in_items && ls->depth == 2 && c == '{') {
				ls->capturing = true;
				ls->skipping = false;
				ls->item.len = 0;
			}
			ls->depth++;
		}
		if (ls->capturing && !ls->skipping) {
			if (keep_byte(&ls->item, c, ls->max_item, &over) < 0)
				return -ENOMEM;
			if (over) {
				ls->skipping = true;
				ls->oversized++;
				ls->item.len = 0;
			}
		}
		if (ls->in_meta && keep_byte(&ls->meta, c, LIST_META_MAX, &over) < 0)
			return -ENOMEM;
		if (closes) {
			if (ls->depth == 0) {
				ls->malformed = true;
				break;
			}
			ls->depth--;
			if (ls->capturing && ls->depth == 2) {
				ls->capturing = false;
				if (!ls->skipping) {
					ls->item.data[ls->item.len] = '\0';
					ls->items++;
					cb(ctx, ls->item.data, ls->item.len);
				}
				/* keep memory flat after a large item */
				if (ls->item.cap > 65536)
					buf_free(&ls->item);
				ls->item.len = 0;
			}
			if (ls->depth == 1) {
				ls->in_items = false;
				ls->in_meta = false;
			}
		}
	}
	return 0;
}

int kube_list_splitter_finish(struct kube_list_splitter *ls, char *rv, size_t rvlen)
{
	cJSON *meta, *v;
	int r = -EINVAL;

	if (ls->malformed || ls->depth != 0 || ls->in_string || !ls->seen_items || !ls->meta.len)
		return -EINVAL;
	meta = cJSON_ParseWithLength(ls->meta.data, ls->meta.len);
	v = cJSON_GetObjectItemCaseSensitive(meta, "resourceVersion");
	if (cJSON_IsString(v) && strlen(v->valuestring) < rvlen) {
		memcpy(rv, v->valuestring, strlen(v->valuestring) + 1);
		r = 0;
	}
	cJSON_Delete(meta);
	return r;
}

static const struct {
	const char *name;
	enum kube_event_type type;
} event_types[] = {
	{ "ADDED", KUBE_EV_ADDED },       { "MODIFIED", KUBE_EV_MODIFIED }, { "DELETED", KUBE_EV_DELETED },
	{ "BOOKMARK", KUBE_EV_BOOKMARK }, { "ERROR", KUBE_EV_ERROR },
};

int kube_event_decode(const char *line, size_t len, struct kube_event *ev, struct kube_slim_stats *slim)
{
	cJSON *type, *rv, *code;
	char *text = malloc(len + 1);
	long n;

	memset(ev, 0, sizeof(*ev));
	if (!text)
		return -ENOMEM;
	n = kube_slim(line, len, text, slim);
	ev->root = n < 0 ? NULL : cJSON_ParseWithLength(text, (size_t)n);
	free(text);
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

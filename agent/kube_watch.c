/* Watch stream framing and event decoding. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/kube_watch.h"

void kube_framer_init(struct kube_framer *f, size_t max_line)
{
	memset(f, 0, sizeof(*f));
	f->max_line = max_line ? max_line : KUBE_MAX_OBJECT;
}

void kube_framer_reset(struct kube_framer *f)
{
	f->len = 0;
	f->skipping = 0;
}

void kube_framer_free(struct kube_framer *f)
{
	free(f->buf);
	f->buf = NULL;
	f->len = f->cap = 0;
}

static int append(struct kube_framer *f, const char *data, size_t n)
{
	if (f->len + n + 1 > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		char *p;

		while (cap < f->len + n + 1)
			cap *= 2;
		p = realloc(f->buf, cap);
		if (!p)
			return -ENOMEM;
		f->buf = p;
		f->cap = cap;
	}
	memcpy(f->buf + f->len, data, n);
	f->len += n;
	return 0;
}

int kube_framer_feed(struct kube_framer *f, const char *data, size_t len, kube_line_cb cb, void *ctx)
{
	while (len > 0) {
		const char *nl = memchr(data, '\n', len);
		size_t n = nl ? (size_t)(nl - data) : len;

		if (f->skipping) {
			/* the rest of an oversized line: drop it */
		} else if (f->len + n > f->max_line) {
			f->skipping = 1;
			f->len = 0;
			f->oversized++;
		} else if (append(f, data, n) < 0) {
			return -ENOMEM;
		}
		if (!nl)
			return 0;
		if (!f->skipping && f->len > 0) {
			/* a CRLF-terminated line loses its CR too */
			if (f->buf[f->len - 1] == '\r')
				f->len--;
			f->buf[f->len] = '\0';
			f->lines++;
			cb(ctx, f->buf, f->len);
		}
		f->len = 0;
		f->skipping = 0;
		data += n + 1;
		len -= n + 1;
	}
	/* keep memory flat after a large object went through */
	if (f->len == 0 && f->cap > 65536) {
		free(f->buf);
		f->buf = NULL;
		f->cap = 0;
	}
	return 0;
}

static const struct {
	const char *name;
	enum kube_event_type type;
} event_types[] = {
	{ "ADDED", KUBE_EV_ADDED },       { "MODIFIED", KUBE_EV_MODIFIED }, { "DELETED", KUBE_EV_DELETED },
	{ "BOOKMARK", KUBE_EV_BOOKMARK }, { "ERROR", KUBE_EV_ERROR },
};

const char *kube_event_type_name(enum kube_event_type type)
{
	for (size_t i = 0; i < sizeof(event_types) / sizeof(event_types[0]); i++)
		if (event_types[i].type == type)
			return event_types[i].name;
	return "INVALID";
}

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

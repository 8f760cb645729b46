/* Strict UTF-8: checked, cut and repaired. */
#include <string.h>

#include "nodetrail/base/utf8.h"

size_t utf8_char_len(const unsigned char *s, size_t n, bool *cut)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	size_t len;

	if (cut)
		*cut = false;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0; /* a continuation byte, an overlong lead (c0, c1) or past U+10FFFF */
	/* the second byte's range rules out overlongs, surrogates and past U+10FFFF */
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	for (size_t i = 1; i < len; i++) {
		if (i >= n) {
			if (cut)
				*cut = true;
			return 0;
		}
		if (s[i] < (i == 1 ? lo : 0x80) || s[i] > (i == 1 ? hi : 0xbf))
			return 0;
	}
	return len;
}

bool utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;

	for (size_t i = 0; i < n;) {
		size_t len;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (!(len = utf8_char_len(p + i, n - i, NULL)))
			return false;
		i += len;
	}
	return true;
}

size_t utf8_cut(const char *s, size_t n, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t cut;

	if (n <= max)
		return n;
	/* back to the start of the character that max splits; at most 3 bytes */
	for (cut = max; cut > 0 && max - cut < 3 && (p[cut] & 0xc0) == 0x80; cut--)
		;
	return (p[cut] & 0xc0) == 0x80 ? max : cut;
}

size_t utf8_repair(const char *in, size_t n, char *out, size_t cap)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0;

	if (!cap)
		return 0;
	for (size_t i = 0; i < n;) {
		bool cut;
		size_t len = p[i] < 0x80 ? 1 : utf8_char_len(p + i, n - i, &cut);
		const char *piece = in + i;

		if (!len && cut)
			break; /* cut short at the end: dropped */
		if (!len) {
			piece = UTF8_REPLACEMENT;
			len = 3;
			i++;
		} else {
			i += len;
		}
		if (o + len >= cap)
			break;
		memcpy(out + o, piece, len);
		o += len;
	}
	out[o] = '\0';
	return o;
}

static int repair_one(char **s, bool owned)
{
	size_t n = strlen(*s), cap = n * 3 + 1;
	char *fixed;

	/* a constant key is never ours to free (and ours are ASCII) */
	if (utf8_valid(*s, n) || !owned)
		return 0;
	fixed = cJSON_malloc(cap);
	if (!fixed)
		return -1;
	utf8_repair(*s, n, fixed, cap);
	cJSON_free(*s);
	*s = fixed;
	return 1;
}

int utf8_repair_json(cJSON *o)
{
	int repaired = 0, r;

	for (cJSON *it = o; it; it = it->next) {
		if (it->string && (r = repair_one(&it->string, !(it->type & cJSON_StringIsConst))) != 0) {
			if (r < 0)
				return -1;
			repaired++;
		}
		if (cJSON_IsString(it) && it->valuestring && (r = repair_one(&it->valuestring, true)) != 0) {
			if (r < 0)
				return -1;
			repaired++;
		}
		if (it->child) {
			if ((r = utf8_repair_json(it->child)) < 0)
				return -1;
			repaired += r;
		}
	}
	return repaired;
}

/* Kubernetes objects slimmed as text, before they are parsed. */
#include <stdbool.h>
#include <string.h>

#include "nodetrail/api/kube_slim.h"

/* keys nodetrail never reads whose values can be huge, dropped wherever they are */
static const char *const unused[] = {
	"args",		  "managedFields",	      "volumes",	"volumeMounts",	   "volumeDevices",
	"images",	  "volumesInUse",	      "volumesAttached", "affinity",	    "topologySpreadConstraints",
	"envFrom",	  "ports",		      "tolerations",	"securityContext", "dnsConfig",
	"hostAliases",	  "resourceClaims",	      "readinessGates",	"schedulingGates", "podIPs",
	"kubectl.kubernetes.io/last-applied-configuration",
};

struct slim {
	const char *p, *end;
	char *out;
	size_t o;
	uint32_t values;          /* values copied so far */
	bool cut;
	struct kube_slim_stats *st;
};

static void ws(struct slim *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

static void put(struct slim *s, const char *b, size_t n, bool copy)
{
	if (copy) {
		memcpy(s->out + s->o, b, n);
		s->o += n;
	}
}

/* where a string longer than KUBE_SLIM_STRING is cut: before c (the
 * character or escape that went past), on a character's first byte, never
 * between the two halves of an escaped surrogate pair */
static const char *cut_point(const char *start, const char *c)
{
	while (c > start && ((unsigned char)*c & 0xc0) == 0x80)
		c--;
	if (c - start >= 6 && c[-6] == '\\' && c[-5] == 'u' && (c[-4] == 'd' || c[-4] == 'D') &&
	    strchr("89abAB", c[-3]))
		c -= 6;
	return c;
}

/* a string at s->p (its opening quote), copied and maybe cut; key: its
 * text as written, for the caller (NULL: not wanted) */
static int string(struct slim *s, bool copy, char *key, size_t keylen)
{
	const char *start = ++s->p, *kept_end = NULL;
	size_t k = 0;

	while (s->p < s->end && *s->p != '"') {
		const char *c = s->p;

		if (*c == '\\') {
			if (s->p + 1 >= s->end)
				return -1;
			s->p += c[1] == 'u' ? 6 : 2;
			if (s->p > s->end)
				return -1;
		} else if ((unsigned char)*c < 0x20) {
			return -1;
		} else {
			s->p++;
		}
		if (key && k + (size_t)(s->p - c) < keylen) {
			memcpy(key + k, c, (size_t)(s->p - c));
			k += (size_t)(s->p - c);
		}
		if (!kept_end && (size_t)(s->p - start) > KUBE_SLIM_STRING)
			kept_end = cut_point(start, c);
	}
	if (s->p >= s->end)
		return -1;
	if (key)
		key[k] = '\0';
	if (kept_end && copy) {
		s->cut = true;
		if (s->st)
			s->st->strings_cut++;
	}
	put(s, "\"", 1, copy);
	put(s, start, (size_t)((kept_end ? kept_end : s->p) - start), copy);
	put(s, "\"", 1, copy);
	s->p++;
	return 0;
}

static int value(struct slim *s, bool copy, int depth);

static bool unused_key(const char *key)
{
	for (size_t i = 0; i < sizeof(unused) / sizeof(unused[0]); i++)
		if (!strcmp(key, unused[i]))
			return true;
	return false;
}

/* a member or element past a cap, or of an unused key: skipped, counted */
static bool keep(struct slim *s, bool copy, uint32_t n, const char *key)
{
	if (!copy)
		return false;
	if (n < KUBE_SLIM_ELEMENTS && s->values < KUBE_SLIM_VALUES && !(key && unused_key(key))) {
		s->values++;
		return true;
	}
	s->cut = true;
	if (s->st)
		s->st->values_dropped++;
	return false;
}

static int container(struct slim *s, bool copy, int depth, bool object)
{
	uint32_t kept = 0;
	char key[64];

	if (depth >= KUBE_SLIM_DEPTH)
		return -1;
	put(s, object ? "{" : "[", 1, copy);
	s->p++;
	ws(s);
	if (s->p < s->end && *s->p == (object ? '}' : ']')) {
		s->p++;
		put(s, object ? "}" : "]", 1, copy);
		return 0;
	}
	for (;;) {
		bool k;

		ws(s);
		if (object) {
			size_t at = s->o;

			if (s->p >= s->end || *s->p != '"')
				return -1;
			/* the key decides: write it speculatively, take it back if dropped */
			if (copy && kept)
				put(s, ",", 1, true);
			if (string(s, copy, key, sizeof(key)) < 0)
				return -1;
			k = keep(s, copy, kept, key);
			if (!k)
				s->o = at;
			ws(s);
			if (s->p >= s->end || *s->p != ':')
				return -1;
			s->p++;
			put(s, ":", 1, k);
		} else {
			k = keep(s, copy, kept, NULL);
			if (k && kept)
				put(s, ",", 1, true);
		}
		ws(s);
		if (value(s, k, depth + 1) < 0)
			return -1;
		kept += k;
		ws(s);
		if (s->p < s->end && *s->p == ',') {
			s->p++;
			continue;
		}
		if (s->p < s->end && *s->p == (object ? '}' : ']')) {
			s->p++;
			put(s, object ? "}" : "]", 1, copy);
			return 0;
		}
		return -1;
	}
}

/* true, false, null, a number: copied as it stands */
static int scalar(struct slim *s, bool copy)
{
	const char *start = s->p;

	while (s->p < s->end && (strchr("+-.eE", *s->p) || (*s->p >= '0' && *s->p <= '9') ||
				 (*s->p >= 'a' && *s->p <= 'z')))
		s->p++;
	if (s->p == start)
		return -1;
	put(s, start, (size_t)(s->p - start), copy);
	return 0;
}

static int value(struct slim *s, bool copy, int depth)
{
	ws(s);
	if (s->p >= s->end)
		return -1;
	if (*s->p == '"')
		return string(s, copy, NULL, 0);
	if (*s->p == '{' || *s->p == '[')
		return container(s, copy, depth, *s->p == '{');
	return scalar(s, copy);
}

long kube_slim(const char *in, size_t len, char *out, struct kube_slim_stats *st)
{
	struct slim s = { .p = in, .end = in + len, .out = out, .st = st };

	if (value(&s, true, 0) < 0)
		return -1;
	ws(&s);
	if (s.p != s.end)
		return -1;
	out[s.o] = '\0';
	if (st) {
		st->objects++;
		st->objects_cut += s.cut;
		st->bytes_in += len;
		st->bytes_out += s.o;
	}
	return (long)s.o;
}

/* cgroup path parser.
 *
 * Walks the path one component at a time, left to right, keeping what the
 * components seen so far say: inside a kubepods root, which QoS class, which
 * pod, which container. A later kubepods root (a node nested in a container:
 * kind, minikube) starts over, so the innermost container wins. No
 * allocation, no I/O, bounded by the path length. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "nodetrail/kernel/cgroup.h"

struct span {
	const char *p;
	size_t n;
};

static bool span_eq(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n == n && memcmp(s.p, lit, n) == 0;
}

static bool span_starts(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n >= n && memcmp(s.p, lit, n) == 0;
}

static bool span_ends(struct span s, const char *lit)
{
	size_t n = strlen(lit);

	return s.n >= n && memcmp(s.p + s.n - n, lit, n) == 0;
}

static struct span span_cut(struct span s, size_t head, size_t tail)
{
	if (head + tail > s.n)
		return (struct span){ s.p, 0 };
	return (struct span){ s.p + head, s.n - head - tail };
}

static bool is_lower_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/* exactly 64 lowercase hex characters */
static bool is_container_id(struct span s)
{
	if (s.n != CGROUP_CONTAINER_ID_LEN)
		return false;
	for (size_t i = 0; i < s.n; i++)
		if (!is_lower_hex(s.p[i]))
			return false;
	return true;
}

/* A pod UID as a cgroup name carries it: a UUID with '-' (cgroupfs) or '_'
 * (systemd escapes '-') separators, or a static pod's 32-hex config hash.
 * Writes the canonical form (dashes) to out. */
static bool parse_pod_uid(struct span s, char out[CGROUP_POD_UID_LEN + 1])
{
	if (s.n == 32) {
		for (size_t i = 0; i < 32; i++)
			if (!is_lower_hex(s.p[i]))
				return false;
		memcpy(out, s.p, 32);
		out[32] = '\0';
		return true;
	}
	if (s.n != 36)
		return false;
	for (size_t i = 0; i < 36; i++) {
		bool sep = i == 8 || i == 13 || i == 18 || i == 23;

		if (sep ? (s.p[i] != '-' && s.p[i] != '_') : !is_lower_hex(s.p[i]))
			return false;
		out[i] = sep ? '-' : s.p[i];
	}
	out[36] = '\0';
	return true;
}

static bool is_kubepods_root(struct span c)
{
	/* "kubepods", "kubepods.slice", kind's "kubelet-kubepods.slice" */
	return span_eq(c, "kubepods") || span_eq(c, "kubepods.slice") ||
	       (span_ends(c, "-kubepods.slice") && !span_starts(c, "-"));
}

static enum cgroup_qos qos_of_name(struct span c)
{
	if (span_eq(c, "burstable") || span_ends(c, "kubepods-burstable.slice"))
		return CGROUP_QOS_BURSTABLE;
	if (span_eq(c, "besteffort") || span_ends(c, "kubepods-besteffort.slice"))
		return CGROUP_QOS_BESTEFFORT;
	return CGROUP_QOS_NONE;
}

/* systemd pod slice: [kubelet-]kubepods[-<qos>]-pod<uid>.slice */
static bool parse_pod_slice(struct span c, char uid[CGROUP_POD_UID_LEN + 1], enum cgroup_qos *qos)
{
	const char *pod;
	struct span name;

	if (!span_ends(c, ".slice"))
		return false;
	name = span_cut(c, 0, strlen(".slice"));
	/* the uid is the tail after the last "-pod" */
	for (pod = name.p + name.n; pod > name.p + 3; pod--)
		if (memcmp(pod - 4, "-pod", 4) == 0)
			break;
	if (pod <= name.p + 3 || !parse_pod_uid((struct span){ pod, (size_t)(name.p + name.n - pod) }, uid))
		return false;
	if (!memmem(name.p, (size_t)(pod - name.p), "kubepods", 8))
		return false;
	if (memmem(name.p, (size_t)(pod - name.p), "-burstable-", 11))
		*qos = CGROUP_QOS_BURSTABLE;
	else if (memmem(name.p, (size_t)(pod - name.p), "-besteffort-", 12))
		*qos = CGROUP_QOS_BESTEFFORT;
	else
		*qos = CGROUP_QOS_GUARANTEED;
	return true;
}

enum ctr_match {
	CTR_NONE = 0,
	CTR_ID,                   /* a container's cgroup */
	CTR_CONMON,               /* CRI-O's monitor */
	CTR_MOUNT,                /* a .mount unit naming an id */
};

/* Container cgroup names: "<id>", "cri-containerd-<id>.scope", "crio-<id>[.scope]",
 * "docker-<id>.scope", "libpod-[payload-]<id>[.scope]", "crio-conmon-<id>[.scope]",
 * and the mixed-driver "<slice>:<runtime>:<id>" (the slice is handled by the caller). */
static enum ctr_match match_container(struct span c, char id[CGROUP_CONTAINER_ID_LEN + 1],
				      enum cgroup_runtime *runtime)
{
	static const struct {
		const char *prefix;
		enum cgroup_runtime runtime;
		enum ctr_match match;
	} forms[] = {
		{ "crio-conmon-", CGROUP_RUNTIME_CRIO, CTR_CONMON },
		{ "cri-containerd-", CGROUP_RUNTIME_CONTAINERD, CTR_ID },
		{ "crio-", CGROUP_RUNTIME_CRIO, CTR_ID },
		{ "docker-", CGROUP_RUNTIME_DOCKER, CTR_ID },
		{ "libpod-payload-", CGROUP_RUNTIME_UNKNOWN, CTR_ID },
		{ "libpod-", CGROUP_RUNTIME_UNKNOWN, CTR_ID },
		{ "", CGROUP_RUNTIME_UNKNOWN, CTR_ID },
	};
	const char *colon = memchr(c.p, ':', c.n);
	struct span body = c;

	if (colon) {
		/* "kubepods-...slice:cri-containerd:<id>": the last field is the id */
		const char *last = c.p + c.n;

		while (last > c.p && last[-1] != ':')
			last--;
		body = (struct span){ last, (size_t)(c.p + c.n - last) };
		if (!is_container_id(body))
			return CTR_NONE;
		*runtime = memmem(c.p, c.n, "cri-containerd:", 15) ? CGROUP_RUNTIME_CONTAINERD :
			   memmem(c.p, c.n, "crio:", 5)		   ? CGROUP_RUNTIME_CRIO :
			   memmem(c.p, c.n, "docker:", 7)	   ? CGROUP_RUNTIME_DOCKER :
								     CGROUP_RUNTIME_UNKNOWN;
		memcpy(id, body.p, CGROUP_CONTAINER_ID_LEN);
		id[CGROUP_CONTAINER_ID_LEN] = '\0';
		return CTR_ID;
	}
	if (span_ends(c, ".mount")) {
		/* crio-<id>.mount, run-containerd-...-<id>-rootfs.mount: not a container */
		for (size_t i = 0; i + CGROUP_CONTAINER_ID_LEN <= c.n; i++)
			if (is_container_id((struct span){ c.p + i, CGROUP_CONTAINER_ID_LEN }))
				return CTR_MOUNT;
		return CTR_NONE;
	}
	if (span_ends(c, ".scope"))
		body = span_cut(c, 0, strlen(".scope"));
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		struct span rest;

		if (!span_starts(body, forms[i].prefix))
			continue;
		rest = span_cut(body, strlen(forms[i].prefix), 0);
		if (!is_container_id(rest))
			continue;
		memcpy(id, rest.p, CGROUP_CONTAINER_ID_LEN);
		id[CGROUP_CONTAINER_ID_LEN] = '\0';
		*runtime = forms[i].runtime;
		return forms[i].match;
	}
	return CTR_NONE;
}

static bool is_systemd_unit(struct span c)
{
	return span_ends(c, ".scope") || span_ends(c, ".service") || span_ends(c, ".slice");
}

int cgroup_parse_path(const char *path, struct cgroup_ref *ret)
{
	struct cgroup_ref r;
	bool in_kubepods = false;
	const char *p;

	if (!path || !*path)
		return -EINVAL;
	memset(&r, 0, sizeof(r));
	for (p = path; *p;) {
		struct span c;
		char id[CGROUP_CONTAINER_ID_LEN + 1], uid[CGROUP_POD_UID_LEN + 1];
		enum cgroup_runtime runtime = CGROUP_RUNTIME_UNKNOWN;
		enum cgroup_qos qos = CGROUP_QOS_NONE;
		enum ctr_match m;

		while (*p == '/')
			p++;
		c.p = p;
		while (*p && *p != '/')
			p++;
		c.n = (size_t)(p - c.p);
		if (c.n == 0 || span_eq(c, ".") || span_eq(c, ".."))
			continue;

		if (is_kubepods_root(c)) {
			/* a (possibly nested) kubelet's root: start over */
			memset(&r, 0, sizeof(r));
			in_kubepods = true;
			r.kind = CGROUP_KIND_KUBEPODS;
			continue;
		}
		if (r.kind == CGROUP_KIND_CONTAINER || r.kind == CGROUP_KIND_CONTAINER_CHILD) {
			/* below a container: its own sub-cgroups, or a nested one */
			m = match_container(c, id, &runtime);
			if (m == CTR_ID) {
				memcpy(r.container_id, id, sizeof(id));
				r.runtime = runtime;
				r.kind = r.pod_uid[0] ? CGROUP_KIND_CONTAINER : CGROUP_KIND_HOST;
				r.container_path_len = (size_t)(p - path);
			} else {
				r.kind = CGROUP_KIND_CONTAINER_CHILD;
			}
			continue;
		}
		if (r.kind == CGROUP_KIND_HOST && r.container_id[0]) {
			/* below a container outside Kubernetes: a systemd unit there is
			 * a nested node's own host cgroup (kind, minikube), anything else
			 * still belongs to that container */
			m = match_container(c, id, &runtime);
			if (m == CTR_ID) {
				memcpy(r.container_id, id, sizeof(id));
				r.runtime = runtime;
				r.container_path_len = (size_t)(p - path);
			} else if (is_systemd_unit(c)) {
				memset(&r, 0, sizeof(r));
			}
			continue;
		}
		if (parse_pod_slice(c, uid, &qos)) {
			/* systemd pod slice, possibly fused with the container in the
			 * mixed-driver form "<pod slice>:cri-containerd:<id>" */
			in_kubepods = true;
			memcpy(r.pod_uid, uid, sizeof(uid));
			r.qos = qos;
			r.kind = CGROUP_KIND_POD;
			continue;
		}
		if (memchr(c.p, ':', c.n)) {
			const char *colon = memchr(c.p, ':', c.n);

			if (parse_pod_slice((struct span){ c.p, (size_t)(colon - c.p) }, uid, &qos) &&
			    match_container(c, id, &runtime) == CTR_ID) {
				in_kubepods = true;
				memcpy(r.pod_uid, uid, sizeof(uid));
				r.qos = qos;
				memcpy(r.container_id, id, sizeof(id));
				r.runtime = runtime;
				r.kind = CGROUP_KIND_CONTAINER;
				r.container_path_len = (size_t)(p - path);
				continue;
			}
		}
		if (in_kubepods && r.kind == CGROUP_KIND_KUBEPODS && qos_of_name(c) != CGROUP_QOS_NONE) {
			r.qos = qos_of_name(c);
			r.kind = CGROUP_KIND_QOS;
			continue;
		}
		if (in_kubepods && (r.kind == CGROUP_KIND_KUBEPODS || r.kind == CGROUP_KIND_QOS) &&
		    span_starts(c, "pod")) {
			/* a pod directly under the root is Guaranteed */
			if (r.qos == CGROUP_QOS_NONE)
				r.qos = CGROUP_QOS_GUARANTEED;
			if (parse_pod_uid(span_cut(c, 3, 0), uid)) {
				memcpy(r.pod_uid, uid, sizeof(uid));
				r.kind = CGROUP_KIND_POD;
			} else {
				/* cut short (a truncated path): a pod, but no UID to trust */
				r.kind = CGROUP_KIND_OTHER_POD_CHILD;
			}
			continue;
		}
		m = match_container(c, id, &runtime);
		if (r.kind == CGROUP_KIND_POD || r.kind == CGROUP_KIND_OTHER_POD_CHILD) {
			if (m == CTR_ID && r.pod_uid[0]) {
				memcpy(r.container_id, id, sizeof(id));
				r.runtime = runtime;
				r.kind = CGROUP_KIND_CONTAINER;
				r.container_path_len = (size_t)(p - path);
			} else {
				r.kind = m == CTR_CONMON ? CGROUP_KIND_CONMON : CGROUP_KIND_OTHER_POD_CHILD;
			}
			continue;
		}
		if (r.kind == CGROUP_KIND_KUBEPODS || r.kind == CGROUP_KIND_QOS)
			continue; /* something else under kubepods: still not a pod */
		/* outside Kubernetes */
		if (m == CTR_ID) {
			memcpy(r.container_id, id, sizeof(id));
			r.runtime = runtime;
			r.container_path_len = (size_t)(p - path);
		} else if (m == CTR_CONMON) {
			r.kind = CGROUP_KIND_CONMON;
			continue;
		}
		if (r.kind == CGROUP_KIND_CONMON)
			r.kind = CGROUP_KIND_HOST;
	}
	if (r.kind == CGROUP_KIND_HOST && !r.container_id[0])
		r.container_path_len = 0;
	*ret = r;
	return 0;
}

bool cgroup_kind_is_container(enum cgroup_kind kind)
{
	return kind == CGROUP_KIND_CONTAINER || kind == CGROUP_KIND_CONTAINER_CHILD;
}

const char *cgroup_kind_name(enum cgroup_kind kind)
{
	switch (kind) {
	case CGROUP_KIND_HOST: return "host";
	case CGROUP_KIND_KUBEPODS: return "kubepods";
	case CGROUP_KIND_QOS: return "qos";
	case CGROUP_KIND_POD: return "pod";
	case CGROUP_KIND_CONTAINER: return "container";
	case CGROUP_KIND_CONTAINER_CHILD: return "container_child";
	case CGROUP_KIND_CONMON: return "conmon";
	case CGROUP_KIND_OTHER_POD_CHILD: return "pod_other";
	}
	return "unknown";
}

const char *cgroup_runtime_name(enum cgroup_runtime runtime)
{
	switch (runtime) {
	case CGROUP_RUNTIME_CONTAINERD: return "containerd";
	case CGROUP_RUNTIME_CRIO: return "crio";
	case CGROUP_RUNTIME_DOCKER: return "docker";
	case CGROUP_RUNTIME_UNKNOWN: break;
	}
	return "unknown";
}

const char *cgroup_qos_name(enum cgroup_qos qos)
{
	switch (qos) {
	case CGROUP_QOS_GUARANTEED: return "guaranteed";
	case CGROUP_QOS_BURSTABLE: return "burstable";
	case CGROUP_QOS_BESTEFFORT: return "besteffort";
	case CGROUP_QOS_NONE: break;
	}
	return "none";
}

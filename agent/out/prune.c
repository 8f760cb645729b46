/* Prune: earlier pods' record files, matched by name, checked with lstat,
 * deleted with unlinkat in the directory that was read. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/out/prune.h"

#define HASH_HEX 64
/* ".YYYYMMDD-hhmmss": the writer's rotation suffix, ".N" after it when a second rotated in one second */
#define ROTATION_STAMP 16

static bool digits(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] < '0' || p[i] > '9')
			return false;
	return true;
}

static bool rotation_suffix(const char *s)
{
	size_t extra;

	if (strlen(s) < ROTATION_STAMP || s[0] != '.' || !digits(s + 1, 8) || s[9] != '-' || !digits(s + 10, 6))
		return false;
	s += ROTATION_STAMP;
	if (!*s)
		return true;
	extra = strlen(s + 1);
	return s[0] == '.' && extra >= 1 && extra <= 3 && digits(s + 1, extra);
}

/* A DaemonSet's pods are named `<daemonset>-<5 chars>`: a file's pod is of this
 * DaemonSet when it shares everything up to this agent's last '-' (the whole
 * name, for a pod not named so). */
static bool same_daemonset(const char *pod, size_t pod_len, const char *own)
{
	const char *dash = strrchr(own, '-');
	size_t keep = dash ? (size_t)(dash - own) + 1 : strlen(own);

	if (!dash)
		return pod_len == keep && strncmp(pod, own, keep) == 0;
	return pod_len > keep && strncmp(pod, own, keep) == 0;
}

/* The length of `<pod>_<ns>_<container>-<64 hex>.log` when name is that, or
 * that and a rotation suffix, for this DaemonSet's namespace, container and
 * pods; 0 when it is anything else. Names are DNS labels and subdomains:
 * none holds '_'. */
static size_t record_file_base(const char *name, const struct prune_options *o)
{
	size_t ns_len = strlen(o->pod_namespace), ctr_len = strlen(o->container_name);
	const char *ns = strchr(name, '_'), *ctr, *hex, *end;

	if (!ns || ns == name || !same_daemonset(name, (size_t)(ns - name), o->pod_name ? o->pod_name : ""))
		return 0;
	ns++;
	if (strncmp(ns, o->pod_namespace, ns_len) != 0 || ns[ns_len] != '_')
		return 0;
	ctr = ns + ns_len + 1;
	if (strncmp(ctr, o->container_name, ctr_len) != 0 || ctr[ctr_len] != '-')
		return 0;
	hex = ctr + ctr_len + 1;
	for (int i = 0; i < HASH_HEX; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;
	end = hex + HASH_HEX;
	if (strncmp(end, ".log", 4) != 0)
		return 0;
	end += 4;
	return !*end || rotation_suffix(end) ? (size_t)(end - name) : 0;
}

static void failed(struct prune_result *r, const char *name, int err)
{
	if (!r->errors++) {
		r->first_error = err;
		snprintf(r->first_error_name, sizeof(r->first_error_name), "%s", name);
	}
}

int prune_pass(const struct prune_options *o, struct prune_result *ret)
{
	uint32_t cap = o->max_candidates ? o->max_candidates : PRUNE_MAX_CANDIDATES;
	int64_t before_ns = o->now_ns - (int64_t)o->older_than_s * 1000000000LL;
	struct prune_result r;
	struct dirent *de;
	size_t live_len;
	DIR *d;
	int dfd, err;

	if (!o->live_name || !*o->live_name || !o->pod_namespace || !*o->pod_namespace || !o->container_name ||
	    !*o->container_name)
		return -EINVAL;
	live_len = strlen(o->live_name);
	dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		err = -errno;
		close(dfd);
		return err;
	}
	memset(&r, 0, sizeof(r));
	while (o->older_than_s && (de = readdir(d))) {
		size_t base = record_file_base(de->d_name, o);
		struct stat st;

		/* the writer's own file and its rotated ones: it keeps --keep-rotated of them */
		if (!base || (base == live_len && strncmp(de->d_name, o->live_name, live_len) == 0))
			continue;
		if (r.candidates == cap) {
			r.capped = true;
			break;
		}
		r.candidates++;
		/* lstat: nothing is opened (a FIFO cannot block) and a link is seen as a link */
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				failed(&r, de->d_name, -errno);
			continue;
		}
		if (!S_ISREG(st.st_mode) || (st.st_dev == o->live_dev && st.st_ino == o->live_ino))
			continue;
		if ((int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec > before_ns)
			continue;
		if (unlinkat(dfd, de->d_name, 0) < 0) {
			if (errno != ENOENT)
				failed(&r, de->d_name, -errno);
			continue;
		}
		r.removed++;
		r.bytes_freed += (uint64_t)st.st_size;
		if (r.listed < PRUNE_LISTED) {
			struct prune_file *f = &r.files[r.listed++];

			snprintf(f->name, sizeof(f->name), "%s", de->d_name);
			f->bytes = (uint64_t)st.st_size;
			f->modified_ns = (int64_t)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
		}
	}
	closedir(d);
	*ret = r;
	return 0;
}

void prune_stats_add(struct prune_stats *s, int pass, const struct prune_result *res)
{
	s->passes++;
	if (pass < 0) {
		s->errors++;
		return;
	}
	s->files += res->removed;
	s->bytes += res->bytes_freed;
	s->errors += res->errors;
}

void prune_report(const struct prune_options *o, const struct prune_result *res, const struct record_node *node,
		  const char *boot_id, record_emit_cb emit, void *emit_ctx)
{
	cJSON *detail, *files, *f, *e;
	char summary[768], size[32], when[CLOCK_TEXT_LEN];
	struct record r;

	if (!res->removed || !(detail = cJSON_CreateObject()))
		return;
	cJSON_AddStringToObject(detail, "dir", o->dir);
	cJSON_AddNumberToObject(detail, "older_than_s", o->older_than_s);
	cJSON_AddNumberToObject(detail, "files_pruned", res->removed);
	cJSON_AddNumberToObject(detail, "bytes_freed", (double)res->bytes_freed);
	files = cJSON_AddArrayToObject(detail, "files");
	for (uint32_t i = 0; files && i < res->listed; i++) {
		if (!(f = cJSON_CreateObject()))
			break;
		cJSON_AddStringToObject(f, "name", res->files[i].name);
		cJSON_AddNumberToObject(f, "bytes", (double)res->files[i].bytes);
		cJSON_AddStringToObject(f, "modified_at", clock_format(res->files[i].modified_ns, when));
		cJSON_AddItemToArray(files, f);
	}
	if (res->removed > res->listed)
		cJSON_AddNumberToObject(detail, "files_not_listed", res->removed - res->listed);
	cJSON_AddNumberToObject(detail, "errors", res->errors);
	if (res->errors && (e = cJSON_AddObjectToObject(detail, "first_error"))) {
		cJSON_AddStringToObject(e, "name", res->first_error_name);
		cJSON_AddStringToObject(e, "error", strerror(-res->first_error));
	}
	if (res->capped)
		cJSON_AddBoolToObject(detail, "more_next_pass", 1);
	if (res->bytes_freed >= 1024 * 1024)
		snprintf(size, sizeof(size), "%.1f MiB", (double)res->bytes_freed / (1024.0 * 1024.0));
	else
		snprintf(size, sizeof(size), "%llu bytes", (unsigned long long)res->bytes_freed);
	snprintf(summary, sizeof(summary),
		 "removed %u record file%s of earlier pods of %s/%s from %s (%s), untouched for %u s or more",
		 res->removed, res->removed == 1 ? "" : "s", o->pod_namespace, o->container_name, o->dir, size,
		 o->older_than_s);
	memset(&r, 0, sizeof(r));
	r.type = RECORD_AGENT_FILES_PRUNED;
	r.event_time_ns = o->now_ns;
	r.node = node;
	record_make_id(r.type, boot_id, (uint64_t)o->now_ns, res->removed, res->bytes_freed, r.record_id);
	r.detail_key = "agent";
	r.detail = detail;
	r.summary = summary;
	emit(emit_ctx, &r);
	cJSON_Delete(detail);
}

/* ---- off the loop ---- */

/* a pass on the worker thread: its own copy of every name it reads */
struct prune_job {
	struct pruner *owner;     /* NULL once the pruner is gone: the job frees itself */
	char dir[4096];
	char live_name[256];
	char pod_name[256];
	char pod_namespace[256];
	char container_name[256];
	struct prune_options opts; /* pointing at the copies above */
	struct prune_result res;
	int pass;
};

struct pruner {
	struct aio *aio;
	struct prune_job tmpl;    /* the options every pass starts from */
	prune_done_cb done;
	void *ctx;
	struct prune_job *in_flight;
	struct prune_stats stats;
};

static bool copy(char *dst, size_t len, const char *src)
{
	return snprintf(dst, len, "%s", src ? src : "") < (int)len;
}

int pruner_new(struct aio *aio, const struct prune_options *opts, prune_done_cb done, void *ctx, struct pruner **ret)
{
	struct pruner *p = calloc(1, sizeof(*p));
	struct prune_job *t;

	if (!p)
		return -ENOMEM;
	t = &p->tmpl;
	if (!copy(t->dir, sizeof(t->dir), opts->dir) || !copy(t->live_name, sizeof(t->live_name), opts->live_name) ||
	    !copy(t->pod_name, sizeof(t->pod_name), opts->pod_name) ||
	    !copy(t->pod_namespace, sizeof(t->pod_namespace), opts->pod_namespace) ||
	    !copy(t->container_name, sizeof(t->container_name), opts->container_name)) {
		free(p);
		return -EINVAL;
	}
	t->opts = *opts;
	p->aio = aio;
	p->done = done;
	p->ctx = ctx;
	p->stats.after_s = opts->older_than_s;
	*ret = p;
	return 0;
}

void pruner_free(struct pruner *p)
{
	if (!p)
		return;
	if (p->in_flight)
		p->in_flight->owner = NULL;
	free(p);
}

static int run_job(void *arg)
{
	struct prune_job *job = arg;

	job->pass = prune_pass(&job->opts, &job->res);
	return job->pass;
}

static void on_job_done(void *ctx, int res)
{
	struct prune_job *job = ctx;
	struct pruner *p = job->owner;

	(void)res;
	if (p) {
		p->in_flight = NULL;
		prune_stats_add(&p->stats, job->pass, &job->res);
		if (p->done)
			p->done(p->ctx, job->pass, &job->opts, &job->res);
	}
	free(job);
}

int pruner_run(struct pruner *p, int64_t now_ns, dev_t live_dev, ino_t live_ino)
{
	struct prune_job *job;
	int r;

	if (p->in_flight)
		return -EBUSY;
	job = malloc(sizeof(*job));
	if (!job)
		return -ENOMEM;
	*job = p->tmpl;
	job->owner = p;
	job->opts.dir = job->dir;
	job->opts.live_name = job->live_name;
	job->opts.pod_name = job->pod_name;
	job->opts.pod_namespace = job->pod_namespace;
	job->opts.container_name = job->container_name;
	job->opts.now_ns = now_ns;
	job->opts.live_dev = live_dev;
	job->opts.live_ino = live_ino;
	job->pass = 0;
	r = aio_call(p->aio, run_job, job, on_job_done, job);
	if (r < 0) {
		free(job);
		return r;
	}
	p->in_flight = job;
	return 0;
}

bool pruner_idle(const struct pruner *p)
{
	return !p->in_flight;
}

void pruner_get_stats(const struct pruner *p, struct prune_stats *ret)
{
	*ret = p->stats;
}

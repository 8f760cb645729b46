/* The checkpoint file in the state dir. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "nodetrail/out/checkpoint.h"

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* tmp, fsync, rename, fsync of the directory: blocking, off the loop */
static int write_file(const char *dir, const char *text)
{
	char tmp[4096], path[4096];
	int fd, dfd, r = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, CHECKPOINT_FILE);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, CHECKPOINT_FILE);
	/* a fresh file of our own: never one planted there (a symlink), never one a crash left */
	unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	r = write_all(fd, text, strlen(text));
	if (r == 0)
		r = write_all(fd, "\n", 1);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	/* the rename itself must survive a power loss too */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

int checkpoint_save(const char *dir, const cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);
	int r;

	if (!text)
		return -ENOMEM;
	r = write_file(dir, text);
	free(text);
	return r;
}

/* ---- off the loop ---- */

struct checkpoint_job {
	struct checkpoint_saver *saver; /* NULL once the saver is gone: the job cleans up after itself */
	char *text;
	char dir[4096];           /* the worker's own copy */
};

struct checkpoint_saver {
	char *dir;
	struct aio *aio;
	void (*done)(void *ctx, int res);
	void *ctx;
	struct checkpoint_job *in_flight;
	char *waiting;            /* the newest document not yet written */
};

static int run_job(void *arg)
{
	struct checkpoint_job *job = arg;

	return write_file(job->dir, job->text);
}

static void start(struct checkpoint_saver *cs, char *text);

static void on_written(void *ctx, int res)
{
	struct checkpoint_job *job = ctx;
	struct checkpoint_saver *cs = job->saver;

	free(job->text);
	free(job);
	if (!cs)
		return;
	cs->in_flight = NULL;
	if (cs->done)
		cs->done(cs->ctx, res);
	if (cs->waiting) {
		char *text = cs->waiting;

		cs->waiting = NULL;
		start(cs, text);
	}
}

static void start(struct checkpoint_saver *cs, char *text)
{
	struct checkpoint_job *job = calloc(1, sizeof(*job));
	int r;

	if (!job) {
		free(text);
		if (cs->done)
			cs->done(cs->ctx, -ENOMEM);
		return;
	}
	job->saver = cs;
	job->text = text;
	snprintf(job->dir, sizeof(job->dir), "%s", cs->dir);
	r = aio_call(cs->aio, run_job, job, on_written, job);
	if (r < 0) {
		free(text);
		free(job);
		if (cs->done)
			cs->done(cs->ctx, r);
		return;
	}
	cs->in_flight = job;
}

int checkpoint_saver_new(const char *dir, struct aio *aio, void (*done)(void *ctx, int res), void *ctx,
			 struct checkpoint_saver **ret)
{
	struct checkpoint_saver *cs = calloc(1, sizeof(*cs));

	if (!cs || !(cs->dir = strdup(dir))) {
		free(cs);
		return -ENOMEM;
	}
	cs->aio = aio;
	cs->done = done;
	cs->ctx = ctx;
	*ret = cs;
	return 0;
}

void checkpoint_saver_free(struct checkpoint_saver *cs)
{
	if (!cs)
		return;
	if (cs->in_flight)
		cs->in_flight->saver = NULL; /* the job frees itself if its completion ever comes */
	free(cs->waiting);
	free(cs->dir);
	free(cs);
}

int checkpoint_saver_save(struct checkpoint_saver *cs, const cJSON *doc)
{
	char *text = cJSON_PrintUnformatted(doc);

	if (!text)
		return -ENOMEM;
	if (cs->in_flight) {
		free(cs->waiting);
		cs->waiting = text;
		return 0;
	}
	start(cs, text);
	return 0;
}

bool checkpoint_saver_idle(const struct checkpoint_saver *cs)
{
	return !cs->in_flight && !cs->waiting;
}

int checkpoint_parse(const char *buf, size_t len, cJSON **ret_doc)
{
	cJSON *doc = cJSON_ParseWithLength(buf, len), *v;

	if (!cJSON_IsObject(doc))
		goto bad;
	v = cJSON_GetObjectItemCaseSensitive(doc, "version");
	if (!cJSON_IsNumber(v) || v->valuedouble != CHECKPOINT_VERSION)
		goto bad;
	*ret_doc = doc;
	return 0;
bad:
	cJSON_Delete(doc);
	return -EINVAL;
}

int checkpoint_load(const char *dir, cJSON **ret_doc)
{
	char path[4096], bad[4200];
	struct stat st;
	char *buf = NULL;
	ssize_t n = 0;
	int fd, r;

	snprintf(path, sizeof(path), "%s/%s", dir, CHECKPOINT_FILE);
	/* never through a planted symlink, never blocked on a FIFO: a regular file or nothing */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > CHECKPOINT_MAX_BYTES) {
		r = -EINVAL;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		r = -ENOMEM;
		goto out;
	}
	while (n < st.st_size) {
		ssize_t k = read(fd, buf + n, (size_t)(st.st_size - n));

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += k;
	}
	r = checkpoint_parse(buf, (size_t)n, ret_doc);
out:
	close(fd);
	free(buf);
	if (r == -EINVAL) {
		snprintf(bad, sizeof(bad), "%s.bad", path);
		rename(path, bad);
	}
	return r;
}

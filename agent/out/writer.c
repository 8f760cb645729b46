/* Writer: CRI lines, queued in memory, written in batches of whole lines
 * that complete on the loop (one in flight), rotated by rename. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "nodetrail/base/buf.h"
#include "nodetrail/base/clock.h"
#include "nodetrail/base/utf8.h"
#include "nodetrail/out/writer.h"

#define BATCH_MAX (256 * 1024)
/* "<30-byte time> stdout F " */
#define PREFIX_LEN (30 + 10)
#define SUMMARY_KEEP 1024
#define RETRY_MS 1000             /* after a failed write */

struct writer {
	char *dir;
	char *file_name;
	char *path;
	uint64_t max_bytes;
	unsigned keep_rotated;
	unsigned rotated_min_age_s;
	size_t queue_bytes;
	struct loop *loop;
	struct aio *aio;
	bool stream;              /* fd is a stream we do not own: bare lines, no rotation, no sync */
	int fd;
	dev_t dev;
	ino_t ino;
	uint64_t size;            /* bytes in the active file */
	bool mid_line;            /* the file ends inside a line (a short write) */
	int64_t last_ts;
	struct buf queue;         /* whole lines appended, not yet in a batch */
	uint64_t queue_lines;
	struct buf batch;         /* the lines of the write in flight: batch[done, len) are still to be written */
	size_t batch_done;
	uint64_t batch_lines;     /* lines of the batch not yet written whole */
	bool writing;             /* a write is in flight */
	bool syncing;             /* an fsync is in flight */
	uint64_t appended;        /* bytes appended since start */
	uint64_t written;         /* of them, bytes written */
	bool sync_owed;           /* an fsync is owed once written reaches sync_upto */
	uint64_t sync_upto;
	uint64_t retry_timer;     /* a loop timer after a failure, 0 if none */
	writer_done_cb done;      /* told of lines written (or lost), in order */
	void *done_ctx;
	struct writer_stats stats;
};

void writer_set_done(struct writer *w, writer_done_cb cb, void *ctx)
{
	w->done = cb;
	w->done_ctx = ctx;
}

static void lines_done(struct writer *w, uint64_t n, bool written)
{
	if (n && w->done)
		w->done(w->done_ctx, n, written);
}

static int open_file(struct writer *w, const char **ret_detail)
{
	struct stat st;
	int fd;

	/* O_NONBLOCK: a FIFO planted here fails (no reader) or is refused below, never blocks the agent */
	fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK, 0640);
	if (fd < 0) {
		if (errno == ELOOP && ret_detail)
			*ret_detail = "the record file is a symlink (kubelet deletes dangling ones): remove it";
		else if (ret_detail)
			*ret_detail = "open";
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		if (ret_detail)
			*ret_detail = "the record file is not a regular file";
		return -EINVAL;
	}
	if (w->fd >= 0)
		close(w->fd);
	w->fd = fd;
	w->dev = st.st_dev;
	w->ino = st.st_ino;
	w->size = (uint64_t)st.st_size;
	w->mid_line = false;
	return 0;
}

void writer_free(struct writer *w)
{
	if (!w)
		return;
	loop_timer_del(w->loop, w->retry_timer);
	if (w->fd >= 0 && !w->stream)
		close(w->fd);
	buf_free(&w->queue);
	buf_free(&w->batch);
	free(w->dir);
	free(w->file_name);
	free(w->path);
	free(w);
}

/* at start: a crash mid-line left a partial line: end it, so the next
 * record starts a line of its own */
static void repair_last_line(struct writer *w)
{
	int rfd = open(w->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	char last;

	if (rfd < 0)
		return;
	if (w->size > 0 && pread(rfd, &last, 1, (off_t)w->size - 1) == 1 && last != '\n' && write(w->fd, "\n", 1) == 1)
		w->size++;
	close(rfd);
}

int writer_new(const struct writer_options *opts, struct writer **ret, const char **ret_err_detail)
{
	struct writer *w = calloc(1, sizeof(*w));
	struct stat st;
	int err;

	if (!w)
		return -ENOMEM;
	w->fd = -1;
	w->loop = opts->loop;
	w->aio = opts->aio;
	w->queue_bytes = opts->queue_bytes ? opts->queue_bytes : WRITER_QUEUE_BYTES;
	if (opts->stream_name) {
		w->stream = true;
		w->fd = opts->stream_fd;
		w->max_bytes = UINT64_MAX;
		w->dir = strdup("");
		w->file_name = strdup(opts->stream_name);
		w->path = strdup(opts->stream_name);
		if (!w->dir || !w->file_name || !w->path) {
			err = -ENOMEM;
			goto fail;
		}
		if (fstat(w->fd, &st) < 0) {
			err = -errno;
			w->fd = -1;
			if (ret_err_detail)
				*ret_err_detail = "the output stream is not open";
			goto fail;
		}
		w->dev = st.st_dev;
		w->ino = st.st_ino;
		*ret = w;
		return 0;
	}
	w->dir = strdup(opts->dir);
	w->file_name = strdup(opts->file_name);
	if (!w->dir || !w->file_name || asprintf(&w->path, "%s/%s", opts->dir, opts->file_name) < 0) {
		w->path = NULL;
		err = -ENOMEM;
		goto fail;
	}
	w->max_bytes = opts->max_bytes ? opts->max_bytes : 10ULL * 1024 * 1024;
	w->keep_rotated = opts->keep_rotated ? opts->keep_rotated : 5;
	w->rotated_min_age_s = opts->rotated_min_age_s ? opts->rotated_min_age_s : 60;
	if (stat(opts->dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
		err = stat(opts->dir, &st) < 0 ? -errno : -ENOTDIR;
		if (ret_err_detail)
			*ret_err_detail = "output directory";
		goto fail;
	}
	err = open_file(w, ret_err_detail);
	if (err < 0)
		goto fail;
	repair_last_line(w);
	*ret = w;
	return 0;

fail:
	writer_free(w);
	return err;
}

/* Oversized record: keep what identifies it, say it was cut. */
static char *shrink(const char *json, size_t len)
{
	static const char *const keep[] = { "schema", "record_id", "seq", "type", "event_time",
					    "ClusterName", "NodeName", "pod", "container", "sources" };
	cJSON *in = cJSON_ParseWithLength(json, len), *out = cJSON_CreateObject(), *summary;
	char *text = NULL;

	if (!out)
		goto done;
	for (size_t i = 0; in && i < sizeof(keep) / sizeof(keep[0]); i++) {
		cJSON *v = cJSON_GetObjectItem(in, keep[i]);

		if (v)
			cJSON_AddItemToObject(out, keep[i], cJSON_Duplicate(v, 1));
	}
	summary = in ? cJSON_GetObjectItem(in, "summary") : NULL;
	if (cJSON_IsString(summary)) {
		char cut[SUMMARY_KEEP + 1];
		size_t n = strlen(summary->valuestring);

		n = utf8_cut(summary->valuestring, n, SUMMARY_KEEP);
		snprintf(cut, sizeof(cut), "%.*s", (int)n, summary->valuestring);
		cJSON_AddStringToObject(out, "summary", cut);
	}
	cJSON_AddBoolToObject(out, "truncated", 1);
	cJSON_AddNumberToObject(out, "original_bytes", (double)len);
	text = cJSON_PrintUnformatted(out);
	if (text && strlen(text) + PREFIX_LEN + 1 > WRITER_MAX_LINE) {
		/* the kept keys alone are too big (a huge cgroup path): bare marker */
		cJSON_free(text);
		text = NULL;
	}
done:
	cJSON_Delete(in);
	cJSON_Delete(out);
	if (!text) {
		char bare[96];

		snprintf(bare, sizeof(bare), "{\"truncated\":true,\"original_bytes\":%zu}", len);
		text = strdup(bare);
	}
	return text;
}

int writer_append(struct writer *w, int64_t ts_ns, const char *json, size_t len)
{
	char *shrunk = NULL, when[CLOCK_TEXT_LEN];
	size_t line, pfx;
	int err;

	if (PREFIX_LEN + len + 1 > WRITER_MAX_LINE) {
		shrunk = shrink(json, len);
		if (!shrunk)
			return -ENOMEM;
		json = shrunk;
		len = strlen(shrunk);
		w->stats.truncated++;
	}
	/* a stream's lines get their prefix from the runtime: the same room is left for it */
	pfx = w->stream ? 0 : PREFIX_LEN;
	line = pfx + len + 1;
	if (w->queue.len + (w->batch.len - w->batch_done) + line > w->queue_bytes) {
		w->stats.dropped++;
		free(shrunk);
		return -ENOBUFS;
	}
	if (ts_ns < w->last_ts)
		ts_ns = w->last_ts;
	w->last_ts = ts_ns;
	err = buf_reserve(&w->queue, line, 4096);
	if (err == 0) {
		if (pfx) {
			clock_format(ts_ns, when);
			memcpy(w->queue.data + w->queue.len, when, 30);
			memcpy(w->queue.data + w->queue.len + 30, " stdout F ", 10);
		}
		memcpy(w->queue.data + w->queue.len + pfx, json, len);
		w->queue.data[w->queue.len + pfx + len] = '\n';
		w->queue.len += line;
		w->queue_lines++;
		w->appended += line;
	}
	free(shrunk);
	return err;
}

static int rotated_name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Keep at most keep_rotated rotated files; delete the oldest only once old
 * enough that Fluent Bit (Rotate_Wait) has finished reading it. */
static void prune_rotated(struct writer *w)
{
	size_t base = strlen(w->file_name), n = 0, cap = 0;
	char **names = NULL;
	struct dirent *de;
	DIR *d = opendir(w->dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (strncmp(de->d_name, w->file_name, base) != 0 || de->d_name[base] != '.')
			continue;
		if (n == cap) {
			char **more = realloc(names, (cap = cap ? 2 * cap : 16) * sizeof(*names));

			if (!more)
				break;
			names = more;
		}
		names[n] = strdup(de->d_name);
		if (names[n])
			n++;
	}
	closedir(d);
	qsort(names, n, sizeof(*names), rotated_name_cmp);
	for (size_t i = 0; n > w->keep_rotated && i < n - w->keep_rotated; i++) {
		char path[8192];
		struct stat st;

		snprintf(path, sizeof(path), "%s/%s", w->dir, names[i]);
		if (stat(path, &st) == 0 && time(NULL) - st.st_mtime >= (time_t)w->rotated_min_age_s)
			unlink(path);
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

static int rotate(struct writer *w)
{
	char stamp[32], target[8192];
	time_t now = time(NULL);
	struct tm tm;
	int err;

	gmtime_r(&now, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%d-%H%M%S", &tm);
	snprintf(target, sizeof(target), "%s.%s", w->path, stamp);
	for (int i = 1; access(target, F_OK) == 0 && i < 1000; i++)
		snprintf(target, sizeof(target), "%s.%s.%d", w->path, stamp, i);
	if (rename(w->path, target) < 0)
		return -errno;
	err = open_file(w, NULL);
	if (err < 0)
		return err;
	w->stats.rotations++;
	prune_rotated(w);
	return 0;
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t lines = 0;

	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	return lines;
}

/* Someone deleted or renamed the active file (or its directory): start a
 * fresh one at the path, as Fluent Bit will look there. */
static int check_identity(struct writer *w)
{
	bool mid_line = w->mid_line;
	struct stat st;
	int err;

	if (w->stream || (stat(w->path, &st) == 0 && st.st_dev == w->dev && st.st_ino == w->ino))
		return 0;
	err = open_file(w, NULL);
	if (err < 0)
		return err;
	w->stats.reopened++;
	if (mid_line && w->batch_done < w->batch.len) {
		/* the head of a cut line went away with the old file: its tail
		 * alone would be garbage at the top of the new one */
		char *nl = memchr(w->batch.data + w->batch_done, '\n', w->batch.len - w->batch_done);
		size_t skip = (size_t)(nl - (w->batch.data + w->batch_done)) + 1;

		w->batch_done += skip;
		w->written += skip;
		w->batch_lines--;
		w->stats.dropped++;
		lines_done(w, 1, false);
	}
	w->mid_line = false;
	return 0;
}

/* bytes from the queue's start that form whole lines and fit in limit */
static size_t whole_lines(const struct buf *q, size_t limit)
{
	size_t n = q->len < limit ? q->len : limit;

	while (n > 0 && q->data[n - 1] != '\n')
		n--;
	return n;
}

static void on_retry(struct loop *loop, uint64_t id, void *data)
{
	struct writer *w = data;

	w->retry_timer = 0;
	writer_flush(w);
}

static void failed(struct writer *w, int err)
{
	w->stats.last_error = err;
	if (!w->retry_timer)
		w->retry_timer = loop_timer_add(w->loop, RETRY_MS, on_retry, w);
}

static void on_synced(void *ctx, int res);
static void on_written(void *ctx, int res);

static int submit_batch(struct writer *w)
{
	int err = aio_write(w->aio, w->fd, w->batch.data + w->batch_done, w->batch.len - w->batch_done, on_written, w);

	if (err == 0)
		w->writing = true;
	return err;
}

/* Whole lines from the queue into the (empty) batch, rotating first when
 * the file is full. 0, or -errno of the rotation. */
static int next_batch(struct writer *w)
{
	size_t room = w->size < w->max_bytes ? (size_t)(w->max_bytes - w->size) : 0, n;
	int err;

	n = whole_lines(&w->queue, room < BATCH_MAX ? room : BATCH_MAX);
	if (n == 0 && w->size > 0) {
		err = rotate(w);
		if (err < 0)
			return err;
		n = whole_lines(&w->queue, BATCH_MAX);
	}
	if (n == 0) /* one line larger than the cap: it goes alone */
		n = (size_t)((char *)memchr(w->queue.data, '\n', w->queue.len) - w->queue.data) + 1;
	w->batch.len = w->batch_done = 0;
	if (n == w->queue.len) {
		/* the whole queue: swap the buffers instead of copying */
		struct buf t = w->batch;

		w->batch = w->queue;
		w->queue = t;
		w->queue.len = 0;
		if (w->queue.cap > BATCH_MAX)
			buf_free(&w->queue);
	} else {
		if (buf_append(&w->batch, w->queue.data, n) < 0)
			return -ENOMEM;
		buf_consume(&w->queue, n);
	}
	w->batch_lines = count_lines(w->batch.data, w->batch.len);
	w->queue_lines -= w->batch_lines;
	return 0;
}

int writer_flush(struct writer *w)
{
	int err;

	if (w->writing || w->syncing || w->retry_timer)
		return w->stats.last_error;
	if (w->sync_owed && w->written >= w->sync_upto) {
		/* what the sync covers is written: sync before writing more */
		w->sync_owed = false;
		if (aio_fsync(w->aio, w->fd, true, on_synced, w) == 0)
			w->syncing = true;
		else
			w->stats.sync_errors++;
		return w->stats.last_error;
	}
	if (w->batch_done == w->batch.len && w->queue.len == 0)
		return w->stats.last_error;
	err = check_identity(w);
	if (err == 0 && w->batch_done == w->batch.len)
		err = next_batch(w);
	if (err == 0 && w->batch_done < w->batch.len)
		err = submit_batch(w);
	if (err < 0) {
		w->stats.write_errors++;
		failed(w, err);
	}
	return w->stats.last_error;
}

static void on_written(void *ctx, int res)
{
	struct writer *w = ctx;
	uint64_t lines;

	w->writing = false;
	if (res <= 0) {
		w->stats.write_errors++;
		failed(w, res < 0 ? res : -EIO);
		return;
	}
	lines = count_lines(w->batch.data + w->batch_done, (size_t)res);
	w->stats.lines += lines;
	w->batch_lines -= lines;
	w->stats.bytes += (uint64_t)res;
	w->size += (uint64_t)res;
	w->written += (uint64_t)res;
	w->batch_done += (size_t)res;
	w->mid_line = w->batch.data[w->batch_done - 1] != '\n';
	w->stats.last_error = 0;
	lines_done(w, lines, true);
	if (w->batch_done == w->batch.len) {
		w->batch.len = w->batch_done = 0;
		/* a burst grew it: memory follows what is in use, not the largest burst */
		if (w->batch.cap > BATCH_MAX)
			buf_free(&w->batch);
	}
	/* the rest of a short write, the next batch, or the sync owed */
	writer_flush(w);
}

static void on_synced(void *ctx, int res)
{
	struct writer *w = ctx;

	w->syncing = false;
	if (res < 0)
		w->stats.sync_errors++;
	else
		w->stats.syncs++;
	writer_flush(w);
}

void writer_sync(struct writer *w)
{
	if (w->stream) { /* a pipe has nothing to sync: written is in the runtime's hands */
		writer_flush(w);
		return;
	}
	w->sync_owed = true;
	w->sync_upto = w->appended;
	writer_flush(w);
}

bool writer_idle(const struct writer *w)
{
	return !w->writing && !w->syncing && !w->sync_owed && w->queue.len == 0 && w->batch_done == w->batch.len;
}

int writer_drain(struct writer *w, int timeout_ms)
{
	int64_t end = clock_ns(CLOCK_MONOTONIC) + (int64_t)timeout_ms * 1000000LL;

	writer_flush(w);
	while (!writer_idle(w)) {
		int64_t left = (end - clock_ns(CLOCK_MONOTONIC)) / 1000000LL;

		if (left <= 0)
			return w->stats.last_error ? w->stats.last_error : -ETIMEDOUT;
		loop_run_once(w->loop, (int)(left < 100 ? left : 100));
	}
	return 0;
}

const char *writer_path(const struct writer *w)
{
	return w->path;
}

void writer_file_id(const struct writer *w, dev_t *ret_dev, ino_t *ret_ino)
{
	*ret_dev = w->dev;
	*ret_ino = w->ino;
}

void writer_get_stats(const struct writer *w, struct writer_stats *ret)
{
	*ret = w->stats;
	ret->queued = w->queue_lines + w->batch_lines;
	ret->queued_bytes = w->queue.len + (w->batch.len - w->batch_done);
	ret->writing = w->writing || w->syncing;
}

/* Writer: CRI lines, queued in memory, written in batches of whole lines
 * through io_uring or write(2), rotated by rename. */
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
#include <liburing.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/out/writer.h"

#define BATCH_MAX (256 * 1024)
/* "<30-byte time> stdout F " */
#define PREFIX_LEN (30 + 10)
#define SUMMARY_KEEP 1024

struct writer {
	char *dir;
	char *file_name;
	char *path;
	uint64_t max_bytes;
	unsigned keep_rotated;
	unsigned rotated_min_age_s;
	int fd;
	dev_t dev;
	ino_t ino;
	uint64_t size;            /* bytes in the active file */
	bool mid_line;            /* the file ends inside a line (a short write) */
	int64_t last_ts;
	/* queued bytes: pending[done, len) are still to be written */
	char *pending;
	size_t len, done, cap;
	uint64_t queued_lines;
	bool use_uring;
	struct io_uring ring;
	struct writer_stats stats;
};

static int open_file(struct writer *w, const char **ret_detail)
{
	struct stat st;
	int fd;

	fd = open(w->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
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

static void free_ring(struct writer *w)
{
	if (w->use_uring)
		io_uring_queue_exit(&w->ring);
	w->use_uring = false;
	w->stats.io_uring = false;
}

void writer_free(struct writer *w)
{
	if (!w)
		return;
	free_ring(w);
	if (w->fd >= 0)
		close(w->fd);
	free(w->pending);
	free(w->dir);
	free(w->file_name);
	free(w->path);
	free(w);
}

static int raw_write(struct writer *w, const char *buf, size_t len)
{
	ssize_t n;

	if (w->use_uring) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&w->ring);
		struct io_uring_cqe *cqe;
		int err;

		if (!sqe)
			return -EBUSY;
		/* O_APPEND: the kernel appends whatever the offset says */
		io_uring_prep_write(sqe, w->fd, buf, (unsigned)len, (uint64_t)-1);
		err = io_uring_submit(&w->ring);
		if (err < 0)
			return err;
		err = io_uring_wait_cqe(&w->ring, &cqe);
		if (err < 0)
			return err;
		n = cqe->res;
		io_uring_cqe_seen(&w->ring, cqe);
		return (int)n;
	}
	do
		n = write(w->fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : (int)n;
}

static int setup_io(struct writer *w, enum writer_io io)
{
	const char *off = getenv("NODETRAIL_DISABLE_IO_URING");
	int err;

	if (io == WRITER_IO_WRITE)
		return 0;
	if (io == WRITER_IO_AUTO && off && strcmp(off, "1") == 0)
		return 0;
	err = io_uring_queue_init(8, &w->ring, 0);
	if (err < 0)
		return io == WRITER_IO_URING ? err : 0;
	w->use_uring = true;
	w->stats.io_uring = true;
	return 0;
}

int writer_new(const struct writer_options *opts, struct writer **ret, const char **ret_err_detail)
{
	struct writer *w = calloc(1, sizeof(*w));
	struct stat st;
	char last;
	int err, rfd;

	if (!w)
		return -ENOMEM;
	w->fd = -1;
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
	err = setup_io(w, opts->io);
	if (err < 0) {
		if (ret_err_detail)
			*ret_err_detail = "io_uring refused";
		goto fail;
	}
	/* a crash mid-line left a partial line: end it, so the next record
	 * starts a line of its own */
	rfd = open(w->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (rfd >= 0) {
		if (w->size > 0 && pread(rfd, &last, 1, (off_t)w->size - 1) == 1 && last != '\n' &&
		    raw_write(w, "\n", 1) == 1)
			w->size++;
		close(rfd);
	}
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

		snprintf(cut, sizeof(cut), "%s", summary->valuestring);
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

static int reserve(struct writer *w, size_t more)
{
	size_t need;
	char *p;

	if (w->done && w->done == w->len)
		w->done = w->len = 0;
	need = w->len + more;
	if (need <= w->cap)
		return 0;
	if (w->done) {
		/* slide the unwritten tail to the front before growing */
		memmove(w->pending, w->pending + w->done, w->len - w->done);
		w->len -= w->done;
		w->done = 0;
		if (w->len + more <= w->cap)
			return 0;
	}
	need = w->len + more;
	if (need < 2 * w->cap)
		need = 2 * w->cap;
	p = realloc(w->pending, need);
	if (!p)
		return -ENOMEM;
	w->pending = p;
	w->cap = need;
	return 0;
}

int writer_append(struct writer *w, int64_t ts_ns, const char *json, size_t len)
{
	char *shrunk = NULL, when[CLOCK_TEXT_LEN];
	int err;

	if (w->queued_lines >= WRITER_QUEUE_MAX) {
		w->stats.dropped++;
		return -ENOBUFS;
	}
	if (ts_ns < w->last_ts)
		ts_ns = w->last_ts;
	w->last_ts = ts_ns;
	if (PREFIX_LEN + len + 1 > WRITER_MAX_LINE) {
		shrunk = shrink(json, len);
		if (!shrunk)
			return -ENOMEM;
		json = shrunk;
		len = strlen(shrunk);
		w->stats.truncated++;
	}
	err = reserve(w, PREFIX_LEN + len + 1);
	if (err == 0) {
		clock_format(ts_ns, when);
		memcpy(w->pending + w->len, when, 30);
		memcpy(w->pending + w->len + 30, " stdout F ", 10);
		memcpy(w->pending + w->len + PREFIX_LEN, json, len);
		w->pending[w->len + PREFIX_LEN + len] = '\n';
		w->len += PREFIX_LEN + len + 1;
		w->queued_lines++;
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

/* Someone deleted or renamed the active file (or its directory): start a
 * fresh one at the path, as Fluent Bit will look there. */
static int check_identity(struct writer *w)
{
	struct stat st;

	int err;

	if (stat(w->path, &st) == 0 && st.st_dev == w->dev && st.st_ino == w->ino)
		return 0;
	err = open_file(w, NULL);
	if (err < 0)
		return err;
	w->stats.reopened++;
	if (w->mid_line) {
		/* the head of a cut line went away with the old file: its tail
		 * alone would be garbage at the top of the new one */
		char *nl = memchr(w->pending + w->done, '\n', w->len - w->done);

		w->done = (size_t)(nl - w->pending) + 1;
		w->queued_lines--;
		w->stats.dropped++;
		w->mid_line = false;
	}
	return 0;
}

/* bytes from pending[done] that form whole lines and fit in limit */
static size_t whole_lines(const struct writer *w, size_t limit)
{
	const char *start = w->pending + w->done;
	size_t avail = w->len - w->done, n = avail < limit ? avail : limit;

	while (n > 0 && start[n - 1] != '\n')
		n--;
	return n;
}

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t lines = 0;

	for (size_t i = 0; i < n; i++)
		lines += p[i] == '\n';
	return lines;
}

int writer_flush(struct writer *w)
{
	int err = check_identity(w);

	if (err < 0) {
		w->stats.write_errors++;
		return err;
	}
	while (w->done < w->len) {
		size_t room = w->size < w->max_bytes ? (size_t)(w->max_bytes - w->size) : 0;
		size_t batch;
		int n;

		if (w->mid_line) {
			/* finish the line a short write cut, whatever the size */
			batch = (size_t)((char *)memchr(w->pending + w->done, '\n', w->len - w->done) -
					 (w->pending + w->done)) + 1;
		} else {
			batch = whole_lines(w, room < BATCH_MAX ? room : BATCH_MAX);
			if (batch == 0 && w->size > 0) {
				err = rotate(w);
				if (err < 0) {
					w->stats.write_errors++;
					return err;
				}
				continue;
			}
			if (batch == 0) /* one line larger than the cap: write it alone */
				batch = whole_lines(w, BATCH_MAX);
		}
		n = raw_write(w, w->pending + w->done, batch);
		if (n <= 0) {
			w->stats.write_errors++;
			return n < 0 ? n : -EIO;
		}
		w->stats.lines += count_lines(w->pending + w->done, (size_t)n);
		w->queued_lines -= count_lines(w->pending + w->done, (size_t)n);
		w->stats.bytes += (uint64_t)n;
		w->size += (uint64_t)n;
		w->done += (size_t)n;
		w->mid_line = w->pending[w->done - 1] != '\n';
	}
	w->done = w->len = 0;
	return 0;
}

int writer_sync(struct writer *w)
{
	int err = writer_flush(w);

	if (fdatasync(w->fd) < 0 && err == 0)
		err = -errno;
	return err;
}

const char *writer_path(const struct writer *w)
{
	return w->path;
}

void writer_get_stats(const struct writer *w, struct writer_stats *ret)
{
	*ret = w->stats;
	ret->queued = w->queued_lines;
}

/* writer: the CRI line format, rotation, size limit, both I/O paths, order with writes in flight,
 * disk trouble, and the stream mode (--output stdout). */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <regex.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include <cjson/cJSON.h>

#include "nodetrail/out/writer.h"

#define NAME "nodetrail-x_kube-system_agent-0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.log"

struct fx {
	char dir[64];
	struct loop *loop;
	struct aio *aio;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	strcpy(f->dir, "/tmp/nodetrail-writer-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	unsetenv("NODETRAIL_DISABLE_IO_URING");
	assert_int_equal(loop_new(&f->loop), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	char cmd[128];

	aio_free(f->aio);
	loop_free(f->loop);
	umount2(f->dir, MNT_DETACH);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static struct writer *open_writer_queue(struct fx *f, uint64_t max_bytes, enum aio_mode io, size_t queue_bytes)
{
	struct writer_options o = { .dir = f->dir, .file_name = NAME, .max_bytes = max_bytes, .keep_rotated = 3,
				    .queue_bytes = queue_bytes, .loop = f->loop };
	const char *detail = NULL;
	struct writer *w;

	aio_free(f->aio);
	assert_int_equal(aio_new(f->loop, io, &f->aio), 0);
	o.aio = f->aio;
	assert_int_equal(writer_new(&o, &w, &detail), 0);
	return w;
}

static struct writer *open_writer(struct fx *f, uint64_t max_bytes, enum aio_mode io)
{
	return open_writer_queue(f, max_bytes, io, 0);
}

/* everything queued is written: the loop runs until the writer is idle */
static int written(struct writer *w)
{
	return writer_drain(w, 5000);
}

static char *slurp(const char *path, size_t *ret_len)
{
	FILE *fp = fopen(path, "r");
	char *buf;
	long n;

	if (!fp)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	rewind(fp);
	buf = calloc(1, (size_t)n + 1);
	assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
	fclose(fp);
	if (ret_len)
		*ret_len = (size_t)n;
	return buf;
}

static char *active(struct fx *f)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/" NAME, f->dir);
	return slurp(path, NULL);
}

static void append_seq(struct writer *w, int from, int to, int64_t ts)
{
	char json[128];

	for (int i = from; i < to; i++) {
		int n = snprintf(json, sizeof(json), "{\"seq\":%d,\"type\":\"t\"}", i);

		assert_int_equal(writer_append(w, ts + i, json, (size_t)n), 0);
	}
}

static void test_line_format_and_monotonic_time(void **state)
{
	struct fx *f = *state;
	struct writer *w = open_writer(f, 0, AIO_AUTO);
	regex_t re;
	char *text, *line, *save = NULL, prev[31] = "";
	int lines = 0;

	assert_int_equal(writer_append(w, 2000000000000000000LL, "{\"a\":1}", 7), 0);
	/* an earlier time is raised to the last one: Fluent Bit expects order */
	assert_int_equal(writer_append(w, 1000000000000000000LL, "{\"a\":2}", 7), 0);
	assert_int_equal(written(w), 0);
	writer_free(w);
	text = active(f);
	assert_int_equal(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{9}Z stdout F \\{.*\\}$",
				 REG_EXTENDED | REG_NOSUB), 0);
	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		assert_int_equal(regexec(&re, line, 0, NULL, 0), 0);
		assert_true(strncmp(prev, line, 30) <= 0);
		memcpy(prev, line, 30);
		lines++;
	}
	assert_int_equal(lines, 2);
	regfree(&re);
	free(text);
}

static void test_newline_repair(void **state)
{
	struct fx *f = *state;
	const char *cut = "2026-01-01T00:00:00.000000000Z stdout F {\"cut";
	char path[256], *text;
	struct writer *w;
	int fd;

	snprintf(path, sizeof(path), "%s/" NAME, f->dir);
	fd = open(path, O_WRONLY | O_CREAT, 0640);
	assert_int_equal(write(fd, cut, strlen(cut)), (ssize_t)strlen(cut));
	close(fd);
	w = open_writer(f, 0, AIO_AUTO);
	append_seq(w, 1, 2, 0);
	assert_int_equal(written(w), 0);
	writer_free(w);
	text = active(f);
	/* the cut line is ended; the new record starts a line of its own */
	assert_non_null(strstr(text, "{\"cut\n"));
	assert_non_null(strstr(text, "\n1970-01-01T00:00:00.000000001Z stdout F {\"seq\":1,"));
	free(text);
}

static void test_symlink_refused(void **state)
{
	struct fx *f = *state;
	struct writer_options o = { .dir = f->dir, .file_name = NAME, .loop = f->loop };
	char path[256];
	const char *detail = NULL;
	struct writer *w;

	snprintf(path, sizeof(path), "%s/" NAME, f->dir);
	assert_int_equal(symlink("/tmp/elsewhere", path), 0);
	assert_int_equal(writer_new(&o, &w, &detail), -ELOOP);
	assert_non_null(strstr(detail, "symlink"));
	o.dir = "/nonexistent/dir";
	assert_int_equal(writer_new(&o, &w, &detail), -ENOENT);
	/* a FIFO planted as the record file: an error at once, not an agent blocked for a reader */
	unlink(path);
	assert_int_equal(mkfifo(path, 0600), 0);
	o.dir = f->dir;
	alarm(5); /* without O_NONBLOCK, open() blocks: the alarm fails the test */
	assert_true(writer_new(&o, &w, &detail) < 0);
	alarm(0);
}

/* every seq in [0, n) exactly once across the active and rotated files */
static void assert_all_once(struct fx *f, int n, int *ret_files)
{
	int *seen = calloc((size_t)n, sizeof(int)), files = 0;
	struct dirent *de;
	DIR *d = opendir(f->dir);

	while ((de = readdir(d))) {
		char path[512], *text, *p;

		if (de->d_name[0] == '.')
			continue;
		files++;
		snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
		text = slurp(path, NULL);
		for (p = text; (p = strstr(p, "{\"seq\":")); p++) {
			int s = atoi(p + 7);

			assert_true(s >= 0 && s < n);
			seen[s]++;
		}
		free(text);
	}
	closedir(d);
	for (int i = 0; i < n; i++)
		assert_int_equal(seen[i], 1);
	free(seen);
	*ret_files = files;
}

static void test_rotation(void **state)
{
	struct fx *f = *state;
	struct writer *w = open_writer(f, 4096, AIO_AUTO);
	struct writer_stats st;
	struct dirent *de;
	regex_t re;
	int files;
	DIR *d;

	/* ~70 bytes a line, 4 KiB files: several rotations within a second */
	for (int round = 0; round < 5; round++) {
		append_seq(w, round * 60, round * 60 + 60, 0);
		assert_int_equal(written(w), 0);
	}
	writer_get_stats(w, &st);
	assert_true(st.rotations >= 4);
	/* young rotated files are kept, even beyond keep_rotated */
	assert_all_once(f, 300, &files);
	assert_int_equal(files, (int)st.rotations + 1);
	assert_int_equal(regcomp(&re, "^" NAME "(\\.[0-9]{8}-[0-9]{6}(\\.[0-9]+)?)?$", REG_EXTENDED | REG_NOSUB), 0);
	d = opendir(f->dir);
	while ((de = readdir(d))) {
		char path[512];
		struct stat sb;

		if (de->d_name[0] == '.')
			continue;
		assert_int_equal(regexec(&re, de->d_name, 0, NULL, 0), 0);
		/* age them past Rotate_Wait */
		snprintf(path, sizeof(path), "%s/%s", f->dir, de->d_name);
		assert_int_equal(stat(path, &sb), 0);
		struct timespec old[2] = { { sb.st_atime - 3600, 0 }, { sb.st_mtime - 3600, 0 } };
		utimensat(AT_FDCWD, path, old, 0);
	}
	closedir(d);
	regfree(&re);
	append_seq(w, 300, 360, 0);
	assert_int_equal(written(w), 0);
	writer_free(w);
	/* now old enough: only keep_rotated (3) rotated files plus the active one stay */
	d = opendir(f->dir);
	files = 0;
	while ((de = readdir(d)))
		files += de->d_name[0] != '.';
	closedir(d);
	assert_int_equal(files, 4);
}

static void test_oversized_record(void **state)
{
	struct fx *f = *state;
	struct writer *w = open_writer(f, 0, AIO_AUTO);
	size_t big = 40000;
	char *json = malloc(big + 200), *text, *body;
	struct writer_stats st;
	cJSON *o;
	int n;

	n = snprintf(json, 200, "{\"schema\":\"nodetrail/v1\",\"seq\":7,\"type\":\"container.exec\",\"summary\":\"");
	memset(json + n, 'x', big);
	strcpy(json + n + big, "\"}");
	assert_int_equal(writer_append(w, 0, json, strlen(json)), 0);
	assert_int_equal(written(w), 0);
	writer_get_stats(w, &st);
	assert_int_equal(st.truncated, 1);
	writer_free(w);
	text = active(f);
	assert_true(strlen(text) <= WRITER_MAX_LINE);
	assert_null(strstr(text, " stdout P "));
	body = strstr(text, " stdout F ") + 10;
	o = cJSON_Parse(body);
	assert_non_null(o);
	assert_true(cJSON_IsTrue(cJSON_GetObjectItem(o, "truncated")));
	assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "seq")), 7);
	assert_string_equal(cJSON_GetStringValue(cJSON_GetObjectItem(o, "type")), "container.exec");
	assert_int_equal((size_t)cJSON_GetNumberValue(cJSON_GetObjectItem(o, "original_bytes")), strlen(json));
	cJSON_Delete(o);
	free(text);
	free(json);
}

static void test_both_io_paths_identical(void **state)
{
	struct fx *f = *state;
	char *a, *b, path[256];
	struct writer *w;

	w = open_writer(f, 0, AIO_URING);
	assert_string_equal(aio_mode_name(f->aio), "io_uring");
	append_seq(w, 0, 100, 1764000000000000000LL);
	assert_int_equal(written(w), 0);
	writer_free(w);
	a = active(f);
	snprintf(path, sizeof(path), "%s/" NAME, f->dir);
	unlink(path);

	setenv("NODETRAIL_DISABLE_IO_URING", "1", 1);
	w = open_writer(f, 0, AIO_AUTO);
	assert_string_equal(aio_mode_name(f->aio), "write"); /* the fallback a seccomp profile forces */
	append_seq(w, 0, 100, 1764000000000000000LL);
	assert_int_equal(written(w), 0);
	writer_free(w);
	b = active(f);
	assert_string_equal(a, b);
	free(a);
	free(b);
}

static void test_active_file_deleted(void **state)
{
	struct fx *f = *state;
	struct writer *w = open_writer(f, 0, AIO_AUTO);
	struct writer_stats st;
	char path[256], *text;

	snprintf(path, sizeof(path), "%s/" NAME, f->dir);
	append_seq(w, 0, 1, 0);
	assert_int_equal(written(w), 0);
	assert_int_equal(unlink(path), 0);
	append_seq(w, 1, 2, 0);
	assert_int_equal(written(w), 0);
	writer_get_stats(w, &st);
	assert_int_equal(st.reopened, 1);
	writer_free(w);
	text = active(f);
	assert_non_null(text);
	assert_non_null(strstr(text, "{\"seq\":1,"));
	free(text);
}

static void test_disk_full(void **state)
{
	struct fx *f = *state;
	struct writer_stats st;
	struct writer *w;
	char filler[256];
	int fd, files, i;

	if (geteuid() != 0) {
		print_message("needs root to mount a small tmpfs\n");
		skip();
	}
	assert_int_equal(mount("tmpfs", f->dir, "tmpfs", 0, "size=64k"), 0);
	w = open_writer(f, 0, AIO_AUTO);
	/* fill the filesystem */
	snprintf(filler, sizeof(filler), "%s/filler", f->dir);
	fd = open(filler, O_WRONLY | O_CREAT, 0600);
	for (i = 0; i < 1000; i++)
		if (write(fd, filler, sizeof(filler)) < 0)
			break;
	close(fd);
	append_seq(w, 0, 200, 0);
	assert_int_equal(writer_drain(w, 300), -ENOSPC);
	writer_get_stats(w, &st);
	assert_true(st.queued > 0);
	assert_true(st.write_errors >= 1);
	assert_int_equal(st.last_error, -ENOSPC);
	/* space comes back: every accepted line is written, once */
	unlink(filler);
	append_seq(w, 200, 210, 0);
	assert_int_equal(written(w), 0);
	writer_get_stats(w, &st);
	assert_int_equal(st.queued, 0);
	assert_int_equal(st.dropped, 0);
	writer_free(w);
	assert_all_once(f, 210, &files);
}

static void test_queue_cap(void **state)
{
	struct fx *f = *state;
	/* 43 bytes a line ("<time> stdout F {}\n"): room for 100 */
	struct writer *w = open_writer_queue(f, 0, AIO_AUTO, 4300);
	struct writer_stats st;
	int refused = 0;

	for (int i = 0; i < 110; i++)
		refused += writer_append(w, 0, "{}", 2) == -ENOBUFS;
	assert_int_equal(refused, 10);
	writer_get_stats(w, &st);
	assert_int_equal(st.dropped, 10);
	assert_int_equal(written(w), 0);
	writer_free(w);
	writer_free(NULL);
}

/* The disk takes nothing (no loop turn runs) while records near the 16 KiB line cap keep coming:
 * what is held is bounded in bytes (WRITER_QUEUE_BYTES, not a count of lines: 4,096 such lines
 * would be 64 MiB), each refusal is counted in `dropped`, and what was taken is written once. */
static void test_queue_bounded_in_bytes(void **state)
{
	struct fx *f = *state;
	struct writer *w = open_writer(f, 1ULL << 30, AIO_AUTO);
	size_t len = WRITER_MAX_LINE - 64, line = len + 41, taken = 0, refused = 0;
	char *json = malloc(len + 1), *text, *p;
	struct writer_stats st;
	size_t lines = 0;

	memset(json, 'x', len);
	memcpy(json, "{\"s\":\"", 6);
	memcpy(json + len - 2, "\"}", 2);
	json[len] = '\0';
	for (int i = 0; i < 4096; i++) {
		int err = writer_append(w, 0, json, len);

		assert_true(err == 0 || err == -ENOBUFS);
		taken += err == 0;
		refused += err == -ENOBUFS;
	}
	writer_get_stats(w, &st);
	assert_int_equal(taken, WRITER_QUEUE_BYTES / line);
	assert_true(st.queued_bytes <= WRITER_QUEUE_BYTES);
	assert_int_equal(st.queued, taken);
	assert_int_equal(st.dropped, refused);
	assert_int_equal(written(w), 0);
	writer_get_stats(w, &st);
	assert_int_equal(st.lines, taken);
	writer_free(w);
	text = active(f);
	for (p = text; (p = strchr(p, '\n')); p++)
		lines++;
	assert_int_equal(lines, taken);
	free(text);
	free(json);
}

/* Appends and flushes while writes are in flight, through both paths: every
 * line once, in the order appended, and the loop never waited for one. */
struct done_count {
	uint64_t written, lost;
};

static void count_done(void *ctx, uint64_t n, bool ok)
{
	struct done_count *d = ctx;

	if (ok)
		d->written += n;
	else
		d->lost += n;
}

/* --output stdout: bare JSON lines on a descriptor the writer does not own (a pipe here, as the
 * runtime's), in order, an oversized one shrunk with the same room left for the runtime's prefix,
 * nothing created in any directory, a sync that is no error, the descriptor left open */
static void test_stream(void **state)
{
	static const enum aio_mode modes[] = { AIO_URING, AIO_THREAD };
	struct fx *f = *state;

	for (size_t m = 0; m < 2; m++) {
		struct writer_options o = { .stream_name = "stdout", .loop = f->loop };
		struct done_count done = { 0 };
		size_t big = 40000, n = 0;
		char *json = malloc(big + 200), out[65536];
		const char *detail = NULL;
		struct writer_stats st;
		struct writer *w;
		ssize_t r;
		int p[2], k;
		cJSON *last;

		assert_int_equal(pipe(p), 0);
		aio_free(f->aio);
		assert_int_equal(aio_new(f->loop, modes[m], &f->aio), 0);
		o.aio = f->aio;
		o.stream_fd = p[1];
		assert_int_equal(writer_new(&o, &w, &detail), 0);
		assert_string_equal(writer_path(w), "stdout");
		writer_set_done(w, count_done, &done);
		append_seq(w, 1, 4, 1000);
		k = snprintf(json, 200, "{\"seq\":4,\"type\":\"big\",\"summary\":\"");
		memset(json + k, 'x', big);
		strcpy(json + k + big, "\"}");
		assert_int_equal(writer_append(w, 2000, json, strlen(json)), 0);
		writer_sync(w);
		assert_int_equal(written(w), 0);
		writer_get_stats(w, &st);
		assert_int_equal(st.lines, 4);
		assert_int_equal(st.truncated, 1);
		assert_int_equal(st.sync_errors, 0);
		assert_int_equal(st.rotations, 0);
		assert_int_equal(done.written, 4);
		assert_int_equal(done.lost, 0);
		writer_free(w);
		assert_true(fcntl(p[1], F_GETFD) >= 0); /* not the writer's to close */
		close(p[1]);
		while ((r = read(p[0], out + n, sizeof(out) - 1 - n)) > 0)
			n += (size_t)r;
		close(p[0]);
		out[n] = '\0';
		assert_true(strncmp(out, "{\"seq\":1,\"type\":\"t\"}\n{\"seq\":2,\"type\":\"t\"}\n{\"seq\":3,\"type\":\"t\"}\n{", 64) == 0);
		last = cJSON_Parse(out + 63);
		assert_non_null(last);
		assert_true(cJSON_IsTrue(cJSON_GetObjectItem(last, "truncated")));
		assert_int_equal((int)cJSON_GetNumberValue(cJSON_GetObjectItem(last, "seq")), 4);
		/* the runtime's prefix still fits: the stored line stays under containerd's split size */
		assert_true(n - 63 + 40 <= WRITER_MAX_LINE);
		cJSON_Delete(last);
		free(json);
	}
	{
		DIR *d = opendir(f->dir);
		struct dirent *de;
		int entries = 0;

		while ((de = readdir(d)))
			entries += de->d_name[0] != '.';
		closedir(d);
		assert_int_equal(entries, 0); /* no file of its own */
	}
}

static void test_order_with_writes_in_flight(void **state)
{
	struct fx *f = *state;
	enum aio_mode modes[] = { AIO_URING, AIO_THREAD };

	for (int m = 0; m < 2; m++) {
		struct writer *w = open_writer(f, 0, modes[m]);
		struct writer_stats st;
		char path[256], *text, *p;
		int expect = 0;

		for (int i = 0; i < 2000; i += 20) {
			append_seq(w, i, i + 20, 1764000000000000000LL);
			writer_flush(w);
			writer_get_stats(w, &st);
			loop_run_once(f->loop, 0); /* completions when they come, never waited for */
		}
		writer_sync(w);
		assert_int_equal(written(w), 0);
		writer_get_stats(w, &st);
		assert_int_equal(st.lines, 2000);
		assert_true(st.syncs >= 1);
		assert_int_equal(st.queued, 0);
		writer_free(w);
		text = active(f);
		for (p = text; (p = strstr(p, "{\"seq\":")); p++)
			assert_int_equal(atoi(p + 7), expect++);
		assert_int_equal(expect, 2000);
		free(text);
		snprintf(path, sizeof(path), "%s/" NAME, f->dir);
		unlink(path);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line_format_and_monotonic_time, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newline_repair, setup, teardown),
		cmocka_unit_test_setup_teardown(test_symlink_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_oversized_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_both_io_paths_identical, setup, teardown),
		cmocka_unit_test_setup_teardown(test_active_file_deleted, setup, teardown),
		cmocka_unit_test_setup_teardown(test_disk_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_bounded_in_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_order_with_writes_in_flight, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stream, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}

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

int checkpoint_save(const char *dir, const cJSON *doc)
{
	char tmp[4096], path[4096];
	char *text = cJSON_PrintUnformatted(doc);
	int fd, dfd, r = 0;

	if (!text)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/%s", dir, CHECKPOINT_FILE);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, CHECKPOINT_FILE);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
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
		goto out;
	}
	/* the rename itself must survive a power loss too */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
out:
	free(text);
	return r;
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
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || st.st_size > CHECKPOINT_MAX_BYTES) {
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

/* Reading back the record files' tails. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cjson/cJSON.h>

#include "nodetrail/base/clock.h"
#include "nodetrail/base/hash.h"
#include "nodetrail/base/json.h"
#include "nodetrail/out/history.h"

static void read_line(char *line, struct idset *ids, struct history *h)
{
	char *json = strstr(line, " stdout F ");
	const char *id, *type, *state, *when, *boot;
	cJSON *o, *agent, *seq;

	o = json ? cJSON_Parse(json + 10) : NULL;
	id = cJSON_GetStringValue(cJSON_GetObjectItem(o, "record_id"));
	type = cJSON_GetStringValue(cJSON_GetObjectItem(o, "type"));
	seq = cJSON_GetObjectItem(o, "seq");
	if (!id || !type || !cJSON_IsNumber(seq)) {
		h->bad_lines++;
		cJSON_Delete(o);
		return;
	}
	h->found = true;
	h->records++;
	idset_check_add(ids, hash_str(id));
	if ((uint64_t)json_int(seq, 0, INT64_MAX, 0) > h->last_seq)
		h->last_seq = (uint64_t)json_int(seq, 0, INT64_MAX, 0);
	when = cJSON_GetStringValue(cJSON_GetObjectItem(o, "event_time"));
	h->last_event_ns = clock_parse(when);
	agent = cJSON_GetObjectItem(o, "agent");
	state = cJSON_GetStringValue(cJSON_GetObjectItem(agent, "state"));
	h->clean_stop = !strcmp(type, "agent.status") && state && !strcmp(state, "stopping");
	boot = cJSON_GetStringValue(cJSON_GetObjectItem(agent, "boot_id"));
	if (boot && strlen(boot) < sizeof(h->last_boot_id))
		strcpy(h->last_boot_id, boot);
	cJSON_Delete(o);
}

int history_read_file(const char *path, size_t max_bytes, struct idset *ids, struct history *h)
{
	char *buf, *line, *nl;
	off_t size, from;
	ssize_t n;
	struct stat st;
	int fd, err = 0;

	/* a planted FIFO must not block the start: regular files only */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	size = lseek(fd, 0, SEEK_END);
	from = size > (off_t)max_bytes ? size - (off_t)max_bytes : 0;
	buf = malloc((size_t)(size - from) + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	n = pread(fd, buf, (size_t)(size - from), from);
	close(fd);
	if (n < 0) {
		err = -errno;
		goto out;
	}
	buf[n] = '\0';
	line = buf;
	if (from > 0) {
		/* started mid-line: that line is not ours to judge */
		nl = strchr(buf, '\n');
		line = nl ? nl + 1 : buf + n;
	}
	while (*line) {
		nl = strchr(line, '\n');
		if (!nl)
			break; /* a line cut by a crash: the writer ends it on start */
		*nl = '\0';
		if (*line)
			read_line(line, ids, h);
		line = nl + 1;
	}
out:
	free(buf);
	return err;
}

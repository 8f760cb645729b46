/* Reading back the record files' tails. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
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
	const char *id, *type, *state, *when, *boot, *sp = strchr(line, ' ');
	cJSON *o, *agent, *seq;

	/* with --output stdout the runtime's file also holds the agent's own log, on stderr */
	if (sp && strncmp(sp, " stderr ", 8) == 0)
		return;
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

/* <restart>.log or <restart>.log.<time>: its restart number, and whether it is a rotated one */
static bool runtime_log_name(const char *name, unsigned long *restart, bool *rotated)
{
	char *end;
	size_t n;

	if (name[0] < '0' || name[0] > '9')
		return false;
	*restart = strtoul(name, &end, 10);
	if (strncmp(end, ".log", 4) != 0)
		return false;
	end += 4;
	n = strlen(end);
	if (n >= 3 && strcmp(end + n - 3, ".gz") == 0)
		return false;
	*rotated = *end == '.';
	return *end == '\0' || *rotated;
}

/* oldest first: by restart, the rotated ones (by their time, which sorts as text) before the live one */
static int runtime_log_cmp(const struct dirent **a, const struct dirent **b)
{
	unsigned long ra, rb;
	bool rota, rotb;

	runtime_log_name((*a)->d_name, &ra, &rota);
	runtime_log_name((*b)->d_name, &rb, &rotb);
	if (ra != rb)
		return ra < rb ? -1 : 1;
	if (rota != rotb)
		return rota ? -1 : 1;
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int runtime_log_filter(const struct dirent *de)
{
	unsigned long restart;
	bool rotated;

	return runtime_log_name(de->d_name, &restart, &rotated);
}

int history_read_runtime_dir(const char *dir, unsigned files, size_t max_bytes, struct idset *ids,
			     struct history *h)
{
	struct dirent **names;
	int n = scandir(dir, &names, runtime_log_filter, runtime_log_cmp), read = 0;

	if (n < 0)
		return -errno;
	for (int i = 0; i < n; i++) {
		if (i >= n - (int)files) {
			char path[8192];

			snprintf(path, sizeof(path), "%s/%s", dir, names[i]->d_name);
			if (history_read_file(path, max_bytes, ids, h) == 0)
				read++;
		}
		free(names[i]);
	}
	free(names);
	return read;
}

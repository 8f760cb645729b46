/* libFuzzer target: reading back a record file written by anyone (a crash,
 * a full disk, another process) never crashes and keeps its bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "nodetrail/out/history.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct idset *ids = NULL;
	struct history h = { 0 };
	char path[64];
	int fd = memfd_create("history", 0);

	if (fd < 0 || idset_new(16, &ids) < 0 || write(fd, data, size) != (ssize_t)size)
		goto out;
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	history_read_file(path, 1 + (size % 4096), ids, &h);
	if (idset_count(ids) > 16)
		abort();
out:
	if (fd >= 0)
		close(fd);
	idset_free(ids);
	return 0;
}

/* libFuzzer target: cgroup path parsing never crashes, never reads past the
 * input, and only names containers with full 64-hex ids. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/kernel/cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgroup_ref ref;
	char *path = malloc(size + 1);

	if (!path)
		return 0;
	memcpy(path, data, size);
	path[size] = '\0';
	if (cgroup_parse_path(path, &ref) == 0) {
		if (ref.container_id[0] && strlen(ref.container_id) != CGROUP_CONTAINER_ID_LEN)
			abort();
		if (ref.container_path_len > strlen(path))
			abort();
	}
	free(path);
	return 0;
}

/* libFuzzer target: whatever an IMDS endpoint (or something answering in
 * its place) sends for instance-action, rebalance or maintenance parses
 * into a bounded notice or is refused; nothing crashes or leaks. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "nodetrail/api/imds.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *body = malloc(size + 1);
	struct imds_notice n;

	if (!body)
		return 0;
	memcpy(body, data, size);
	body[size] = '\0';
	if (imds_parse_spot_action(body, &n) == 0 && strnlen(n.what, sizeof(n.what)) == sizeof(n.what))
		abort();
	imds_parse_rebalance(body, &n);
	if (imds_parse_maintenance(body, &n) == 1 && strnlen(n.what, sizeof(n.what)) == sizeof(n.what))
		abort();
	free(body);
	return 0;
}

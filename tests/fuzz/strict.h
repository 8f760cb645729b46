/* What every fuzz target asks of a record it makes: encoded, it is strict
 * UTF-8 and JSON (CloudWatch's parser and strict readers refuse less). */
#ifndef NODETRAIL_FUZZ_STRICT_H
#define NODETRAIL_FUZZ_STRICT_H

#include <stdlib.h>

#include "nodetrail/base/utf8.h"
#include "nodetrail/out/encode.h"

static inline void strict_record(void *ctx, struct record *r)
{
	static char buf[65536];
	int n = record_encode(r, buf, sizeof(buf));
	cJSON *o;

	(void)ctx;
	if (n < 0)
		return;
	if (!utf8_valid(buf, (size_t)n) || !(o = cJSON_Parse(buf)))
		abort();
	cJSON_Delete(o);
}

#endif

/* The record encoder: one struct record as one compact JSON object, the
 * common keys in a fixed order, then the per-type parts, the sources, the
 * summary and (with --emf) the record's counts as CloudWatch Embedded Metric
 * Format. Pure: no I/O, no clock, so it is tested with golden files. */
#ifndef NODETRAIL_OUT_ENCODE_H
#define NODETRAIL_OUT_ENCODE_H

#include <stddef.h>

#include "nodetrail/base/record.h"

/* Encode r into buf (NUL-terminated). Returns its length, -ENOSPC if buf is
 * too small, -ENOMEM. */
int record_encode(const struct record *r, char *buf, size_t len);

#endif

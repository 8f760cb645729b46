/* Random jitter that differs between nodes.
 *
 * Retry backoffs and watch timeouts are spread with it, so that a fleet's
 * agents do not retry in step: seeded from getrandom(2) at first use (the
 * C library's rand() unseeded draws the same sequence on every node).
 * Not for secrets. One thread: the loop's. */
#ifndef NODETRAIL_BASE_RNG_H
#define NODETRAIL_BASE_RNG_H

#include <stdint.h>

/* A number in [0, n); 0 when n is 0. */
uint32_t rng_below(uint32_t n);

#endif

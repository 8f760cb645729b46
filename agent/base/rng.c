/* Random jitter that differs between nodes: xorshift64* seeded from getrandom(2). */
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "nodetrail/base/rng.h"

static uint64_t state;

static void seed(void)
{
	struct timespec ts;

	if (getrandom(&state, sizeof(state), GRND_NONBLOCK) != (ssize_t)sizeof(state)) {
		/* no entropy yet (early boot): the clock and the pid still differ between nodes */
		clock_gettime(CLOCK_REALTIME, &ts);
		state = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ULL ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 32);
	}
	if (!state)
		state = 0x9e3779b97f4a7c15ULL;
}

uint32_t rng_below(uint32_t n)
{
	if (!n)
		return 0;
	if (!state)
		seed();
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return (uint32_t)((state * 0x2545f4914f6cdd1dULL) >> 32) % n;
}

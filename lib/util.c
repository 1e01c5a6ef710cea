/*
 * util.c: small helpers shared inside the library (internal.h).
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>

#include "finops/job.h"
#include "internal.h"

static uint64_t
next_random(void)
{
	static uint64_t state;

	if (state == 0) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		state = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)ts.tv_sec ^ ((uint64_t)getpid() << 40);
		if (state == 0)
			state = 0x9e3779b97f4a7c15ull;
	}
	/* xorshift64*: good enough to spread retries, not for secrets */
	state ^= state >> 12;
	state ^= state << 25;
	state ^= state >> 27;
	return state * 0x2545f4914f6cdd1dull;
}

int
fo_backoff_ms(int attempt, int base_ms, int cap_ms)
{
	long long ceiling = base_ms;

	for (int i = 1; i < attempt && ceiling < cap_ms; i++)
		ceiling *= 2;
	if (ceiling > cap_ms)
		ceiling = cap_ms;
	if (ceiling < 1)
		ceiling = 1;
	return 1 + (int)(next_random() % (uint64_t)ceiling);
}

void
fo_sleep_ms(int ms)
{
	struct timespec left = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&left, &left) < 0 && errno == EINTR)
		if (fo_job_interrupted())
			return;
}

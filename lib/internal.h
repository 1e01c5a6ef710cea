/*
 * internal.h: helpers shared by the files of lib/, not part of the public API.
 */
#ifndef FINOPS_INTERNAL_H
#define FINOPS_INTERNAL_H

/*
 * Capped exponential backoff with full jitter: a random delay in
 * [0, min(cap_ms, base_ms * 2^(attempt-1))], at least 1 ms.
 */
int fo_backoff_ms(int attempt, int base_ms, int cap_ms);

/* Sleeps ms milliseconds; wakes early when a stop signal arrives. */
void fo_sleep_ms(int ms);

#endif

/*
 * core.h: helpers shared by the files of lib/, not part of the public API.
 */
#ifndef FINOPS_CORE_H
#define FINOPS_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "finops/error.h"

/* FNV-1a over n bytes of s, from h (FO_FNV1A_BASIS to start). */
#define FO_FNV1A_BASIS 14695981039346656037ull   /* 0xcbf29ce484222325 */
static inline uint64_t
fo_fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

/*
 * The shard of an id among n (0 .. n-1): FNV-1a 64 of its bytes, modulo n.
 * Stable across runs, machines and versions (docs/operations.md, "Shards").
 */
static inline unsigned
fo_shard_of(const char *id, size_t len, unsigned n)
{
	return n ? (unsigned)(fo_fnv1a(FO_FNV1A_BASIS, id, len) % n) : 0;
}

/*
 * Open addressing over the positions of an array: a table of n slots (a
 * power of two), each 0 (empty) or an index + 1, filled by linear probing
 * with the hashes of entries 0 .. count-1 (hash(ctx, i)). NULL when out of
 * memory; the caller's, free().
 */
uint32_t *fo_slots_build(size_t n, size_t count, uint64_t (*hash)(const void *ctx, size_t i),
			 const void *ctx);

/*
 * Capped exponential backoff with full jitter: a random delay in
 * [0, min(cap_ms, base_ms * 2^(attempt-1))], at least 1 ms.
 */
int fo_backoff_ms(int attempt, int base_ms, int cap_ms);

/* Sleeps ms milliseconds; wakes early when a stop signal arrives. */
void fo_sleep_ms(int ms);

/* Frees n strings and the array holding them (either may be NULL). */
void fo_free_strings(char **v, size_t n);

/* qsort comparisons: two char * (strcmp order); two doubles (ascending). */
int fo_cmp_str(const void *a, const void *b);
int fo_cmp_double(const void *a, const void *b);

/*
 * UTF-8: the length of the valid sequence at p (1-4, within avail bytes;
 * 0 when it is not one: overlong, surrogate, cut short); whether n bytes are
 * valid; and a copy of s into b with each byte that is not UTF-8 as U+FFFD,
 * at most max bytes, never cut inside a character (text bound for the
 * database, which refuses invalid UTF-8).
 */
size_t fo_utf8_len(const unsigned char *p, size_t avail);
int fo_utf8_valid(const char *s, size_t n);
struct fo_buf;
void fo_utf8_clean(struct fo_buf *b, const char *s, size_t max);

/* getenv(name), or NULL when it is unset or empty. */
const char *fo_env(const char *name);

/*
 * Reads a file holding one secret (named by variable what, for messages):
 * its text without trailing newlines and spaces, at most 64 KiB, not empty.
 * *out is the caller's (fo_free_wiped).
 */
int fo_read_secret_file(const char *what, const char *path, char **out, fo_err *err);

#endif

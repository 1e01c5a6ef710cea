/*
 * util.c: small helpers shared inside the library (internal.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <stdint.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "finops/buf.h"
#include "finops/read.h"
#include "finops/stop.h"
#include "core/core.h"

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
		if (fo_stop_requested())
			return;
}

const char *
fo_env(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int
fo_read_secret_file(const char *what, const char *path, char **out, fo_err *err)
{
	fo_buf b = FO_BUF_INIT;
	char chunk[1024];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*out = NULL;
	if (fd < 0)
		return fo_err_set(err, FO_EXIT_USAGE, "%s=%s: %s", what, path, strerror(errno));
	while ((n = fo_fd_read(&(struct fo_fd_source){fd, path}, chunk, sizeof(chunk), err)) > 0 &&
	       b.len < 65536)
		fo_buf_append(&b, chunk, (size_t)n);
	fo_memzero(chunk, sizeof(chunk));
	close(fd);
	if (n < 0 || b.oom || b.len >= 65536) {
		fo_buf_wipe(&b);
		return n < 0 ? fo_err_prefix(err, "%s: ", what)
		       : fo_err_set(err, FO_EXIT_USAGE, "%s=%s: too large for a secret", what, path);
	}
	while (b.len > 0 && isspace((unsigned char)b.data[b.len - 1]))
		b.data[--b.len] = '\0';
	if (b.len == 0) {
		fo_buf_wipe(&b);
		return fo_err_set(err, FO_EXIT_USAGE, "%s=%s: the file is empty", what, path);
	}
	*out = b.data;        /* the buffer's memory is the caller's now */
	return 0;
}

uint32_t *
fo_slots_build(size_t n, size_t count, uint64_t (*hash)(const void *ctx, size_t i),
	       const void *ctx)
{
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return NULL;
	for (size_t i = 0; i < count; i++) {
		size_t k = hash(ctx, i) & (n - 1);

		while (slots[k])
			k = (k + 1) & (n - 1);
		slots[k] = (uint32_t)i + 1;
	}
	return slots;
}

void
fo_free_strings(char **v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i]);
	free(v);
}

int
fo_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int
fo_cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

ssize_t
fo_fd_read(void *source, char *buf, size_t len, fo_err *err)
{
	struct fo_fd_source *f = source;

	for (;;) {
		ssize_t n = read(f->fd, buf, len);

		if (n >= 0)
			return n;
		if (errno == EINTR && !fo_stop_requested())
			continue;
		fo_err_set(err, FO_EXIT_FAILURE, "%s: read: %s", f->path, strerror(errno));
		return -1;
	}
}

size_t
fo_utf8_len(const unsigned char *p, size_t avail)
{
	if (avail == 0)
		return 0;
	if (p[0] < 0x80)
		return 1;
	if (p[0] >= 0xc2 && p[0] <= 0xdf)
		return avail >= 2 && (p[1] & 0xc0) == 0x80 ? 2 : 0;
	if (p[0] >= 0xe0 && p[0] <= 0xef) {
		if (avail < 3 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80)
			return 0;
		if (p[0] == 0xe0 && p[1] < 0xa0)
			return 0;   /* overlong */
		if (p[0] == 0xed && p[1] >= 0xa0)
			return 0;   /* surrogate */
		return 3;
	}
	if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		if (avail < 4 || (p[1] & 0xc0) != 0x80 || (p[2] & 0xc0) != 0x80 ||
		    (p[3] & 0xc0) != 0x80)
			return 0;
		if (p[0] == 0xf0 && p[1] < 0x90)
			return 0;   /* overlong */
		if (p[0] == 0xf4 && p[1] >= 0x90)
			return 0;   /* beyond U+10FFFF */
		return 4;
	}
	return 0;
}

int
fo_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + n;

	while (p < end) {
		size_t k;

		/* ASCII, the common case, eight bytes at a time */
		if (end - p >= 8) {
			uint64_t w;

			memcpy(&w, p, 8);
			if (!(w & 0x8080808080808080ull)) {
				p += 8;
				continue;
			}
		}
		if (*p < 0x80) {
			p++;
			continue;
		}
		k = fo_utf8_len(p, (size_t)(end - p));
		if (k == 0)
			return 0;
		p += k;
	}
	return 1;
}

void
fo_utf8_clean(fo_buf *b, const char *s, size_t max)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t left = strlen(s), used = 0;

	while (left > 0) {
		size_t k = fo_utf8_len(p, left);
		size_t out = k ? k : 3;

		if (used + out > max)
			break;          /* never cut a character in two */
		if (k)
			fo_buf_append(b, p, k);
		else
			fo_buf_puts(b, "\xef\xbf\xbd");   /* U+FFFD for a byte that is not UTF-8 */
		used += out;
		p += k ? k : 1;
		left -= k ? k : 1;
	}
}

/*
 * fuzz_csv: the CSV and line readers (csvread.c) on any bytes, plain or
 * gzip: no crash, no read past a buffer, every field NUL-terminated at its
 * length, line numbers only growing.
 */
#include <stdlib.h>

#include "finops/csvread.h"
#include "fuzz.h"

struct seen {
	unsigned long long last_line;
};

static int
record(void *ctx, const struct fo_csv_record *rec, fo_err *err)
{
	struct seen *s = ctx;

	(void)err;
	if (rec->line < s->last_line)
		abort();
	s->last_line = rec->line;
	for (size_t i = 0; i < rec->nfields; i++)
		if (rec->field[i][rec->len[i]] != '\0' || rec->len[i] > FO_CSV_MAX_FIELD)
			abort();
	return 0;
}

static int
line(void *ctx, const char *s, size_t n, unsigned long long lineno, fo_err *err)
{
	struct seen *seen = ctx;

	(void)err;
	if (lineno <= seen->last_line || memchr(s, '\n', n) || n > FO_LINE_MAX)
		abort();
	seen->last_line = lineno;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_src src = {data, size, 0, size > 0 ? 1 + data[0] % 97 : 1};
	struct seen s = {0};
	fo_err err;

	fo_csv_read("fuzz.csv", fuzz_read, &src, record, &s, NULL, &err);
	src.pos = 0;
	s.last_line = 0;
	fo_lines_read("fuzz.json", fuzz_read, &src, line, &s, NULL, &err);
	return 0;
}

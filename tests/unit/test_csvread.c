/*
 * Unit tests of the streaming CSV reader (csvread.c) on files it writes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <zlib.h>

#include "finops/buf.h"
#include "finops/csvread.h"

static char path[] = "/tmp/fo-test-csv-XXXXXX";

struct seen {
	fo_buf text;     /* "line:f1|f2|...\n" per record */
	int stop_at;     /* record index at which the callback fails, or 0 */
};

static int
collect(void *ctx, const struct fo_csv_record *rec, fo_err *err)
{
	struct seen *s = ctx;

	if (s->stop_at && (int)rec->index == s->stop_at)
		return fo_err_set(err, 3, "stopped at record %llu", rec->index);
	fo_buf_printf(&s->text, "%llu:", rec->line);
	for (size_t i = 0; i < rec->nfields; i++) {
		assert_int_equal(strlen(rec->field[i]), rec->len[i]);
		fo_buf_printf(&s->text, "%s%s", i ? "|" : "", rec->field[i]);
	}
	fo_buf_putc(&s->text, '\n');
	return 0;
}

static void
write_plain(const char *data, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
}

static void
write_gzip(const char *data, size_t n, int members)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	fclose(f);
	for (int m = 0; m < members; m++) {
		gzFile g = gzopen(path, "ab");
		size_t part = n / (size_t)members, from = part * (size_t)m;

		if (m == members - 1)
			part = n - from;
		assert_int_equal(gzwrite(g, data + from, (unsigned)part), (int)part);
		gzclose(g);
	}
}

static const unsigned char keep_first_and_last[] = {1, 0, 1};

static int
collect_some(void *ctx, const struct fo_csv_record *rec, fo_err *err)
{
	if (rec->index == 1)
		fo_csv_only_fields(rec, keep_first_and_last, 3);
	return collect(ctx, rec, err);
}

static int
read_it(struct seen *s, fo_err *err, struct fo_csv_stats *st)
{
	fo_buf_reset(&s->text);
	return fo_csv_read_file(path, collect, s, st, err);
}

static const char sample[] =
	"id,desc,cost\n"
	"1,\"a, quoted\",12.5\n"
	"2,\"two\nlines\",0\n"
	"3,,\"\"\"q\"\"\"\n";

static const char expect[] =
	"1:id|desc|cost\n"
	"2:1|a, quoted|12.5\n"
	"3:2|two\nlines|0\n"
	"5:3||\"q\"\n";

static void
test_plain_csv_fields_and_starting_lines(void **state)
{
	struct seen s = {FO_BUF_INIT, 0};
	struct fo_csv_stats st;
	fo_err err;

	(void)state;
	write_plain(sample, sizeof(sample) - 1);
	assert_int_equal(read_it(&s, &err, &st), 0);
	assert_string_equal(fo_buf_str(&s.text), expect);
	assert_int_equal(st.records, 4);
	assert_int_equal(st.gzip, 0);
	fo_buf_free(&s.text);
}

static void
test_crlf_line_endings(void **state)
{
	static const char crlf[] = "a,b\r\n1,2\r\n3,4\r\n";
	struct seen s = {FO_BUF_INIT, 0};
	fo_err err;

	(void)state;
	write_plain(crlf, sizeof(crlf) - 1);
	assert_int_equal(read_it(&s, &err, NULL), 0);
	assert_string_equal(fo_buf_str(&s.text), "1:a|b\n2:1|2\n3:3|4\n");
	fo_buf_free(&s.text);
}

static void
test_gzip_is_detected_by_magic_bytes_not_name(void **state)
{
	struct seen s = {FO_BUF_INIT, 0};
	struct fo_csv_stats st;
	fo_err err;

	(void)state;
	/* the file is called .../fo-test-csv-XXXXXX, no .gz */
	write_gzip(sample, sizeof(sample) - 1, 1);
	assert_int_equal(read_it(&s, &err, &st), 0);
	assert_string_equal(fo_buf_str(&s.text), expect);
	assert_int_equal(st.gzip, 1);
	assert_int_equal(st.bytes_csv, sizeof(sample) - 1);
	fo_buf_free(&s.text);
}

static void
test_concatenated_gzip_members_are_read_whole(void **state)
{
	struct seen s = {FO_BUF_INIT, 0};
	fo_err err;

	(void)state;
	write_gzip(sample, sizeof(sample) - 1, 3);
	assert_int_equal(read_it(&s, &err, NULL), 0);
	assert_string_equal(fo_buf_str(&s.text), expect);
	fo_buf_free(&s.text);
}

static void
test_truncated_gzip_is_bad_input(void **state)
{
	struct seen s = {FO_BUF_INIT, 0};
	fo_buf big = FO_BUF_INIT;
	fo_err err;
	long size;
	FILE *f;

	(void)state;
	fo_buf_puts(&big, "a,b\n");
	for (int i = 0; i < 50000; i++)
		fo_buf_printf(&big, "%d,row %d\n", i, i * 7);
	write_gzip(big.data, big.len, 1);
	f = fopen(path, "rb+");
	fseek(f, 0, SEEK_END);
	size = ftell(f);
	fclose(f);
	assert_int_equal(truncate(path, size / 2), 0);
	assert_int_equal(read_it(&s, &err, NULL), -1);
	assert_int_equal(err.code, 3);
	assert_non_null(strstr(err.msg, "truncated gzip"));
	assert_non_null(strstr(err.msg, path));
	fo_buf_free(&big);
	fo_buf_free(&s.text);
}

static void
test_unterminated_quote_names_the_line_it_started_on(void **state)
{
	static const char bad[] = "a,b\n1,2\n3,\"open\n4,5\n";
	struct seen s = {FO_BUF_INIT, 0};
	fo_err err;

	(void)state;
	write_plain(bad, sizeof(bad) - 1);
	assert_int_equal(read_it(&s, &err, NULL), -1);
	assert_int_equal(err.code, 3);
	assert_non_null(strstr(err.msg, ":3: malformed CSV at the end: unterminated quoted field"));
	fo_buf_free(&s.text);
}

static void
test_quote_inside_unquoted_field_is_refused(void **state)
{
	static const char bad[] = "a,b\n1,2\n3,x\"y\"z,\n";
	struct seen s = {FO_BUF_INIT, 0};
	fo_err err;

	(void)state;
	write_plain(bad, sizeof(bad) - 1);
	assert_int_equal(read_it(&s, &err, NULL), -1);
	assert_int_equal(err.code, 3);
	assert_non_null(strstr(err.msg, ":3: malformed CSV"));
	fo_buf_free(&s.text);
}

static void
test_nul_byte_is_bad_input(void **state)
{
	static const char bad[] = "a,b\n1,x\0y\n";
	struct seen s = {FO_BUF_INIT, 0};
	fo_err err;

	(void)state;
	write_plain(bad, sizeof(bad) - 1);
	assert_int_equal(read_it(&s, &err, NULL), -1);
	assert_non_null(strstr(err.msg, ":2: field 2 contains a NUL byte"));
	fo_buf_free(&s.text);
}

static void
test_callback_error_stops_reading(void **state)
{
	struct seen s = {FO_BUF_INIT, 3};
	fo_err err;

	(void)state;
	write_plain(sample, sizeof(sample) - 1);
	assert_int_equal(read_it(&s, &err, NULL), -1);
	assert_string_equal(err.msg, "stopped at record 3");
	assert_string_equal(fo_buf_str(&s.text), "1:id|desc|cost\n2:1|a, quoted|12.5\n");
	fo_buf_free(&s.text);
}

static void
test_empty_file_has_no_records(void **state)
{
	struct seen s = {FO_BUF_INIT, 0};
	struct fo_csv_stats st;
	fo_err err;

	(void)state;
	write_plain("", 0);
	assert_int_equal(read_it(&s, &err, &st), 0);
	assert_int_equal(st.records, 0);
	fo_buf_free(&s.text);
}

static void
test_missing_file_is_reported(void **state)
{
	struct seen s = {FO_BUF_INIT, 0};
	fo_err err;

	(void)state;
	assert_int_equal(fo_csv_read_file("/nonexistent/cur.csv", collect, &s, NULL, &err), -1);
	assert_int_equal(err.code, 3);
	assert_string_equal(err.msg, "/nonexistent/cur.csv: No such file or directory");
}

static int
setup(void **state)
{
	int fd = mkstemp(path);

	(void)state;
	assert_true(fd >= 0);
	close(fd);
	return 0;
}

static int
teardown(void **state)
{
	(void)state;
	unlink(path);
	return 0;
}

static void
test_ignored_fields_arrive_empty_and_unchecked(void **state)
{
	static const char data[] = "id,desc,cost,extra\n1,\"a, b\",2.5,x\n2,n\0l,3,y\n";
	struct seen s = {FO_BUF_INIT, 0};
	fo_err err;

	(void)state;
	write_plain(data, sizeof(data) - 1);
	assert_int_equal(fo_csv_read_file(path, collect_some, &s, NULL, &err), 0);
	/* the header itself arrives whole; a NUL in an ignored field is no error */
	assert_string_equal(s.text.data, "1:id|desc|cost|extra\n2:1||2.5|x\n3:2||3|y\n");
	fo_buf_free(&s.text);
}

static int
collect_line(void *ctx, const char *line, size_t len, unsigned long long lineno, fo_err *err)
{
	fo_buf *b = ctx;

	(void)err;
	fo_buf_printf(b, "%llu:%.*s|", lineno, (int)len, line);
	return 0;
}

/* Reads the file 3 bytes at a time, so lines cross every chunk boundary. */
static ssize_t
read_tiny(void *ctx, char *buf, size_t len, fo_err *err)
{
	FILE *f = ctx;
	size_t n = fread(buf, 1, len < 3 ? len : 3, f);

	(void)err;
	return (ssize_t)n;
}

static void
test_lines_of_plain_and_gzip_data(void **state)
{
	static const char data[] = "{\"a\":1}\r\n\n{\"b\": \"two\"}\nlast line";
	fo_buf got = FO_BUF_INIT;
	struct fo_csv_stats st;
	fo_err err;
	FILE *f;

	(void)state;
	for (int gz = 0; gz < 2; gz++) {
		if (gz)
			write_gzip(data, sizeof(data) - 1, 2);
		else
			write_plain(data, sizeof(data) - 1);
		f = fopen(path, "rb");
		assert_non_null(f);
		fo_buf_reset(&got);
		assert_int_equal(fo_lines_read(path, read_tiny, f, collect_line, &got, &st, &err), 0);
		fclose(f);
		assert_string_equal(got.data, "1:{\"a\":1}|2:|3:{\"b\": \"two\"}|4:last line|");
		assert_int_equal(st.records, 4);
		assert_int_equal(st.gzip, gz);
	}
	fo_buf_free(&got);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain_csv_fields_and_starting_lines),
		cmocka_unit_test(test_crlf_line_endings),
		cmocka_unit_test(test_gzip_is_detected_by_magic_bytes_not_name),
		cmocka_unit_test(test_concatenated_gzip_members_are_read_whole),
		cmocka_unit_test(test_truncated_gzip_is_bad_input),
		cmocka_unit_test(test_unterminated_quote_names_the_line_it_started_on),
		cmocka_unit_test(test_quote_inside_unquoted_field_is_refused),
		cmocka_unit_test(test_nul_byte_is_bad_input),
		cmocka_unit_test(test_ignored_fields_arrive_empty_and_unchecked),
		cmocka_unit_test(test_lines_of_plain_and_gzip_data),
		cmocka_unit_test(test_callback_error_stops_reading),
		cmocka_unit_test(test_empty_file_has_no_records),
		cmocka_unit_test(test_missing_file_is_reported),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}

/*
 * datetime.h: the timestamps billing files carry, checked and normalised.
 *
 * Accepted: 2023-11-01T00:00:00.000Z, 2023-11-01T00:00:00Z,
 * 2024-09-18 22:00:00 (no zone: UTC), 2023-11-01 00:00:00+00:00,
 * 2018-08-01T00:00Z, 20180801T000000.000Z (CUR manifests), 2023-11-01.
 */
#ifndef FINOPS_DATETIME_H
#define FINOPS_DATETIME_H

#include <stddef.h>
#include <stdint.h>

struct fo_ts {
	int64_t epoch_s;     /* seconds since 1970-01-01 UTC */
	int32_t micros;      /* 0..999999 */
};

/*
 * Parses s (n bytes): ISO 8601 and the forms billing files use, years from
 * 1970 (the time zone offset may move the result just before it). Returns 0,
 * or -1 with a short reason in why.
 */
int fo_ts_parse(const char *s, size_t n, struct fo_ts *out, const char **why);

/* Writes "YYYY-MM-DD HH:MM:SS[.ffffff]+00" (UTC), for COPY into timestamptz. */
size_t fo_ts_format(const struct fo_ts *ts, char *out, size_t len);

/* Writes the UTC date "YYYY-MM-DD". */
void fo_ts_date(const struct fo_ts *ts, char *out, size_t len);

/* Days from 1970-01-01 to y-m-d (proleptic Gregorian; Howard Hinnant's method). */
int64_t fo_days_from_civil(int64_t y, int m, int d);

/* Year, month (1-12) and day (1-31) of a count of days since 1970-01-01. */
void fo_civil_from_days(int64_t days, int *y, int *m, int *d);

/* Days in month m (1-12) of year y. */
int fo_days_in_month(int y, int m);

/* A date "YYYY-MM-DD" (as PostgreSQL prints one) as days since 1970-01-01; 0 when it is none. */
long fo_day_parse(const char *s);

/* Days since 1970-01-01 as "YYYY-MM-DD" into out. */
void fo_day_text(long day, char out[16]);

#endif

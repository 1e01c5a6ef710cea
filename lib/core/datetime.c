/*
 * datetime.c: timestamp parsing and formatting (see datetime.h).
 */
#include <stdio.h>
#include <string.h>

#include "finops/datetime.h"

int64_t
fo_days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void
fo_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

int
fo_days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

/* Reads exactly k digits at *p; advances. */
static int
digits(const char **p, const char *end, int k, int *out)
{
	int v = 0;

	for (int i = 0; i < k; i++) {
		if (*p >= end || **p < '0' || **p > '9')
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

static int
skip(const char **p, const char *end, char c)
{
	if (*p < end && **p == c) {
		(*p)++;
		return 1;
	}
	return 0;
}

int
fo_ts_parse(const char *s, size_t n, struct fo_ts *out, const char **why)
{
	const char *p = s, *end = s + n;
	int y, mo, d, h = 0, mi = 0, sec = 0, micros = 0, compact, offset = 0;

	*why = "is not a timestamp (expected YYYY-MM-DDTHH:MM:SSZ)";
	if (digits(&p, end, 4, &y) < 0)
		return -1;
	compact = !(p < end && *p == '-');
	if (!compact)
		p++;
	if (digits(&p, end, 2, &mo) < 0)
		return -1;
	if (!compact && !skip(&p, end, '-'))
		return -1;
	if (digits(&p, end, 2, &d) < 0)
		return -1;
	if (p < end && (*p == 'T' || *p == ' ')) {
		p++;
		if (digits(&p, end, 2, &h) < 0)
			return -1;
		if (!compact && !skip(&p, end, ':'))
			return -1;
		if (digits(&p, end, 2, &mi) < 0)
			return -1;
		if ((!compact && skip(&p, end, ':')) || (compact && p < end && *p >= '0' && *p <= '9')) {
			if (digits(&p, end, 2, &sec) < 0)
				return -1;
			if (skip(&p, end, '.')) {
				int k = 0;

				while (p < end && *p >= '0' && *p <= '9') {
					if (k < 6)
						micros = micros * 10 + (*p - '0');
					k++;
					p++;
				}
				if (k == 0)
					return -1;
				for (; k < 6; k++)
					micros *= 10;
			}
		}
		if (skip(&p, end, 'Z')) {
			;
		} else if (p < end && (*p == '+' || *p == '-')) {
			int sign = *p++ == '-' ? -1 : 1, oh, om = 0;

			if (digits(&p, end, 2, &oh) < 0)
				return -1;
			skip(&p, end, ':');
			if (p < end && digits(&p, end, 2, &om) < 0)
				return -1;
			if (oh > 23 || om > 59)
				return -1;
			offset = sign * (oh * 3600 + om * 60);
		}
	}
	if (p != end)
		return -1;
	if (mo < 1 || mo > 12 || d < 1 || d > fo_days_in_month(y, mo) || h > 23 || mi > 59 || sec > 60) {
		*why = "is not a valid date or time";
		return -1;
	}
	/* no bill, price or metric predates the Unix epoch; year 0 would be stored as 1 BC */
	if (y < 1970) {
		*why = "is before 1970";
		return -1;
	}
	out->epoch_s = fo_days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec - offset;
	out->micros = micros;
	return 0;
}

static char *
put_digits(char *p, long v, int width)
{
	for (int i = width - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + width;
}

size_t
fo_ts_format(const struct fo_ts *ts, char *out, size_t len)
{
	int64_t days = ts->epoch_s >= 0 ? ts->epoch_s / 86400 : (ts->epoch_s - 86399) / 86400;
	int64_t rem = ts->epoch_s - days * 86400;
	char buf[40], *p = buf;
	int y, m, d;
	size_t n;

	fo_civil_from_days(days, &y, &m, &d);
	if (y < 0 || y > 9999) {
		n = (size_t)snprintf(out, len, "%04d-%02d-%02d %02d:%02d:%02d+00", y, m, d,
				     (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60));
		return n;
	}
	/* by hand: this runs twice a row */
	p = put_digits(p, y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	p = put_digits(p, d, 2);
	*p++ = ' ';
	p = put_digits(p, (long)(rem / 3600), 2);
	*p++ = ':';
	p = put_digits(p, (long)(rem / 60 % 60), 2);
	*p++ = ':';
	p = put_digits(p, (long)(rem % 60), 2);
	if (ts->micros) {
		*p++ = '.';
		p = put_digits(p, ts->micros, 6);
	}
	memcpy(p, "+00", 4);
	p += 3;
	n = (size_t)(p - buf);
	if (n + 1 > len)
		n = len - 1;
	memcpy(out, buf, n);
	out[n] = '\0';
	return n;
}

void
fo_ts_date(const struct fo_ts *ts, char *out, size_t len)
{
	int64_t days = ts->epoch_s >= 0 ? ts->epoch_s / 86400 : (ts->epoch_s - 86399) / 86400;
	int y, m, d;

	fo_civil_from_days(days, &y, &m, &d);
	snprintf(out, len, "%04d-%02d-%02d", y, m, d);
}

long
fo_day_parse(const char *s)
{
	int y, m, d;

	if (sscanf(s, "%d-%d-%d", &y, &m, &d) != 3)
		return 0;
	return (long)fo_days_from_civil(y, m, d);
}

void
fo_day_text(long day, char out[16])
{
	int y, m, d;

	fo_civil_from_days(day, &y, &m, &d);
	snprintf(out, 16, "%04d-%02d-%02d", y % 10000, m, d);
}

/*
 * decimal.c: exact decimal validation and sums (see decimal.h).
 */
#include <stdio.h>
#include <string.h>

#include "finops/decimal.h"

#define BASE 1000000000ULL
#define FRAC_LIMBS 5

static int
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/*
 * Whether the value of checked decimal text lies where a sum can add it
 * billions of times: its highest non-zero digit below 10^FO_DEC_MAX_INT_DIGITS,
 * its lowest not below 10^-FO_DEC_FRAC_DIGITS. Zero is always in range.
 */
static int
in_range(const char *s, size_t n, const char **why)
{
	const char *end = s + n, *p = s;
	long exp = 0, int_digits = 0, pos = 0, high = 0, low = 0;
	int seen_point = 0, any = 0, neg_exp = 0;

	if (p < end && (*p == '+' || *p == '-'))
		p++;
	/* positions are counted from the point: 0 the units, -1 the tenths */
	for (const char *q = p; q < end && (is_digit(*q) || *q == '.'); q++)
		if (*q == '.')
			seen_point = 1;
		else if (!seen_point)
			int_digits++;
	pos = int_digits - 1;
	for (; p < end && (is_digit(*p) || *p == '.'); p++) {
		if (*p == '.')
			continue;
		if (*p != '0') {
			if (!any)
				high = pos;
			low = pos;
			any = 1;
		}
		pos--;
	}
	if (!any)
		return 0;
	if (p < end) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			neg_exp = *p++ == '-';
		for (; p < end; p++)
			exp = exp * 10 + (*p - '0');      /* at most 4 digits */
		if (neg_exp)
			exp = -exp;
	}
	if (high + exp >= FO_DEC_MAX_INT_DIGITS) {
		*why = "is out of range (more than " FO_DEC_STR(FO_DEC_MAX_INT_DIGITS)
		       " digits before the point)";
		return -1;
	}
	if (low + exp < -FO_DEC_FRAC_DIGITS) {
		*why = "has more than " FO_DEC_STR(FO_DEC_FRAC_DIGITS) " decimal places";
		return -1;
	}
	return 0;
}

int
fo_dec_check(const char *s, size_t n, const char **why)
{
	size_t i = 0, digits = 0;

	*why = NULL;
	if (n == 0) {
		*why = "empty";
		return -1;
	}
	if (s[i] == '+' || s[i] == '-')
		i++;
	while (i < n && is_digit(s[i])) {
		i++;
		digits++;
	}
	if (i < n && s[i] == '.') {
		i++;
		while (i < n && is_digit(s[i])) {
			i++;
			digits++;
		}
	}
	if (digits == 0) {
		*why = "is not a number";
		return -1;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t exp_digits = 0;

		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		while (i < n && is_digit(s[i])) {
			i++;
			exp_digits++;
		}
		if (exp_digits == 0 || exp_digits > 4) {
			*why = "has a bad exponent";
			return -1;
		}
	}
	if (i != n) {
		*why = "is not a number";
		return -1;
	}
	return in_range(s, n, why);
}

void
fo_dec_zero(fo_dec_sum *sum)
{
	memset(sum, 0, sizeof(*sum));
}

static void
carry(uint64_t *limbs)
{
	for (int i = 0; i < FO_DEC_LIMBS - 1; i++) {
		limbs[i + 1] += limbs[i] / BASE;
		limbs[i] %= BASE;
	}
}

static void
normalize(fo_dec_sum *sum)
{
	carry(sum->pos);
	carry(sum->neg);
	sum->pending = 0;
}

static const uint64_t pow10_table[9] = {
	1, 10, 100, 1000, 10000, 100000, 1000000, 10000000, 100000000
};

/*
 * The parts of decimal text that fo_dec_check accepted: sign, mantissa
 * digits [digits, mant_end) with an optional point, and the exponent.
 */
struct parts {
	int negative;
	const char *digits, *mant_end;
	long frac;          /* digits after the point */
	long exp;
};

static void
split(const char *s, size_t n, struct parts *d)
{
	const char *end = s + n, *p = s, *point = NULL;

	d->negative = 0;
	d->exp = 0;
	if (p < end && (*p == '+' || *p == '-'))
		d->negative = *p++ == '-';
	d->digits = p;
	while (p < end && (is_digit(*p) || *p == '.')) {
		if (*p == '.')
			point = p;
		p++;
	}
	d->mant_end = p;
	d->frac = point ? (long)(p - point - 1) : 0;
	if (p < end && (*p == 'e' || *p == 'E')) {
		int neg = 0;

		p++;
		if (p < end && (*p == '+' || *p == '-'))
			neg = *p++ == '-';
		for (; p < end; p++)
			d->exp = d->exp * 10 + (*p - '0');
		if (neg)
			d->exp = -d->exp;
	}
}

static int
add_signed(fo_dec_sum *sum, const char *s, size_t n, int negate)
{
	struct parts d;
	uint64_t *limbs;
	long pos;

	split(s, n, &d);
	limbs = d.negative != negate ? sum->neg : sum->pos;
	/* Position (power of ten) of the mantissa's last digit. */
	pos = d.exp - d.frac;
	for (const char *c = d.mant_end - 1; c >= d.digits; c--) {
		long k;

		if (*c == '.')
			continue;
		if (*c != '0') {
			k = pos + FO_DEC_FRAC_DIGITS;   /* digit index from the lowest kept */
			if (k < 0 || k >= (long)FO_DEC_LIMBS * 9)
				return -1;
			limbs[k / 9] += (uint64_t)(*c - '0') * pow10_table[k % 9];
		}
		pos++;
	}
	/* Each limb grows by less than 1e9 an addition: carry well before 2^64. */
	if (++sum->pending >= (1u << 30))
		normalize(sum);
	return 0;
}

int
fo_dec_add(fo_dec_sum *sum, const char *s, size_t n)
{
	return add_signed(sum, s, n, 0);
}

int
fo_dec_sub(fo_dec_sum *sum, const char *s, size_t n)
{
	return add_signed(sum, s, n, 1);
}

int
fo_dec_scale(const char *s, size_t n)
{
	struct parts d;

	split(s, n, &d);
	return d.frac - d.exp < 0 ? 0 : (int)(d.frac - d.exp);
}

void
fo_dec_add_sum(fo_dec_sum *sum, const fo_dec_sum *other)
{
	fo_dec_sum o = *other;

	normalize(sum);
	normalize(&o);
	for (int i = 0; i < FO_DEC_LIMBS; i++) {
		sum->pos[i] += o.pos[i];
		sum->neg[i] += o.neg[i];
	}
	normalize(sum);
}

/* Compares two normalized magnitudes. */
static int
cmp(const uint64_t *a, const uint64_t *b)
{
	for (int i = FO_DEC_LIMBS - 1; i >= 0; i--)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

void
fo_dec_format(const fo_dec_sum *in, char *out, size_t len)
{
	fo_dec_sum s = *in;
	uint64_t r[FO_DEC_LIMBS];
	const uint64_t *big, *small;
	char digits[FO_DEC_LIMBS * 9 + 1];
	int negative, borrow = 0, first, last;
	size_t o = 0;

	normalize(&s);
	negative = cmp(s.pos, s.neg) < 0;
	big = negative ? s.neg : s.pos;
	small = negative ? s.pos : s.neg;
	for (int i = 0; i < FO_DEC_LIMBS; i++) {
		int64_t v = (int64_t)big[i] - (int64_t)small[i] - borrow;

		borrow = v < 0;
		r[i] = (uint64_t)(borrow ? v + (int64_t)BASE : v);
	}
	/* most significant digit first */
	for (int i = FO_DEC_LIMBS - 1, k = 0; i >= 0; i--, k += 9)
		snprintf(digits + k, 10, "%09llu", (unsigned long long)r[i]);
	/* digits[0 .. int_len-1] integer part, then FO_DEC_FRAC_DIGITS */
	{
		int int_len = (FO_DEC_LIMBS - FRAC_LIMBS) * 9;

		for (first = 0; first < int_len - 1 && digits[first] == '0'; first++)
			;
		for (last = FO_DEC_LIMBS * 9 - 1; last >= int_len && digits[last] == '0'; last--)
			;
		if (negative && !(first == int_len - 1 && digits[first] == '0' && last < int_len))
			out[o++] = '-';
		for (int i = first; i < int_len && o + 2 < len; i++)
			out[o++] = digits[i];
		if (last >= int_len) {
			out[o++] = '.';
			for (int i = int_len; i <= last && o + 1 < len; i++)
				out[o++] = digits[i];
		}
		out[o] = '\0';
	}
}

void
fo_dec_format_scale(const fo_dec_sum *sum, int scale, char *out, size_t len)
{
	size_t o, have = 0;
	char *point;

	fo_dec_format(sum, out, len);
	o = strlen(out);
	point = strchr(out, '.');
	if (point)
		have = o - (size_t)(point - out) - 1;
	if (scale > FO_DEC_FRAC_DIGITS)
		scale = FO_DEC_FRAC_DIGITS;
	if ((size_t)scale <= have || o + 2 + (size_t)scale - have >= len)
		return;
	if (!point)
		out[o++] = '.';
	while (have < (size_t)scale) {
		out[o++] = '0';
		have++;
	}
	out[o] = '\0';
}

void
fo_dec_canonical(const char *s, char *out, size_t len)
{
	fo_dec_sum sum;

	fo_dec_zero(&sum);
	if (fo_dec_add(&sum, s, strlen(s)) < 0) {
		snprintf(out, len, "%s", s);
		return;
	}
	fo_dec_format(&sum, out, len);
}

/* The base-10000 group holding the digit of power p (floor(p / 4)). */
static long
group_of_power(long p)
{
	return p >= 0 ? p / 4 : -((-p + 3) / 4);
}

static unsigned char *
put16(unsigned char *w, unsigned v)
{
	w[0] = (unsigned char)(v >> 8);
	w[1] = (unsigned char)v;
	return w + 2;
}

int
fo_dec_to_numeric(const char *s, size_t n, unsigned char *out)
{
	struct parts d;
	long pos, dscale, hi = 0, lo = 0, weight, ndigits;
	int any = 0;
	unsigned char *w;

	split(s, n, &d);
	/* numeric_in: the scale is the digits after the point less the exponent */
	dscale = d.frac - d.exp < 0 ? 0 : d.frac - d.exp;
	/* Powers of ten of the highest and lowest non-zero digits. */
	pos = d.exp - d.frac;
	for (const char *c = d.mant_end - 1; c >= d.digits; c--) {
		if (*c == '.')
			continue;
		if (*c != '0') {
			if (!any)
				lo = pos;
			hi = pos;
			any = 1;
		}
		pos++;
	}
	/* numeric_in refuses exponents beyond 1000; keep to its range */
	if (d.exp > 1000 || d.exp < -1000 || dscale > 1000 || (any && (hi >= 131072 || lo < -16383)))
		return -1;
	if (!any) {
		w = put16(out, 0);
		w = put16(w, 0);
		w = put16(w, 0x0000);
		w = put16(w, (unsigned)dscale);
		return (int)(w - out);
	}
	weight = group_of_power(hi);
	ndigits = weight - group_of_power(lo) + 1;
	if (ndigits > 3000)     /* numeric_recv's limit */
		return -1;
	w = put16(out, (unsigned)ndigits);
	w = put16(w, (unsigned)(weight & 0xffff));
	w = put16(w, d.negative ? 0x4000 : 0x0000);
	w = put16(w, (unsigned)dscale);
	memset(w, 0, (size_t)ndigits * 2);
	pos = d.exp - d.frac;
	for (const char *c = d.mant_end - 1; c >= d.digits; c--) {
		if (*c == '.')
			continue;
		if (*c != '0') {
			long g = group_of_power(pos);
			unsigned char *slot = w + 2 * (weight - g);
			unsigned v = ((unsigned)slot[0] << 8 | slot[1]) +
				     (unsigned)(*c - '0') * (unsigned)pow10_table[pos - 4 * g];

			put16(slot, v);
		}
		pos++;
	}
	return (int)(w + 2 * ndigits - out);
}

/*
 * decimal.h: exact decimal text: validation and sums, never floating point.
 *
 * Money arrives as decimal text ("12.5", "-0.0000001", "1.2E-7") and goes to
 * PostgreSQL numeric as that same text. These helpers check the text on the
 * client, so a bad value is reported with its file and line, and add values
 * exactly, so the totals of a load can be reconciled with what landed.
 */
#ifndef FINOPS_DECIMAL_H
#define FINOPS_DECIMAL_H

#include <stddef.h>
#include <stdint.h>

/* Digits a sum can hold: 45 after the decimal point, 54 before. */
#define FO_DEC_FRAC_DIGITS 45
/* Digits a single value may have before the point (so that sums never overflow). */
#define FO_DEC_MAX_INT_DIGITS 30
#define FO_DEC_STR_(x) #x
#define FO_DEC_STR(x) FO_DEC_STR_(x)
#define FO_DEC_LIMBS 11   /* base 1e9: 5 fraction limbs, 6 integer limbs */

typedef struct fo_dec_sum {
	uint64_t pos[FO_DEC_LIMBS];  /* sum of positive values */
	uint64_t neg[FO_DEC_LIMBS];  /* sum of magnitudes of negative values */
	unsigned pending;            /* additions since the last carry */
} fo_dec_sum;

/*
 * Checks that s (n bytes) is a plain decimal number: optional sign, digits
 * with an optional point, optional exponent (E-7). No spaces, thousands
 * separators, NaN or infinity; at most FO_DEC_MAX_INT_DIGITS digits before
 * the point and FO_DEC_FRAC_DIGITS after it (1e400 is out of range). Returns 0 (why set to NULL), or -1 with a short
 * reason in why.
 */
int fo_dec_check(const char *s, size_t n, const char **why);

/* Clears a sum. */
void fo_dec_zero(fo_dec_sum *sum);

/*
 * Adds the decimal text s (n bytes), which fo_dec_check accepted. Fails (-1)
 * when a digit falls outside the range a sum holds.
 */
int fo_dec_add(fo_dec_sum *sum, const char *s, size_t n);

/* Adds one sum to another. */
void fo_dec_add_sum(fo_dec_sum *sum, const fo_dec_sum *other);

/*
 * Writes the exact value of sum as plain decimal text without trailing zeros
 * ("-12.5", "0") into out (at least 128 bytes).
 */
void fo_dec_format(const fo_dec_sum *sum, char *out, size_t len);

/*
 * As fo_dec_format, with at least scale digits after the point ("1.250" for
 * 1.25 at scale 3), as PostgreSQL shows the result of numeric arithmetic.
 */
void fo_dec_format_scale(const fo_dec_sum *sum, int scale, char *out, size_t len);

/* The display scale numeric_in gives the decimal text s: "1.50" 2, "1.2E-7" 8. */
int fo_dec_scale(const char *s, size_t n);

/* Subtracts the decimal text s, as fo_dec_add adds it. */
int fo_dec_sub(fo_dec_sum *sum, const char *s, size_t n);

/*
 * Rewrites the numeric text s (as PostgreSQL prints it) in the canonical form
 * of fo_dec_format, so two spellings of one value compare equal.
 */
void fo_dec_canonical(const char *s, char *out, size_t len);

/* Bytes fo_dec_to_numeric() may write for text of n bytes. */
#define FO_DEC_NUMERIC_MAX(n) (8 + 2 * ((n) / 4 + 2))

/*
 * Writes the decimal text s (n bytes), which fo_dec_check accepted, in
 * PostgreSQL's binary numeric format (numeric_send): ndigits, weight, sign
 * and display scale, then base-10000 digits, all big-endian. The display
 * scale is what numeric_in gives the same text ("1.50" keeps two places,
 * "1.2E-7" has eight). out holds FO_DEC_NUMERIC_MAX(n) bytes. Returns the
 * bytes written, or -1 when the value is outside what numeric_in accepts
 * (exponents and scales up to 1000).
 */
int fo_dec_to_numeric(const char *s, size_t n, unsigned char *out);

#endif

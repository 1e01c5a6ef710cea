/*
 * jsonconf.h: configuration files of JSON kept in operators' repositories
 * (anomaly monitors, budgets), read so that every bad field is named by the
 * file and its JSON path ("budgets.json: budgets[3].thresholds[0].percent:
 * must be a number above 0 to 1000"), unknown keys are refused as the typos
 * they usually are, and a missing field is left as the caller's default.
 */
#ifndef FINOPS_JSONCONF_H
#define FINOPS_JSONCONF_H

#include <stddef.h>

#include <jansson.h>

#include "finops/error.h"

struct fo_jc {
	const char *file;          /* named in every message */
	int code;                  /* the exit code of a bad field: FO_EXIT_USAGE or FO_EXIT_BAD_INPUT */
	fo_err *err;
};

/* Reads and parses path (at most max bytes; a key twice is refused) into *root. */
int fo_jc_load(struct fo_jc *x, const char *path, size_t max, json_t **root);
int fo_jc_parse(struct fo_jc *x, const char *text, size_t len, json_t **root);

/* "FILE: PATH: what" with x's code; returns -1. */
int fo_jc_bad(struct fo_jc *x, const char *path, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The path one key down: "budgets[2]" + "amount" -> "budgets[2].amount". */
void fo_jc_path(char *out, size_t len, const char *path, const char *key);

/* Refuses a key of obj not in allowed (NULL-terminated), naming the known ones. */
int fo_jc_only_keys(struct fo_jc *x, json_t *obj, const char *path, const char *const *allowed);

/*
 * obj's key, when there, into *out: a number in [min, max] (above min when
 * min_open), a whole number in [min, max], or a non-empty string of at most
 * 200 bytes. Absent: *out unchanged, 0.
 */
int fo_jc_number(struct fo_jc *x, json_t *obj, const char *key, const char *path, double min,
		 double max, int min_open, double *out);
int fo_jc_int(struct fo_jc *x, json_t *obj, const char *key, const char *path, int min, int max,
	      int *out);
int fo_jc_string(struct fo_jc *x, json_t *obj, const char *key, const char *path,
		 const char **out);

/*
 * v, a list of 1 to max strings of 1 to 256 bytes at path, into *out (an
 * array the caller frees; the strings stay v's) and *n.
 */
int fo_jc_strings(struct fo_jc *x, json_t *v, const char *path, size_t max, const char ***out,
		  size_t *n);

/* A name (letters, digits, '.', '_', '-') fit for logs, URLs and dedup keys. */
int fo_jc_name_ok(const char *s);

#endif

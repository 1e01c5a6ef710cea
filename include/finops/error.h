/*
 * error.h: the error report that library functions fill.
 *
 * Library functions return 0 on success and -1 on failure; on failure they
 * fill a struct fo_err with the exit-code class of the failure (see exit.h)
 * and one message naming the thing and the place, ready for an operator.
 */
#ifndef FINOPS_ERROR_H
#define FINOPS_ERROR_H

#include <stddef.h>

#include "finops/exit.h"

#define FO_ERR_MSG_MAX 2048

typedef struct fo_err {
	int code;                  /* an enum fo_exit value; FO_EXIT_OK when clear */
	char msg[FO_ERR_MSG_MAX];
} fo_err;

/* Clears an error report. */
void fo_err_clear(fo_err *err);

/*
 * Fills err with code and a printf-style message and returns -1, so that a
 * failing function can end with "return fo_err_set(err, ...)". err may be NULL.
 */
int fo_err_set(fo_err *err, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * Puts context in front of an existing message ("file.csv:12: " + msg) and
 * returns -1. The code is kept.
 */
int fo_err_prefix(fo_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif

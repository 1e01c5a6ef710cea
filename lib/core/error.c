/*
 * error.c: error reports and exit-code names.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "finops/error.h"

const char *
fo_exit_name(int code)
{
	switch (code) {
	case FO_EXIT_OK:
		return "ok";
	case FO_EXIT_FAILURE:
		return "failure";
	case FO_EXIT_USAGE:
		return "usage";
	case FO_EXIT_BAD_INPUT:
		return "bad_input";
	case FO_EXIT_TRANSIENT:
		return "transient";
	case FO_EXIT_NOTHING_NEW:
		return "nothing_new";
	}
	return "unknown";
}

void
fo_err_clear(fo_err *err)
{
	if (!err)
		return;
	err->code = FO_EXIT_OK;
	err->msg[0] = '\0';
}

int
fo_err_set(fo_err *err, int code, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	err->code = code;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	return -1;
}

int
fo_err_prefix(fo_err *err, const char *fmt, ...)
{
	char prefix[512];
	char old[FO_ERR_MSG_MAX];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof(old));
	snprintf(err->msg, sizeof(err->msg), "%s%s", prefix, old);
	if (err->code == FO_EXIT_OK)
		err->code = FO_EXIT_FAILURE;
	return -1;
}

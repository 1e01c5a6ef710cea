/*
 * jsonconf.c: JSON configuration files, every bad field named by its path
 * (see jsonconf.h).
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finops/jsonconf.h"

int
fo_jc_bad(struct fo_jc *x, const char *path, const char *fmt, ...)
{
	char what[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	return fo_err_set(x->err, x->code, "%s: %s%s%s", x->file, path, *path ? ": " : "", what);
}

void
fo_jc_path(char *out, size_t len, const char *path, const char *key)
{
	snprintf(out, len, "%s%s%s", path, *path ? "." : "", key);
}

int
fo_jc_parse(struct fo_jc *x, const char *text, size_t len, json_t **root)
{
	json_error_t jerr;

	*root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!*root)
		return fo_err_set(x->err, x->code, "%s:%d:%d: not valid JSON: %s", x->file,
				  jerr.line, jerr.column, jerr.text);
	return 0;
}

int
fo_jc_load(struct fo_jc *x, const char *path, size_t max, json_t **root)
{
	FILE *f = fopen(path, "rb");
	char *text;
	size_t len;
	int rc;

	*root = NULL;
	if (!f)
		return fo_err_set(x->err, x->code, "%s: %s", path, strerror(errno));
	text = malloc(max + 1);
	if (!text) {
		fclose(f);
		return fo_err_set(x->err, FO_EXIT_FAILURE, "out of memory");
	}
	len = fread(text, 1, max + 1, f);
	rc = ferror(f) ? fo_err_set(x->err, x->code, "%s: %s", path, strerror(errno))
	     : len > max ? fo_err_set(x->err, x->code, "%s: larger than %zu bytes", path, max) : 0;
	fclose(f);
	if (rc == 0)
		rc = fo_jc_parse(x, text, len, root);
	free(text);
	return rc;
}

int
fo_jc_only_keys(struct fo_jc *x, json_t *obj, const char *path, const char *const *allowed)
{
	const char *k;
	json_t *v;

	json_object_foreach(obj, k, v) {
		size_t i;

		for (i = 0; allowed[i] && strcmp(allowed[i], k) != 0; i++)
			;
		if (!allowed[i]) {
			char p[300], list[400] = "";

			fo_jc_path(p, sizeof(p), path, k);
			for (i = 0; allowed[i]; i++)
				snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s",
					 i ? ", " : "", allowed[i]);
			return fo_jc_bad(x, p, "unknown key (known here: %s)", list);
		}
	}
	return 0;
}

int
fo_jc_number(struct fo_jc *x, json_t *obj, const char *key, const char *path, double min,
	     double max, int min_open, double *out)
{
	json_t *v = json_object_get(obj, key);
	char p[300];
	double d;

	if (!v)
		return 0;
	fo_jc_path(p, sizeof(p), path, key);
	d = json_number_value(v);
	if (!json_is_number(v) || !isfinite(d) || (min_open ? d <= min : d < min) || d > max)
		return fo_jc_bad(x, p, "must be a number %s %g to %g", min_open ? "above" : "from",
				 min, max);
	*out = d;
	return 0;
}

int
fo_jc_int(struct fo_jc *x, json_t *obj, const char *key, const char *path, int min, int max,
	  int *out)
{
	json_t *v = json_object_get(obj, key);
	char p[300];

	if (!v)
		return 0;
	fo_jc_path(p, sizeof(p), path, key);
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max)
		return fo_jc_bad(x, p, "must be a whole number from %d to %d", min, max);
	*out = (int)json_integer_value(v);
	return 0;
}

int
fo_jc_string(struct fo_jc *x, json_t *obj, const char *key, const char *path, const char **out)
{
	json_t *v = json_object_get(obj, key);
	char p[300];

	if (!v)
		return 0;
	fo_jc_path(p, sizeof(p), path, key);
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 200)
		return fo_jc_bad(x, p, "must be a non-empty string (at most 200 bytes)");
	*out = json_string_value(v);
	return 0;
}

int
fo_jc_strings(struct fo_jc *x, json_t *v, const char *path, size_t max, const char ***out,
	      size_t *n)
{
	size_t i;
	json_t *e;

	*n = 0;
	if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > max)
		return fo_jc_bad(x, path, "must be a list of 1 to %zu strings", max);
	*out = calloc(json_array_size(v), sizeof(char *));
	if (!*out)
		return fo_err_set(x->err, FO_EXIT_FAILURE, "out of memory");
	json_array_foreach(v, i, e) {
		if (!json_is_string(e) || json_string_length(e) == 0 ||
		    json_string_length(e) > 256) {
			char p[300];

			snprintf(p, sizeof(p), "%s[%zu]", path, i);
			return fo_jc_bad(x, p, "must be a string of 1 to 256 bytes");
		}
		(*out)[(*n)++] = json_string_value(e);
	}
	return 0;
}

int
fo_jc_name_ok(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._-", *s))
			return 0;
	return 1;
}

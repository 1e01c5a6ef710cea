/*
 * units.c: what a named source holds (see load.h). A manifest is one unit:
 * all of its files or nothing. A directory or S3 prefix is listed like the
 * other: one manifest right in it makes a manifest unit, otherwise its .csv
 * and .gz files, in name order, are one unit; a plain file or object is a
 * unit of one.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <jansson.h>

#include "finops/billing.h"
#include "finops/log.h"
#include "finops/s3.h"
#include "finops/source.h"
#include "billing/load.h"

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

void
billing_unit_free(struct unit *u)
{
	if (u->has_manifest)
		fo_manifest_free(&u->man);
	else
		fo_source_free_list(u->files, u->nfiles);
	free(u->label);
	memset(u, 0, sizeof(*u));
}

/* A manifest unit; its files are found once its assembly is known to be new (load_unit). */
static int
unit_from_manifest(struct unit *u, const char *name, fo_err *err)
{
	u->has_manifest = 1;
	if (fo_manifest_load(name, &u->man, err) < 0)
		return -1;
	u->label = strdup(name);
	if (!u->label)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	u->files = u->man.keys;
	u->nfiles = u->man.nkeys;
	u->report_name = u->man.report_name ? u->man.report_name : "default";
	snprintf(u->assembly_id, sizeof(u->assembly_id), "%s", u->man.assembly_id);
	u->assembly_time = u->man.mtime;
	return 0;
}

/*
 * A file and its gzip copy side by side (x.csv and x.csv.gz) would load the
 * same rows twice: refuse, naming both. files is sorted.
 */
static int
no_gzip_twins(char **files, size_t n, const char *where, fo_err *err)
{
	for (size_t i = 0; i < n; i++) {
		size_t len = strlen(files[i]);

		if (len < 4 || strcmp(files[i] + len - 3, ".gz") != 0)
			continue;
		for (size_t j = 0; j < n; j++)
			if (j != i && strlen(files[j]) == len - 3 &&
			    strncmp(files[j], files[i], len - 3) == 0)
				return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s holds %s and its gzip copy"
						  " %s: their rows would count twice; keep one",
						  where, files[j], files[i]);
	}
	return 0;
}

/* A directory or prefix: its manifest, or its .csv and .gz files. */
static int
unit_from_listing(struct unit *u, const char *name, int s3, const char *report, fo_err *err)
{
	char **all, *manifest = NULL;
	size_t n, kept = 0;
	int manifests = 0, rc = 0;

	if (fo_source_list(name, FO_SOURCE_TOP, &all, &n, err) < 0)
		return -1;
	/* the files to load, in place at the front of the (sorted) list */
	for (size_t i = 0; i < n; i++) {
		const char *base = fo_source_base(all[i]);

		if (ends_with(base, "Manifest.json")) {
			manifests++;
			free(manifest);
			manifest = all[i];
		} else if (ends_with(base, ".csv") || ends_with(base, ".gz")) {
			all[kept++] = all[i];
		} else {
			free(all[i]);
		}
	}
	if (manifests > 1)
		rc = fo_err_set(err, FO_EXIT_USAGE, "%s holds %d manifests: name the one to load", name,
				manifests);
	else if (manifests == 1)
		rc = unit_from_manifest(u, manifest, err);
	else if (kept == 0)
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: no manifest and no .csv or .gz %s to load",
				name, s3 ? "objects" : "files");
	free(manifest);
	if (rc < 0 || manifests) {
		fo_source_free_list(all, kept);
		return rc;
	}
	u->files = all;
	u->nfiles = kept;
	u->label = strdup(name);
	u->report_name = report;
	if (!u->label)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	return no_gzip_twins(u->files, u->nfiles, name, err);
}

int
billing_unit(struct unit *u, const char *source, const char *report, fo_err *err)
{
	enum fo_source_kind kind;

	memset(u, 0, sizeof(*u));
	if (fo_source_kind_of(source, &kind, err) < 0)
		return -1;
	if (FO_SOURCE_IS_LISTING(kind))
		return unit_from_listing(u, source, kind == FO_SOURCE_PREFIX, report, err);
	if (ends_with(source, ".json"))
		return unit_from_manifest(u, source, err);
	u->files = calloc(1, sizeof(char *));
	if (u->files && (u->files[0] = strdup(source)) != NULL)
		u->nfiles = 1;
	u->label = strdup(source);
	if (!u->nfiles || !u->label)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	u->report_name = report;
	return 0;
}

/* "20261101-20261201": a billing period folder as AWS names it. */
static int
period_folder(const char *s, size_t n)
{
	if (n != 17 || s[8] != '-')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (i != 8 && (s[i] < '0' || s[i] > '9'))
			return 0;
	return 1;
}

/* The period folders of a report root, sorted, as "ROOT/20261101-20261201/". */
static int
period_folders(const char *root, char ***out, size_t *nout, fo_err *err)
{
	char **all;
	size_t n, len = strlen(root);

	*out = NULL;
	*nout = 0;
	while (len > 0 && root[len - 1] == '/')
		len--;
	if (fo_source_list(root, FO_SOURCE_DEEP, &all, &n, err) < 0)
		return -1;
	*out = calloc(n + 1, sizeof(char *));
	if (!*out) {
		fo_source_free_list(all, n);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		const char *rel = all[i], *slash;

		if (strncmp(rel, root, len) != 0)
			continue;
		for (rel += len; *rel == '/'; rel++)
			;
		slash = strchr(rel, '/');
		if (!slash || !period_folder(rel, (size_t)(slash - rel)))
			continue;
		if (*nout && strncmp((*out)[*nout - 1] + len + 1, rel, 17) == 0)
			continue;            /* sorted: the same folder as the one before */
		(*out)[*nout] = malloc(len + 20);
		if (!(*out)[*nout]) {
			fo_source_free_list(all, n);
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		}
		snprintf((*out)[*nout], len + 20, "%.*s/%.17s/", (int)len, root, rel);
		(*nout)++;
	}
	fo_source_free_list(all, n);
	return 0;
}

/* Whether a listing holds a report of its own (a manifest, .csv or .gz right in it). */
static int
holds_report(const char *name, int *yes, fo_err *err)
{
	char **all;
	size_t n;

	*yes = 0;
	if (fo_source_list(name, FO_SOURCE_TOP, &all, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && !*yes; i++) {
		const char *base = fo_source_base(all[i]);

		*yes = ends_with(base, "Manifest.json") || ends_with(base, ".csv") ||
		       ends_with(base, ".gz");
	}
	fo_source_free_list(all, n);
	return 0;
}

static int
print_unit(FILE *out, const char *source, const char *report, fo_err *err)
{
	struct unit u;
	const char *base;
	size_t len = strlen(source);
	char period[11] = "";
	json_t *j;
	int rc;

	if (billing_unit(&u, source, report, err) < 0) {
		billing_unit_free(&u);
		return -1;
	}
	/* the period of a folder named as AWS names it: ".../20261101-20261201/" */
	while (len > 0 && source[len - 1] == '/')
		len--;
	base = source + len;
	while (base > source && base[-1] != '/')
		base--;
	if (period_folder(base, (size_t)(source + len - base)))
		snprintf(period, sizeof(period), "%.4s-%.2s-%.2s", base, base + 4, base + 6);
	j = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:I}", "source", source, "kind",
		      u.has_manifest ? "manifest" : "files", "report", u.report_name,
		      "assembly", u.has_manifest ? u.assembly_id : NULL,
		      "period", period[0] ? period : NULL, "files", (json_int_t)u.nfiles);
	billing_unit_free(&u);
	if (!j)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	rc = json_dumpf(j, out, JSON_COMPACT) < 0 || fputc('\n', out) == EOF;
	json_decref(j);
	return rc ? fo_err_set(err, FO_EXIT_FAILURE, "writing the list: %s", strerror(errno)) : 0;
}

/* Whether the listing name holds a file (1: at its top, or anywhere when deep), or not (0). */
static int
holds_anything(const char *name, int deep, fo_err *err)
{
	char **all;
	size_t n;

	if (fo_source_list(name, deep ? FO_SOURCE_DEEP : FO_SOURCE_TOP, &all, &n, err) < 0)
		return -1;
	fo_source_free_list(all, n);
	return n > 0;
}

/*
 * --skip-undelivered: whether src is not delivered yet: a local path that
 * does not exist, or a folder or S3 prefix with nothing in it (AWS makes a
 * period's folder with its first delivery), in a report root that does
 * hold something. A root that is missing or empty as a whole is a wrong
 * name, not a late delivery: an error, so that a mistyped Variable never
 * passes for a quiet month.
 */
int
billing_undelivered(const char *src, int *yes, fo_err *err)
{
	enum fo_source_kind kind;
	struct stat st;
	char *parent;
	size_t len = strlen(src);
	int s3 = fo_s3_is_uri(src), rc;

	*yes = 0;
	if (!s3 && stat(src, &st) < 0 && errno == ENOENT) {
		*yes = 1;
	} else {
		if (fo_source_kind_of(src, &kind, err) < 0)
			return -1;
		if (!FO_SOURCE_IS_LISTING(kind))
			return 0;
		if ((rc = holds_anything(src, 0, err)) < 0)
			return -1;
		*yes = !rc;
	}
	if (!*yes)
		return 0;
	fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("source", src)),
		"%s: not delivered yet (nothing there), left out", src);
	/* the report root: src without its last segment, ending in '/' */
	while (len > 0 && src[len - 1] == '/')
		len--;
	while (len > 0 && src[len - 1] != '/')
		len--;
	if (len == 0 || (s3 && strncmp(src, "s3://", len) == 0))
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: does not exist or is empty", src);
	if (!(parent = strndup(src, len)))
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	rc = (s3 || stat(parent, &st) == 0) ? holds_anything(parent, 1, err) : 0;
	if (rc == 0)
		fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: does not exist or is empty, and so does its"
			   " report root %s (a wrong name, not a period not delivered yet)", src,
			   parent);
	free(parent);
	return rc > 0 ? 0 : -1;
}

int
fo_billing_list_units(const struct fo_billing_opts *opts, FILE *out, size_t *n, fo_err *err)
{
	const char *report = opts->report_name ? opts->report_name : "default";

	*n = 0;
	fo_source_set_region(opts->region);
	for (size_t i = 0; i < opts->nsources; i++) {
		const char *src = opts->sources[i];
		enum fo_source_kind kind;
		char **periods = NULL;
		size_t np = 0;
		int own = 1, rc = 0, missing;

		if (opts->skip_undelivered) {
			if (billing_undelivered(src, &missing, err) < 0)
				return -1;
			if (missing)
				continue;
		}
		if (fo_source_kind_of(src, &kind, err) < 0)
			return -1;
		if (FO_SOURCE_IS_LISTING(kind) && holds_report(src, &own, err) < 0)
			return -1;
		if (own) {
			if (print_unit(out, src, report, err) < 0)
				return -1;
			(*n)++;
			continue;
		}
		if (period_folders(src, &periods, &np, err) < 0) {
			fo_source_free_list(periods, np);
			return -1;
		}
		if (np == 0)
			rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: no report and no billing period"
					" folder (such as 20261101-20261201/) in it", src);
		for (size_t k = 0; rc == 0 && k < np; k++)
			if ((rc = print_unit(out, periods[k], report, err)) == 0)
				(*n)++;
		fo_source_free_list(periods, np);
		if (rc < 0)
			return -1;
	}
	return fflush(out) == EOF ? fo_err_set(err, FO_EXIT_FAILURE, "writing the list: %s",
					       strerror(errno)) : 0;
}

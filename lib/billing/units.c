/*
 * units.c: what a named source holds (see load.h). A manifest is one unit:
 * all of its files or nothing. A directory or S3 prefix is listed like the
 * other: one manifest right in it makes a manifest unit, otherwise its .csv
 * and .gz files, in name order, are one unit; a plain file or object is a
 * unit of one.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

/*
 * manifest.h: AWS CUR delivery manifests, legacy and CUR 2.0.
 *
 * A legacy CUR manifest (<report>-Manifest.json) names its assembly
 * (assemblyId), report (reportName), payer (account), billingPeriod and
 * report files (reportKeys, relative to the bucket). A CUR 2.0 (Data
 * Exports) manifest, under metadata/BILLING_PERIOD=YYYY-MM/, names its
 * execution (executionId), export (exportName), billingPeriod and data files
 * (dataFiles, s3:// URIs). Both are read into one struct; a manifest is one
 * unit: all of its files or nothing.
 */
#ifndef FINOPS_MANIFEST_H
#define FINOPS_MANIFEST_H

#include <stddef.h>
#include <time.h>

#include "finops/error.h"

#define FO_MANIFEST_MAX_BYTES (64 << 20)   /* a manifest larger than this is refused */
#define FO_MANIFEST_MAX_ID 256              /* characters of an assembly or execution id */

struct fo_manifest {
	char *path;              /* where it was read from */
	int cur2;                /* 1 for a Data Exports (CUR 2.0) manifest */
	char *assembly_id;       /* assemblyId or executionId */
	char *report_name;       /* reportName or exportName */
	char *account;           /* payer account, when given */
	char period[11];         /* billing period start date, "" when unknown */
	char **keys;             /* report files as the manifest names them */
	size_t nkeys;
	char **files;            /* the keys as paths or s3:// URIs, after fo_manifest_resolve */
	time_t mtime;            /* when the manifest was written (file time) */
};

/*
 * Parses the JSON text of a manifest read from path. Fails with
 * FO_EXIT_BAD_INPUT naming what is missing or wrong: an assembly id that
 * could not name a folder, a key with a "." or ".." segment or a control
 * character, a key listed twice. Free with fo_manifest_free().
 */
int fo_manifest_parse(const char *path, const char *json, size_t len, struct fo_manifest *m,
		      fo_err *err);

/*
 * Reads and parses a manifest file or S3 object (source.h), with its
 * modification time; one larger than FO_MANIFEST_MAX_BYTES is bad input.
 */
int fo_manifest_load(const char *name, struct fo_manifest *m, fo_err *err);

/*
 * The length of the prefix of a manifest's path or key that is its report's
 * folder, where all its files must be: the manifest's own folder (a legacy
 * CUR's billing period), or for a CUR 2.0 manifest under
 * <export>/metadata/BILLING_PERIOD=.../ the export's folder.
 */
size_t fo_manifest_scope(const char *path, int cur2);

/*
 * Finds each key's file, which must be inside the report's folder
 * (fo_manifest_scope). A manifest in S3: its keys are objects of its own
 * bucket. A local one: keys are relative to the bucket, so they are looked
 * up under every directory above the manifest, then beside it and in its
 * assembly folder, and only a file whose real path is inside the report's
 * folder counts. A key found nowhere, or only outside, is bad input naming
 * it.
 */
int fo_manifest_resolve(struct fo_manifest *m, fo_err *err);

void fo_manifest_free(struct fo_manifest *m);

#endif

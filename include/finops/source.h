/*
 * source.h: where a job's input comes from, one way for every kind.
 *
 * A source is named by the operator: a local file, a local directory, an
 * s3:// object, or an s3:// prefix (a key that is empty or ends in "/").
 * Directories and prefixes are listed alike; files and objects are opened
 * alike, as a read function (read.h). S3 goes through one client a run,
 * made at the first s3:// source and freed by fo_source_done(), which the
 * job runner calls at the end of every run.
 */
#ifndef FINOPS_SOURCE_H
#define FINOPS_SOURCE_H

#include <stddef.h>
#include <sys/types.h>

#include "finops/buf.h"
#include "finops/error.h"

enum fo_source_kind {
	FO_SOURCE_FILE,          /* a local file (or anything not a directory) */
	FO_SOURCE_DIR,           /* a local directory */
	FO_SOURCE_OBJECT,        /* s3://bucket/key */
	FO_SOURCE_PREFIX         /* s3://bucket/ or s3://bucket/prefix/ */
};

/*
 * Whether a source can be read, without connecting anywhere: a local path
 * must exist and be readable (else FO_EXIT_BAD_INPUT naming it); an s3://
 * name or "-" is taken as it is, to be found when it is read.
 */
int fo_source_check(const char *name, fo_err *err);

/* What name is: a missing local path is FO_EXIT_BAD_INPUT naming it. */
int fo_source_kind_of(const char *name, enum fo_source_kind *kind, fo_err *err);

/* Whether a name's kind is a listing (a directory or a prefix). */
#define FO_SOURCE_IS_LISTING(k) ((k) == FO_SOURCE_DIR || (k) == FO_SOURCE_PREFIX)

/* How deep fo_source_list looks. */
enum fo_source_depth {
	FO_SOURCE_TOP,           /* the files right in it */
	FO_SOURCE_DEEP           /* every file under it, however deep */
};

/*
 * Lists the files of a directory or prefix: local paths (dir/name) or
 * s3:// URIs, in name order, without names starting with "." (local) and
 * without folder markers (keys ending in "/"). *names (and each name) are
 * the caller's: fo_source_free_list.
 */
int fo_source_list(const char *name, enum fo_source_depth depth, char ***names, size_t *n,
		   fo_err *err);
void fo_source_free_list(char **names, size_t n);

/* The last part of a name (after its last "/"). */
const char *fo_source_base(const char *name);

/* An open file or object. */
typedef struct fo_source_file fo_source_file;

/* Opens a file or object for reading; *out is the caller's (fo_source_close). */
int fo_source_open(const char *name, fo_source_file **out, fo_err *err);

/* Reads from an open source: an fo_read_fn (read.h), ctx the fo_source_file. */
ssize_t fo_source_read(void *file, char *buf, size_t len, fo_err *err);

/* A local file's modification time (seconds), 0 for an object. */
long long fo_source_mtime(const fo_source_file *f);

void fo_source_close(fo_source_file *f);

/*
 * Reads a small object whole (a manifest), up to max bytes, into out;
 * mtime (may be NULL) gets its time, 0 when unknown. A larger one is
 * FO_EXIT_BAD_INPUT.
 */
int fo_source_get(const char *name, size_t max, fo_buf *out, long long *mtime, fo_err *err);

/* The region of the run's S3 client (NULL: the environment's), set before its first use. */
void fo_source_set_region(const char *region);

/* Frees the run's S3 client: the end of a run. */
void fo_source_done(void);

#endif

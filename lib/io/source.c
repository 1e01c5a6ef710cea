/*
 * source.c: local files and directories, S3 objects and prefixes, listed
 * and opened the same way (see source.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "finops/read.h"
#include "finops/s3.h"
#include "finops/source.h"
#include "core/core.h"

struct fo_source_file {
	struct fo_fd_source fd;      /* a local file: fd.fd >= 0 */
	fo_http_stream *stream;      /* an object */
	long long mtime;
};

/* The run's S3 client, made at the first s3:// source. */
static struct fo_s3 s3_client;
static int s3_made;
static char *s3_region;

void
fo_source_set_region(const char *region)
{
	free(s3_region);
	s3_region = region ? strdup(region) : NULL;
}

void
fo_source_done(void)
{
	if (s3_made)
		fo_s3_free(&s3_client);
	s3_made = 0;
	free(s3_region);
	s3_region = NULL;
}

static struct fo_s3 *
s3(fo_err *err)
{
	if (!s3_made) {
		if (fo_s3_init(&s3_client, s3_region, err) < 0)
			return NULL;
		s3_made = 1;
	}
	return &s3_client;
}

int
fo_source_check(const char *name, fo_err *err)
{
	struct stat st;

	if (fo_s3_is_uri(name) || strcmp(name, "-") == 0)
		return 0;
	if (stat(name, &st) < 0 || access(name, R_OK) < 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s", name, strerror(errno));
	return 0;
}

int
fo_source_kind_of(const char *name, enum fo_source_kind *kind, fo_err *err)
{
	struct stat st;

	if (fo_s3_is_uri(name)) {
		char *bucket, *key;

		if (fo_s3_parse_uri(name, &bucket, &key, err) < 0)
			return -1;
		*kind = !*key || key[strlen(key) - 1] == '/' ? FO_SOURCE_PREFIX : FO_SOURCE_OBJECT;
		free(bucket);
		free(key);
		return 0;
	}
	if (stat(name, &st) < 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s", name, strerror(errno));
	*kind = S_ISDIR(st.st_mode) ? FO_SOURCE_DIR : FO_SOURCE_FILE;
	return 0;
}

const char *
fo_source_base(const char *name)
{
	const char *slash = strrchr(name, '/');

	return slash ? slash + 1 : name;
}

/* Appends a newly allocated name to the list; -1 (name freed) when out of memory. */
static int
push(char ***names, size_t *n, char *name, fo_err *err)
{
	char **g = name ? realloc(*names, (*n + 1) * sizeof(**names)) : NULL;

	if (!g) {
		free(name);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	*names = g;
	(*names)[(*n)++] = name;
	return 0;
}

static char *
join(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);

	if (s)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

/*
 * The files of a local directory in name order; with FO_SOURCE_DEEP, a
 * subdirectory's files at its place in that order (Firehose names by time).
 */
static int
list_dir(const char *dir, enum fo_source_depth depth, char ***out, size_t *n, fo_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t k = 0;
	int rc = 0;

	if (!d)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s", dir, strerror(errno));
	while (rc == 0 && (e = readdir(d)) != NULL)
		if (e->d_name[0] != '.')
			rc = push(&names, &k, join(dir, "/", e->d_name), err);
	closedir(d);
	if (rc == 0 && k)
		qsort(names, k, sizeof(*names), fo_cmp_str);
	for (size_t i = 0; i < k; i++) {
		struct stat st;
		int is_dir = stat(names[i], &st) == 0 && S_ISDIR(st.st_mode);

		if (rc == 0 && is_dir && depth == FO_SOURCE_DEEP)
			rc = list_dir(names[i], depth, out, n, err);
		else if (rc == 0 && !is_dir) {
			rc = push(out, n, names[i], err);
			continue;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

static int
list_prefix(const char *uri, enum fo_source_depth depth, char ***out, size_t *n, fo_err *err)
{
	struct fo_s3 *c = s3(err);
	char *bucket, *prefix, **keys = NULL;
	size_t nk = 0, plen;
	int rc;

	if (!c || fo_s3_parse_uri(uri, &bucket, &prefix, err) < 0)
		return -1;
	plen = strlen(prefix);
	rc = fo_s3_list(c, bucket, prefix, &keys, &nk, err);
	for (size_t i = 0; rc == 0 && i < nk; i++) {
		const char *rest = keys[i] + plen;
		fo_buf one = FO_BUF_INIT;

		if (!*rest || rest[strlen(rest) - 1] == '/' ||
		    (depth == FO_SOURCE_TOP && strchr(rest, '/')))
			continue;
		fo_buf_printf(&one, "s3://%s/%s", bucket, keys[i]);
		rc = push(out, n, one.oom ? (fo_buf_free(&one), NULL) : one.data, err);
	}
	fo_s3_free_keys(keys, nk);
	free(bucket);
	free(prefix);
	return rc;
}

int
fo_source_list(const char *name, enum fo_source_depth depth, char ***names, size_t *n,
	       fo_err *err)
{
	int rc;

	*names = NULL;
	*n = 0;
	rc = fo_s3_is_uri(name) ? list_prefix(name, depth, names, n, err)
	     : list_dir(name, depth, names, n, err);
	if (rc < 0) {
		fo_source_free_list(*names, *n);
		*names = NULL;
		*n = 0;
	}
	return rc;
}

void
fo_source_free_list(char **names, size_t n)
{
	fo_free_strings(names, n);
}

/* Splits an s3:// name for the client; *bucket and *key are the caller's. */
static struct fo_s3 *
object(const char *name, char **bucket, char **key, fo_err *err)
{
	struct fo_s3 *c = s3(err);

	if (!c || fo_s3_parse_uri(name, bucket, key, err) < 0)
		return NULL;
	return c;
}

int
fo_source_open(const char *name, fo_source_file **out, fo_err *err)
{
	fo_source_file *f = calloc(1, sizeof(*f));
	int rc = 0;

	*out = NULL;
	if (!f)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	f->fd.fd = -1;
	f->fd.path = name;
	if (fo_s3_is_uri(name)) {
		char *bucket, *key;
		struct fo_s3 *c = object(name, &bucket, &key, err);

		if (!c) {
			free(f);
			return -1;
		}
		rc = fo_s3_open(c, bucket, key, &f->stream, err);
		free(bucket);
		free(key);
	} else {
		struct stat st;

		f->fd.fd = open(name, O_RDONLY | O_CLOEXEC);
		if (f->fd.fd < 0)
			rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s", name, strerror(errno));
		else if (fstat(f->fd.fd, &st) == 0)
			f->mtime = (long long)st.st_mtime;
	}
	if (rc < 0) {
		free(f);
		return -1;
	}
	*out = f;
	return 0;
}

ssize_t
fo_source_read(void *file, char *buf, size_t len, fo_err *err)
{
	fo_source_file *f = file;

	return f->stream ? fo_http_stream_read(f->stream, buf, len, err)
	       : fo_fd_read(&f->fd, buf, len, err);
}

long long
fo_source_mtime(const fo_source_file *f)
{
	return f->mtime;
}

void
fo_source_close(fo_source_file *f)
{
	if (!f)
		return;
	if (f->stream)
		fo_http_stream_close(f->stream);
	if (f->fd.fd >= 0)
		close(f->fd.fd);
	free(f);
}

int
fo_source_get(const char *name, size_t max, fo_buf *out, long long *mtime, fo_err *err)
{
	fo_source_file *f;
	char chunk[65536];
	ssize_t got;

	if (mtime)
		*mtime = 0;
	if (fo_s3_is_uri(name)) {
		char *bucket, *key;
		struct fo_s3 *c = object(name, &bucket, &key, err);
		int rc;

		if (!c)
			return -1;
		rc = fo_s3_get(c, bucket, key, max, out, mtime, err);
		free(bucket);
		free(key);
		return rc;
	}
	if (fo_source_open(name, &f, err) < 0)
		return -1;
	while ((got = fo_source_read(f, chunk, sizeof(chunk), err)) > 0 && out->len <= max)
		fo_buf_append(out, chunk, (size_t)got);
	if (mtime)
		*mtime = f->mtime;
	fo_source_close(f);
	if (got < 0)
		return -1;
	if (out->oom)
		return fo_err_set(err, FO_EXIT_FAILURE, "%s: out of memory", name);
	if (out->len > max)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: larger than %zu bytes", name, max);
	return 0;
}

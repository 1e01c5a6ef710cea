/*
 * billing.c: atomic loads of billing exports (see billing.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "finops/billing.h"
#include "finops/copy.h"
#include "finops/csvread.h"
#include "billing/cur.h"
#include "finops/decimal.h"
#include "finops/jobrun.h"
#include "finops/log.h"
#include "finops/manifest.h"
#include "finops/s3.h"
#include "finops/pg.h"
#include "core/core.h"

#define MAX_CURRENCIES 32
/*
 * (source, period) partitions one load makes in a period. A load of more
 * sources than that in one period (a FOCUS export of thousands of billing
 * accounts) puts them in the period's DEFAULT partition, and locks the
 * report's period as a whole instead of each source: PostgreSQL's lock
 * table holds a few thousand locks, not one a source, and a partition's
 * list of values must fit in one catalog row.
 */
#define MAX_LEAVES 32
#define PARENT "finops.billing_line_items"

/* One manifest, or a set of plain files. */
struct unit {
	char *label;               /* manifest path, or the first file */
	int has_manifest;
	struct fo_manifest man;
	char **files;
	size_t nfiles;
	const char *report_name;
	char assembly_id[FO_MANIFEST_MAX_ID + 32];   /* manifest ids are checked to fit */
	time_t assembly_time;
	char *s3_bucket;           /* an S3 manifest: the bucket its keys are in */
	char *s3_scope;            /* and its report's folder there (no trailing /) */
};

/* One (source, billing period) of a load. */
struct group {
	char *account;
	char period[11];
	int source_id;
	char source_id_text[16];
	long long rows;
	int replace;               /* decided after parsing */
	long long old_load;        /* current load of the period, 0 when none */
};

struct currency_total {
	char code[4];
	long long rows;
	fo_dec_sum billed;
	fo_dec_sum effective;
};

struct load {
	struct fo_run *ctx;
	const struct fo_billing_opts *opts;
	struct unit *u;
	const char *kind;            /* "aws_cur" or "focus", from the first header */
	const char *format_name;
	fo_bill_mapper *mapper;
	const char *file;
	fo_copy *copy;
	char staging[96];
	int staging_made, multi;
	long long load_id;
	char load_id_text[24];
	struct group *groups;
	size_t ngroups;
	struct group *last;
	uint32_t *gslots;            /* open addressing over groups: index + 1, 0 empty */
	size_t ngslots;
	int staging_kept;            /* the staging table became a partition itself */
	struct currency_total cur[MAX_CURRENCIES];
	size_t ncur;
	long long rows;
	unsigned long long bytes;
	uLong crc;                   /* of the plain files' bytes: their fingerprint */
};

/* ---- units ------------------------------------------------------------ */

/* The S3 client of this run, made at the first s3:// source. */
static struct fo_s3 s3_client;
static int s3_ready;
static const char *s3_region;

static struct fo_s3 *
s3(fo_err *err)
{
	if (!s3_ready) {
		if (fo_s3_init(&s3_client, s3_region, err) < 0)
			return NULL;
		s3_ready = 1;
	}
	return &s3_client;
}

static void
s3_done(void)
{
	if (s3_ready)
		fo_s3_free(&s3_client);
	s3_ready = 0;
}

static int
ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);

	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static void
unit_free(struct unit *u)
{
	if (u->has_manifest)
		fo_manifest_free(&u->man);
	else
		for (size_t i = 0; i < u->nfiles; i++)
			free(u->files[i]);
	if (!u->has_manifest)
		free(u->files);
	free(u->label);
	free(u->s3_bucket);
	free(u->s3_scope);
	memset(u, 0, sizeof(*u));
}

/* Fills u from its parsed manifest, read from label. */
static int
manifest_unit(struct unit *u, const char *label, fo_err *err)
{
	u->label = strdup(label);
	if (!u->label)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	/* files are found once the assembly is known to be new (load_unit) */
	u->files = u->man.keys;
	u->nfiles = u->man.nkeys;
	u->report_name = u->man.report_name ? u->man.report_name : "default";
	snprintf(u->assembly_id, sizeof(u->assembly_id), "%s", u->man.assembly_id);
	u->assembly_time = u->man.mtime;
	return 0;
}

static int
unit_from_manifest(struct unit *u, const char *path, fo_err *err)
{
	memset(u, 0, sizeof(*u));
	u->has_manifest = 1;
	if (fo_manifest_load(path, &u->man, err) < 0)
		return -1;
	return manifest_unit(u, path, err);
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

/*
 * Lists a directory: one manifest (*Manifest.json) makes a manifest unit;
 * otherwise every *.csv, *.csv.gz and *.gz file, in name order, is one unit.
 */
static int
unit_from_dir(struct unit *u, const char *dir, const char *report, fo_err *err)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096], manifest[4096] = "";
	int manifests = 0;

	memset(u, 0, sizeof(*u));
	if (!d)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s", dir, strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (ends_with(e->d_name, "Manifest.json")) {
			manifests++;
			snprintf(manifest, sizeof(manifest), "%s", path);
		} else if (ends_with(e->d_name, ".csv") || ends_with(e->d_name, ".gz")) {
			char **f = realloc(u->files, (u->nfiles + 1) * sizeof(char *));

			if (!f || !(f[u->nfiles] = strdup(path))) {
				closedir(d);
				return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
			}
			u->files = f;
			u->nfiles++;
		}
	}
	closedir(d);
	if (manifests > 1)
		return fo_err_set(err, FO_EXIT_USAGE,
				  "%s holds %d manifests: name the one to load", dir, manifests);
	if (manifests == 1) {
		for (size_t i = 0; i < u->nfiles; i++)
			free(u->files[i]);
		free(u->files);
		return unit_from_manifest(u, manifest, err);
	}
	if (u->nfiles == 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT,
				  "%s: no manifest and no .csv or .gz files to load", dir);
	qsort(u->files, u->nfiles, sizeof(char *), fo_cmp_str);
	u->label = strdup(dir);
	u->report_name = report;
	return no_gzip_twins(u->files, u->nfiles, dir, err);
}

/* A manifest in S3: its keys are objects of the same bucket (CUR 2.0: s3:// URIs). */
static int
unit_from_s3_manifest(struct unit *u, const char *uri, const char *bucket, const char *key,
		      fo_err *err)
{
	struct fo_s3 *c = s3(err);
	fo_buf json = FO_BUF_INIT;
	long long mtime = 0;
	int rc;

	memset(u, 0, sizeof(*u));
	if (!c || fo_s3_get(c, bucket, key, FO_MANIFEST_MAX_BYTES, &json, &mtime, err) < 0)
		return -1;
	u->has_manifest = 1;
	rc = fo_manifest_parse(uri, json.data ? json.data : "", json.len, &u->man, err);
	fo_buf_free(&json);
	if (rc < 0)
		return -1;
	u->man.mtime = (time_t)mtime;
	u->s3_bucket = strdup(bucket);
	u->s3_scope = strndup(key, fo_manifest_scope(key, u->man.cur2));
	if (!u->s3_bucket || !u->s3_scope)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	return manifest_unit(u, uri, err);
}

/* The s3:// URIs of an S3 manifest's keys. */
static int
resolve_s3(struct unit *u, fo_err *err)
{
	u->man.files = calloc(u->man.nkeys ? u->man.nkeys : 1, sizeof(char *));
	if (!u->man.files)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; i < u->man.nkeys; i++) {
		const char *k = u->man.keys[i], *rel = k;
		size_t blen = strlen(u->s3_bucket), slen = strlen(u->s3_scope);
		fo_buf uri = FO_BUF_INIT;

		/* every file in the manifest's bucket, inside its report's folder */
		if (fo_s3_is_uri(k)) {
			if (strncmp(k + 5, u->s3_bucket, blen) != 0 || k[5 + blen] != '/')
				return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: report file %s is not in"
						  " the manifest's bucket %s: refused", u->label, k,
						  u->s3_bucket);
			rel = k + 5 + blen + 1;
		}
		while (*rel == '/')
			rel++;
		if (slen && (strncmp(rel, u->s3_scope, slen) != 0 || rel[slen] != '/'))
			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: report file %s is outside the"
					  " report's folder s3://%s/%s/: refused", u->label, k,
					  u->s3_bucket, u->s3_scope);
		fo_buf_printf(&uri, "s3://%s/%s", u->s3_bucket, rel);
		if (uri.oom)
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		u->man.files[i] = uri.data;
	}
	return 0;
}

/*
 * An S3 prefix ending in "/", like a directory: one manifest right under it
 * makes a manifest unit, else its .csv and .gz objects (not those deeper).
 */
static int
unit_from_s3_prefix(struct unit *u, const char *uri, const char *bucket, const char *prefix,
		    const char *report, fo_err *err)
{
	struct fo_s3 *c = s3(err);
	char **keys = NULL, *manifest = NULL;
	size_t n = 0, plen = strlen(prefix);
	int manifests = 0, rc = 0;

	memset(u, 0, sizeof(*u));
	if (!c || fo_s3_list(c, bucket, prefix, &keys, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *name = keys[i] + plen;

		if (strchr(name, '/') || !*name)
			continue;
		if (ends_with(name, "Manifest.json")) {
			manifests++;
			manifest = keys[i];
		} else if (ends_with(name, ".csv") || ends_with(name, ".gz")) {
			char **f = realloc(u->files, (u->nfiles + 1) * sizeof(char *));
			fo_buf one = FO_BUF_INIT;

			fo_buf_printf(&one, "s3://%s/%s", bucket, keys[i]);
			if (!f || one.oom) {
				free(f ? NULL : one.data);
				rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
				if (f)
					u->files = f;
				fo_buf_free(&one);
				break;
			}
			u->files = f;
			u->files[u->nfiles++] = one.data;
		}
	}
	if (rc == 0 && manifests > 1)
		rc = fo_err_set(err, FO_EXIT_USAGE, "%s holds %d manifests: name the one to load", uri,
				manifests);
	if (rc == 0 && manifests == 1) {
		fo_buf m = FO_BUF_INIT;

		for (size_t i = 0; i < u->nfiles; i++)
			free(u->files[i]);
		free(u->files);
		u->files = NULL;
		u->nfiles = 0;
		fo_buf_printf(&m, "s3://%s/%s", bucket, manifest);
		rc = m.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		     : unit_from_s3_manifest(u, m.data, bucket, manifest, err);
		fo_buf_free(&m);
	} else if (rc == 0 && u->nfiles == 0) {
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: no manifest and no .csv or .gz objects"
				" to load", uri);
	} else if (rc == 0) {
		u->label = strdup(uri);
		u->report_name = report;
		rc = no_gzip_twins(u->files, u->nfiles, uri, err);
	}
	fo_s3_free_keys(keys, n);
	return rc;
}

static int
unit_from_s3(struct unit *u, const char *uri, const char *report, fo_err *err)
{
	char *bucket, *key;
	int rc;

	memset(u, 0, sizeof(*u));
	if (fo_s3_parse_uri(uri, &bucket, &key, err) < 0)
		return -1;
	if (!*key || ends_with(key, "/"))
		rc = unit_from_s3_prefix(u, uri, bucket, key, report, err);
	else if (ends_with(key, ".json"))
		rc = unit_from_s3_manifest(u, uri, bucket, key, err);
	else if (!(u->files = calloc(1, sizeof(char *))) || !(u->files[0] = strdup(uri)) ||
		 !(u->label = strdup(uri)))
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	else {
		u->nfiles = 1;
		u->report_name = report;
		rc = 0;
	}
	free(bucket);
	free(key);
	return rc;
}

static int
unit_from_local(struct unit *u, const char *path, const char *report, fo_err *err)
{
	struct stat st;

	memset(u, 0, sizeof(*u));
	if (stat(path, &st) < 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return unit_from_dir(u, path, report, err);
	if (ends_with(path, ".json"))
		return unit_from_manifest(u, path, err);
	u->files = calloc(1, sizeof(char *));
	if (!u->files || !(u->files[0] = strdup(path)) || !(u->label = strdup(path)))
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	u->nfiles = 1;
	u->report_name = report;
	return 0;
}

static int
unit_from_path(struct unit *u, const char *path, const char *report, fo_err *err)
{
	if (fo_s3_is_uri(path))
		return unit_from_s3(u, path, report, err);
	return unit_from_local(u, path, report, err);
}

/* ---- rows -------------------------------------------------------------- */

struct file_read {
	int fd;
	const char *path;
	struct load *l;
	fo_http_stream *stream;    /* an S3 object, instead of fd */
};

/* Reads a file, keeping a CRC-32 of its bytes as the plain files' fingerprint. */
static ssize_t
read_fingerprinted(void *ctx, char *buf, size_t len, fo_err *err)
{
	struct file_read *f = ctx;
	ssize_t n = f->stream ? fo_http_stream_read(f->stream, buf, len, err)
		    : fo_fd_read(&(struct fo_fd_source){f->fd, f->path}, buf, len, err);

	if (n > 0) {
		f->l->crc = crc32(f->l->crc, (const Bytef *)buf, (uInt)n);
		f->l->bytes += (unsigned long long)n;
	}
	return n;
}

static int
start_copy(struct load *l, fo_err *err)
{
	char table[128];

	snprintf(table, sizeof(table), "finops.%s", l->staging);
	return fo_copy_begin_binary(l->ctx->conn, table, fo_bill_column_names, FO_BILL_NCOLS, 0,
				    "FREEZE", &l->copy, err);
}

static int
end_copy(struct load *l, fo_err *err)
{
	struct fo_copy_result r;
	int rc;

	if (!l->copy)
		return 0;
	rc = fo_copy_finish(l->copy, &r, err);
	l->copy = NULL;
	if (rc < 0 && r.failed_row)
		fo_err_prefix(err, "%s: ", l->u->label);
	return rc;
}

static int
source_id_of(struct load *l, const char *account, int *id, fo_err *err)
{
	const char *params[4] = {l->kind, account, l->u->report_name,
				 strcmp(l->kind, "aws_cur") == 0 ? "AWS" : NULL};
	PGresult *res;

	if (fo_pg_query(l->ctx->conn,
			"INSERT INTO finops.billing_sources (kind, billing_account_id, report_name,"
			"                                    provider_name)"
			" VALUES ($1, $2, $3, $4)"
			" ON CONFLICT (kind, billing_account_id, report_name)"
			" DO UPDATE SET kind = EXCLUDED.kind RETURNING source_id",
			4, params, &res, err) < 0)
		return -1;
	*id = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int
sql(struct load *l, fo_err *err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
sql(struct load *l, fo_err *err, const char *fmt, ...)
{
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	return fo_pg_exec(l->ctx->conn, text, err);
}

/* How many groups of the load are in period (the newest included). */
static size_t
groups_in_period(const struct load *l, const char *period)
{
	size_t n = 0;

	for (size_t i = 0; i < l->ngroups; i++)
		n += strcmp(l->groups[i].period, period) == 0;
	return n;
}

/*
 * The locks of the newest group (account, period). Each (source, period)
 * has a lock of its own, which two runs of one source meet on, and each
 * (report, period) one that runs hold shared, so that a load of more than
 * MAX_LEAVES sources can hold it alone instead of a lock a source. Only the
 * first group's locks wait (--lock-wait); the others are taken at once or
 * the run exits 4, so two runs never wait for each other.
 */
static int
lock_group(struct load *l, const char *account, const char *period, fo_err *err)
{
	char scope[256], report[256];
	size_t n = groups_in_period(l, period);
	int wait = l->ngroups == 1 ? l->ctx->lock_wait_s : 0;

	snprintf(scope, sizeof(scope), "%s/%s/%s/%.7s", l->kind, account, l->u->report_name, period);
	snprintf(report, sizeof(report), "%s/%s/%.7s", l->kind, l->u->report_name, period);
	if (n > MAX_LEAVES + 1)
		return 0;               /* the report's period is this run's alone already */
	if (n == MAX_LEAVES + 1)
		return fo_pg_lock(l->ctx->conn, l->ctx->name, report, 0, err);
	if (l->ngroups == 1 ? fo_run_lock(l->ctx, scope, err) < 0
	    : fo_pg_lock(l->ctx->conn, l->ctx->name, scope, 0, err) < 0)
		return -1;
	return n == 1 ? fo_pg_lock_shared(l->ctx->conn, l->ctx->name, report, wait, err) : 0;
}

/* A row of a (source, period) not seen before: register it and route to it. */
static struct group *
new_group(struct load *l, const char *account, const char *period, fo_err *err)
{
	struct group *g, *groups;

	if (end_copy(l, err) < 0)
		return NULL;
	groups = realloc(l->groups, (l->ngroups + 1) * sizeof(*groups));
	if (!groups) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		return NULL;
	}
	l->groups = groups;
	g = &groups[l->ngroups];
	memset(g, 0, sizeof(*g));
	g->account = strdup(account);
	if (!g->account) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		return NULL;
	}
	/* counted from here on, so that the load's cleanup frees it */
	l->ngroups++;
	snprintf(g->period, sizeof(g->period), "%s", period);
	/*
	 * The (source, period) lock comes first: a run that finds it held exits
	 * (or waits, --lock-wait) before it touches any row another run has
	 * locked. Only the first lock of a unit waits; the others are taken at
	 * once or the run exits 4, so two runs never wait for each other.
	 */
	if (lock_group(l, account, period, err) < 0)
		return NULL;
	if (source_id_of(l, account, &g->source_id, err) < 0)
		return NULL;
	snprintf(g->source_id_text, sizeof(g->source_id_text), "%d", g->source_id);
	if (l->ngroups == 1) {
		/* The new rows go to a table of their own; with one (source,
		 * period) it becomes that partition as it is. */
		if (sql(l, err,
			"CREATE TABLE finops.%s (LIKE " PARENT " INCLUDING DEFAULTS"
			" INCLUDING CONSTRAINTS)", l->staging) < 0 ||
		    sql(l, err, "ALTER TABLE finops.%s ADD CONSTRAINT %s_bounds"
			" CHECK (billing_period = '%s' AND source_id = %d)", l->staging, l->staging,
			period, g->source_id) < 0)
			return NULL;
		l->staging_made = 1;
	} else {
		if (!l->multi && sql(l, err, "ALTER TABLE finops.%s DROP CONSTRAINT %s_bounds",
				     l->staging, l->staging) < 0)
			return NULL;
		l->multi = 1;
	}
	if (start_copy(l, err) < 0)
		return NULL;
	return g;
}

static uint64_t
group_hash(const char *account, const char *period)
{
	uint64_t h = 1469598103934665603ull;          /* FNV-1a */

	for (const char *p = account; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	h = (h ^ '|') * 1099511628211ull;
	for (const char *p = period; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ull;
	return h;
}

/* Rebuilds the group hash with room for twice the groups. */
static int
grow_gslots(struct load *l)
{
	size_t n = l->ngslots ? l->ngslots * 2 : 256;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (!slots)
		return -1;
	for (size_t i = 0; i < l->ngroups; i++) {
		uint64_t h = group_hash(l->groups[i].account, l->groups[i].period);

		for (size_t k = h & (n - 1);; k = (k + 1) & (n - 1))
			if (!slots[k]) {
				slots[k] = (uint32_t)i + 1;
				break;
			}
	}
	free(l->gslots);
	l->gslots = slots;
	l->ngslots = n;
	return 0;
}

static struct group *
group_of(struct load *l, const char *account, const char *period, fo_err *err)
{
	uint64_t h;

	if (l->last && strcmp(l->last->period, period) == 0 && strcmp(l->last->account, account) == 0)
		return l->last;
	if ((l->ngroups + 1) * 2 > l->ngslots && grow_gslots(l) < 0) {
		fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		return NULL;
	}
	h = group_hash(account, period);
	for (size_t k = h & (l->ngslots - 1); l->gslots[k]; k = (k + 1) & (l->ngslots - 1)) {
		struct group *g = &l->groups[l->gslots[k] - 1];

		if (strcmp(g->period, period) == 0 && strcmp(g->account, account) == 0)
			return l->last = g;
	}
	l->last = new_group(l, account, period, err);
	if (l->last) {
		/* the slot search above stopped on an empty slot: the new group's */
		size_t k = h & (l->ngslots - 1);

		while (l->gslots[k])
			k = (k + 1) & (l->ngslots - 1);
		l->gslots[k] = (uint32_t)(l->last - l->groups) + 1;
	}
	/* the array may have moved */
	return l->last;
}

static int
add_total(struct load *l, const struct fo_bill_row *row, fo_err *err)
{
	const char *code = row->v[FO_COL_BILLING_CURRENCY];
	struct currency_total *t = NULL;

	for (size_t i = 0; i < l->ncur; i++)
		if (strcmp(l->cur[i].code, code) == 0)
			t = &l->cur[i];
	if (!t) {
		if (l->ncur == MAX_CURRENCIES)
			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: more than %d currencies", l->file,
					  MAX_CURRENCIES);
		t = &l->cur[l->ncur++];
		memset(t, 0, sizeof(*t));
		snprintf(t->code, sizeof(t->code), "%s", code);
	}
	t->rows++;
	if (fo_dec_add(&t->billed, row->v[FO_COL_BILLED_COST], row->n[FO_COL_BILLED_COST]) < 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: billed cost %s is out of range", l->file,
				  row->v[FO_COL_BILLED_COST]);
	if (fo_dec_add(&t->effective, row->v[FO_COL_EFFECTIVE_COST],
		       row->n[FO_COL_EFFECTIVE_COST]) < 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: effective cost %s is out of range",
				  l->file, row->v[FO_COL_EFFECTIVE_COST]);
	return 0;
}

/* Sends one row in binary COPY format, each column in its type's form. */
static void
put_row(fo_copy *copy, const struct fo_bill_row *row, int source_id, long long load_id)
{
	for (int c = 0; c < FO_BILL_NCOLS; c++) {
		const char *v = row->v[c];

		if (!v && c != FO_COL_SOURCE_ID && c != FO_COL_LOAD_ID) {
			fo_copy_put_null(copy);
			continue;
		}
		switch ((enum fo_bill_type)fo_bill_column_types[c]) {
		case FO_BT_TEXT:
			fo_copy_put(copy, v, row->n[c]);
			break;
		case FO_BT_INT4:
			fo_copy_put_int4(copy, source_id);
			break;
		case FO_BT_INT8:
			fo_copy_put_int8(copy, load_id);
			break;
		case FO_BT_DATE:
			fo_copy_put_date(copy, row->ts[c].epoch_s);
			break;
		case FO_BT_TIMESTAMPTZ:
			fo_copy_put_timestamptz(copy, row->ts[c].epoch_s, row->ts[c].micros);
			break;
		case FO_BT_NUMERIC:
			fo_copy_put_numeric(copy, v, row->n[c]);
			break;
		case FO_BT_JSONB:
			fo_copy_put_jsonb(copy, v, row->n[c]);
			break;
		}
	}
}

static int
on_record(void *arg, const struct fo_csv_record *rec, fo_err *err)
{
	struct load *l = arg;
	struct fo_bill_map_opts mopts = {l->opts->allow_short_rows};
	struct fo_bill_row row;
	struct group *g;

	if (rec->index == 1) {
		fo_bill_mapper_free(l->mapper);
		l->mapper = NULL;
		if (fo_bill_mapper_new(l->file, rec, &mopts, &l->mapper, err) < 0)
			return -1;
		fo_csv_only_fields(rec, fo_bill_mapper_used(l->mapper), rec->nfields);
		if (!l->kind) {
			l->kind = fo_bill_mapper_kind(l->mapper);
			l->format_name = fo_bill_mapper_format_name(l->mapper);
		} else if (strcmp(l->kind, fo_bill_mapper_kind(l->mapper)) != 0) {
			return fo_err_set(err, FO_EXIT_BAD_INPUT,
					  "%s: a %s file in a load of %s files", l->file,
					  fo_bill_mapper_format_name(l->mapper), l->format_name);
		}
		return 0;
	}
	if (fo_bill_map_row(l->mapper, rec, &row, err) < 0)
		return -1;
	g = group_of(l, row.v[FO_COL_BILLING_ACCOUNT_ID], row.period, err);
	if (!g)
		return -1;
	row.v[FO_COL_SOURCE_ID] = g->source_id_text;
	row.n[FO_COL_SOURCE_ID] = strlen(g->source_id_text);
	row.v[FO_COL_LOAD_ID] = l->load_id_text;
	row.n[FO_COL_LOAD_ID] = strlen(l->load_id_text);
	put_row(l->copy, &row, g->source_id, l->load_id);
	if (fo_copy_end_row(l->copy, err) < 0)
		return fo_err_prefix(err, "%s:%llu: ", l->file, rec->line);
	g->rows++;
	l->rows++;
	return add_total(l, &row, err);
}

static int
open_s3(const char *uri, fo_http_stream **out, fo_err *err)
{
	struct fo_s3 *c = s3(err);
	char *bucket, *key;
	int rc;

	if (!c || fo_s3_parse_uri(uri, &bucket, &key, err) < 0)
		return -1;
	rc = fo_s3_open(c, bucket, key, out, err);
	free(bucket);
	free(key);
	return rc;
}

static int
read_files(struct load *l, fo_err *err)
{
	for (size_t i = 0; i < l->u->nfiles; i++) {
		struct file_read f = {-1, l->u->files[i], l, NULL};
		struct fo_csv_stats st;
		struct stat sb;
		int rc;

		l->file = l->u->files[i];
		if (fo_s3_is_uri(l->file)) {
			if (open_s3(l->file, &f.stream, err) < 0)
				return -1;
		} else {
			f.fd = open(l->file, O_RDONLY | O_CLOEXEC);
			if (f.fd < 0)
				return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s", l->file,
						  strerror(errno));
			if (!l->u->has_manifest && fstat(f.fd, &sb) == 0 &&
			    sb.st_mtime > l->u->assembly_time)
				l->u->assembly_time = sb.st_mtime;
		}
		rc = fo_csv_read(l->file, read_fingerprinted, &f, on_record, l, &st, err);
		if (f.stream)
			fo_http_stream_close(f.stream);
		else
			close(f.fd);
		if (rc < 0)
			return -1;
		if (st.records == 0)
			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: empty file (no header)", l->file);
		l->ctx->rows_read += (long long)(st.records - 1);
		fo_logf(FO_LOG_DEBUG, FO_FIELDS(FO_STR("file", l->file), FO_INT("rows", st.records - 1),
						FO_BOOL("gzip", st.gzip), FO_INT("bytes", st.bytes_in)),
			"read %s", l->file);
		fo_bill_mapper_free(l->mapper);
		l->mapper = NULL;
	}
	if (end_copy(l, err) < 0)
		return -1;
	if (l->rows == 0)
		return fo_err_set(err, FO_EXIT_BAD_INPUT,
				  "%s: no line items in %zu file(s): refusing to replace a billing period"
				  " with nothing", l->u->label, l->u->nfiles);
	return 0;
}

/* ---- after parsing --------------------------------------------------------- */

/*
 * One scan of the new rows gives, per (source, period, currency), the row
 * count and the billed, effective and list totals: the audit's figures, and
 * what the totals counted while parsing must equal. *out is the caller's.
 */
static int
landed_totals(struct load *l, PGresult **out, fo_err *err)
{
	char q[512];

	snprintf(q, sizeof(q),
		 "SELECT source_id, billing_period, billing_currency, count(*), sum(billed_cost),"
		 "       sum(effective_cost), coalesce(sum(list_cost), 0)"
		 "  FROM finops.%s GROUP BY 1, 2, 3", l->staging);
	return fo_pg_query(l->ctx->conn, q, 0, NULL, out, err);
}

/* Adds column col of the landed rows of currency code to sum. */
static int
landed_sum(struct load *l, PGresult *landed, const char *code, int col, fo_dec_sum *sum,
	   long long *rows, fo_err *err)
{
	fo_dec_zero(sum);
	*rows = 0;
	for (int i = 0; i < PQntuples(landed); i++) {
		if (strcmp(PQgetvalue(landed, i, 2), code) != 0)
			continue;
		*rows += atoll(PQgetvalue(landed, i, 3));
		if (fo_dec_add(sum, PQgetvalue(landed, i, col), (size_t)PQgetlength(landed, i, col)) < 0)
			return fo_err_set(err, FO_EXIT_FAILURE, "%s: total %s out of range",
					  l->u->label, PQgetvalue(landed, i, col));
	}
	return 0;
}

/*
 * The totals counted while parsing (rows, billed and effective cost per
 * currency) must equal what landed in the new table.
 */
static int
reconcile(struct load *l, PGresult *landed, fo_err *err)
{
	for (size_t k = 0; k < l->ncur; k++) {
		static const struct {
			int col;
			const char *what;
		} checks[] = {{4, "billed"}, {5, "effective"}};
		struct currency_total *t = &l->cur[k];

		for (size_t c = 0; c < sizeof(checks) / sizeof(checks[0]); c++) {
			const fo_dec_sum *parsed = c == 0 ? &t->billed : &t->effective;
			fo_dec_sum sum;
			long long rows;
			char mine[160], theirs[160];

			if (landed_sum(l, landed, t->code, checks[c].col, &sum, &rows, err) < 0)
				return -1;
			fo_dec_format(parsed, mine, sizeof(mine));
			fo_dec_format(&sum, theirs, sizeof(theirs));
			if (rows != t->rows || strcmp(mine, theirs) != 0)
				return fo_err_set(err, FO_EXIT_FAILURE,
						  "%s: reconciliation failed for %s: parsed %lld rows,"
						  " %s %s; loaded %lld rows, %s %s", l->u->label,
						  t->code, t->rows, checks[c].what, mine, rows,
						  checks[c].what, theirs);
		}
	}
	for (int i = 0; i < PQntuples(landed); i++) {
		int known = 0;

		for (size_t k = 0; k < l->ncur; k++)
			known |= strcmp(PQgetvalue(landed, i, 2), l->cur[k].code) == 0;
		if (!known)
			return fo_err_set(err, FO_EXIT_FAILURE,
					  "%s: reconciliation failed: %s rows landed that were not parsed",
					  l->u->label, PQgetvalue(landed, i, 2));
	}
	return 0;
}

/*
 * Decides, per (source, period), whether this unit replaces what is there.
 * Returns 1 when there is something to load, 0 when nothing is new.
 */
static int
decide(struct load *l, fo_err *err)
{
	int same = 0, older = 0;

	for (size_t i = 0; i < l->ngroups; i++) {
		struct group *g = &l->groups[i];
		const char *params[2] = {g->source_id_text, g->period};
		PGresult *res;

		if (fo_pg_query(l->ctx->conn,
				"SELECT load_id, assembly_id, coalesce(extract(epoch FROM assembly_time), 0)"
				"  FROM finops.billing_loads"
				" WHERE source_id = $1 AND billing_period = $2 AND status = 'current'"
				"   FOR UPDATE", 2, params, &res, err) < 0)
			return -1;
		g->replace = 1;
		if (PQntuples(res) == 1) {
			double t = atof(PQgetvalue(res, 0, 2));

			g->old_load = atoll(PQgetvalue(res, 0, 0));
			if (strcmp(PQgetvalue(res, 0, 1), l->u->assembly_id) == 0) {
				same++;
			} else if (l->u->assembly_time && t > (double)l->u->assembly_time) {
				older++;
				fo_logf(FO_LOG_WARN,
					FO_FIELDS(FO_STR("period", g->period), FO_STR("account", g->account),
						  FO_STR("current_assembly", PQgetvalue(res, 0, 1)),
						  FO_STR("assembly", l->u->assembly_id)),
					"%s: a newer assembly of %s is already loaded; not replacing it with"
					" this older one%s", l->u->label, g->period,
					l->opts->force ? " (--force: replacing anyway)" : " (--force to load it)");
			}
		}
		PQclear(res);
	}
	if (l->opts->force)
		return 1;
	if (older)
		return 0;
	return same < (int)l->ngroups;
}

/* Leaf table name of a (source, period): billing_line_items_p20261001_s3 */
static void
leaf_name(const struct group *g, char *out, size_t len)
{
	snprintf(out, len, "billing_line_items_p%.4s%.2s%.2s_s%d", g->period, g->period + 5,
		 g->period + 8, g->source_id);
}

/* Fills the new rows of group g into a table of its own (several groups in one load). */
static int
split_group(struct load *l, const struct group *g, const char *table, fo_err *err)
{
	fo_buf cols = FO_BUF_INIT;
	char q[4096];
	PGresult *res;
	int rc;

	for (int c = 0; c < FO_BILL_NCOLS; c++)
		fo_buf_printf(&cols, "%s%s", c ? ", " : "", fo_bill_column_names[c]);
	rc = sql(l, err, "CREATE TABLE finops.%s (LIKE " PARENT " INCLUDING DEFAULTS"
		 " INCLUDING CONSTRAINTS)", table);
	if (rc == 0)
		rc = sql(l, err, "ALTER TABLE finops.%s ADD CONSTRAINT %s_bounds"
			 " CHECK (billing_period = '%s' AND source_id = %d)", table, table, g->period,
			 g->source_id);
	if (rc == 0) {
		snprintf(q, sizeof(q), "INSERT INTO finops.%s (%s) SELECT %s FROM finops.%s"
			 " WHERE source_id = %d AND billing_period = '%s'", table, cols.data, cols.data,
			 l->staging, g->source_id, g->period);
		rc = fo_pg_query(l->ctx->conn, q, 0, NULL, &res, err);
		if (rc == 0) {
			if (atoll(PQcmdTuples(res)) != g->rows)
				rc = fo_err_set(err, FO_EXIT_FAILURE,
						"%s: %s rows of %s moved, %lld parsed", l->u->label,
						PQcmdTuples(res), g->period, g->rows);
			PQclear(res);
		}
	}
	fo_buf_free(&cols);
	return rc;
}

static void
period_table_name(const char *period, char *out, size_t len)
{
	snprintf(out, len, "billing_line_items_p%.4s%.2s%.2s", period, period + 5, period + 8);
}

static int
table_exists(struct load *l, const char *table, int *exists, fo_err *err)
{
	char reg[160];
	const char *params[1] = {reg};
	PGresult *res;

	snprintf(reg, sizeof(reg), "finops.%s", table);
	if (fo_pg_query(l->ctx->conn, "SELECT to_regclass($1) IS NOT NULL", 1, params, &res, err) < 0)
		return -1;
	*exists = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

/* Runs the SQL text of b (any length); frees b. */
static int
sql_buf(struct load *l, fo_buf *b, fo_err *err)
{
	int rc = b->oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		 : fo_pg_exec(l->ctx->conn, b->data, err);

	fo_buf_free(b);
	return rc;
}

/* "(3, 7, 12)": a partition's list of source ids. */
static void
id_list(fo_buf *b, const int *ids, size_t n)
{
	fo_buf_putc(b, '(');
	for (size_t i = 0; i < n; i++)
		fo_buf_printf(b, "%s%d", i ? ", " : "", ids[i]);
	fo_buf_putc(b, ')');
}

static int
cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return x < y ? -1 : x > y;
}

/*
 * The period's table, made when the period is new: on its own and then
 * attached, since ATTACH takes the parent's SHARE UPDATE EXCLUSIVE lock,
 * which readers and the other loads' staging (ACCESS SHARE) do not block,
 * where CREATE TABLE ... PARTITION OF needs ACCESS EXCLUSIVE and deadlocked
 * with them. The swap lock (load_unit) keeps two loads from making it at once.
 */
static int
ensure_period_table(struct load *l, const char *period, fo_err *err)
{
	char table[64];
	int exists;

	period_table_name(period, table, sizeof(table));
	if (table_exists(l, table, &exists, err) < 0)
		return -1;
	if (exists)
		return 0;
	if (sql(l, err, "CREATE TABLE finops.%s (LIKE " PARENT " INCLUDING DEFAULTS"
		" INCLUDING CONSTRAINTS) PARTITION BY LIST (source_id)", table) < 0 ||
	    sql(l, err, "ALTER TABLE " PARENT " ATTACH PARTITION finops.%s FOR VALUES IN ('%s')",
		table, period) < 0)
		return -1;
	return 0;
}

/* "{3,7,12}": source ids as an int[] parameter. */
static void
id_array(fo_buf *b, const int *ids, size_t n)
{
	fo_buf_putc(b, '{');
	for (size_t i = 0; i < n; i++)
		fo_buf_printf(b, "%s%d", i ? "," : "", ids[i]);
	fo_buf_putc(b, '}');
}

/*
 * Takes the rows of sources ids (n, sorted) of a period out of its table:
 * their own partitions are detached and dropped, their rows in the DEFAULT
 * partition (where loads of many sources put them) deleted. *dflt gets the
 * DEFAULT partition's name, "" when there is none.
 */
static int
clear_sources(struct load *l, const char *period, const int *ids, size_t n, char *dflt,
	      size_t dlen, fo_err *err)
{
	char table[64], reg[96];
	const char *params[2] = {reg, NULL};
	fo_buf arr = FO_BUF_INIT;
	PGresult *res;
	int rc = 0;

	dflt[0] = '\0';
	period_table_name(period, table, sizeof(table));
	snprintf(reg, sizeof(reg), "finops.%s", table);
	if (fo_pg_query(l->ctx->conn,
			"SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
			"  JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass",
			1, params, &res, err) < 0)
		return -1;
	for (int r = 0; r < PQntuples(res) && rc == 0; r++) {
		const char *leaf = PQgetvalue(res, r, 0), *bound = PQgetvalue(res, r, 1);
		int id;

		if (strcmp(bound, "DEFAULT") == 0) {
			snprintf(dflt, dlen, "%s", leaf);
			continue;
		}
		/* a source's own partition: FOR VALUES IN (7) */
		if (sscanf(bound, "FOR VALUES IN (%d)", &id) != 1 ||
		    !bsearch(&id, ids, n, sizeof(*ids), cmp_int))
			continue;
		rc = sql(l, err, "ALTER TABLE finops.%s DETACH PARTITION finops.%s", table, leaf);
		if (rc == 0)
			rc = sql(l, err, "DROP TABLE finops.%s", leaf);
	}
	PQclear(res);
	if (rc == 0 && dflt[0]) {
		char q[256];

		id_array(&arr, ids, n);
		params[0] = arr.data;
		snprintf(q, sizeof(q), "DELETE FROM finops.%s WHERE source_id = ANY($1::int[])", dflt);
		rc = arr.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		     : fo_pg_query(l->ctx->conn, q, 1, params, NULL, err);
	}
	fo_buf_free(&arr);
	return rc;
}

/* Puts table in place as the partition of the sources ids (n) of a period. */
static int
attach_leaf(struct load *l, const char *period, const char *table, const char *leaf,
	    const int *ids, size_t n, fo_err *err)
{
	char ptable[64];
	fo_buf q = FO_BUF_INIT;

	period_table_name(period, ptable, sizeof(ptable));
	if (sql(l, err, "ALTER TABLE finops.%s RENAME TO %s", table, leaf) < 0)
		return -1;
	fo_buf_printf(&q, "ALTER TABLE finops.%s ATTACH PARTITION finops.%s FOR VALUES IN ",
		      ptable, leaf);
	id_list(&q, ids, n);
	return sql_buf(l, &q, err);
}

/* Fills the new rows of one period into a table of their own (a load of many sources). */
static int
split_period(struct load *l, const char *period, long long rows, const char *table,
	     fo_err *err)
{
	fo_buf cols = FO_BUF_INIT, q = FO_BUF_INIT;
	PGresult *res;
	int rc;

	for (int c = 0; c < FO_BILL_NCOLS; c++)
		fo_buf_printf(&cols, "%s%s", c ? ", " : "", fo_bill_column_names[c]);
	rc = sql(l, err, "CREATE TABLE finops.%s (LIKE " PARENT " INCLUDING DEFAULTS"
		 " INCLUDING CONSTRAINTS)", table);
	fo_buf_printf(&q, "INSERT INTO finops.%s (%s) SELECT %s FROM finops.%s"
		      " WHERE billing_period = '%s'", table, cols.data, cols.data, l->staging,
		      period);
	if (rc == 0)
		rc = q.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		     : fo_pg_query(l->ctx->conn, q.data, 0, NULL, &res, err);
	if (rc == 0) {
		if (atoll(PQcmdTuples(res)) != rows)
			rc = fo_err_set(err, FO_EXIT_FAILURE, "%s: %s rows of %s moved, %lld parsed",
					l->u->label, PQcmdTuples(res), period, rows);
		PQclear(res);
	}
	fo_buf_free(&cols);
	fo_buf_free(&q);
	return rc;
}

static int record_load(struct load *l, const struct group *g, PGresult *landed, long long ms,
		       fo_err *err);

/*
 * The new rows of a period of many sources, into its DEFAULT partition
 * (their old rows are already out of it): as the partition itself when
 * there is none yet, else added to it. k names the split table.
 */
static int
into_default(struct load *l, const char *period, long long rows, const char *dflt, size_t k,
	     size_t nperiods, fo_err *err)
{
	char ptable[64], table[96], leaf[96];
	int rc = 0;

	period_table_name(period, ptable, sizeof(ptable));
	if (nperiods == 1) {
		snprintf(table, sizeof(table), "%s", l->staging);
		l->staging_kept = 1;
	} else {
		snprintf(table, sizeof(table), "%s_p%zu", l->staging, k + 1);
		rc = split_period(l, period, rows, table, err);
	}
	if (rc < 0)
		return -1;
	if (!dflt[0]) {
		snprintf(leaf, sizeof(leaf), "%s_default", ptable);
		if (sql(l, err, "ALTER TABLE finops.%s RENAME TO %s", table, leaf) < 0)
			return -1;
		return sql(l, err, "ALTER TABLE finops.%s ATTACH PARTITION finops.%s DEFAULT", ptable,
			   leaf);
	}
	if (sql(l, err, "INSERT INTO finops.%s SELECT * FROM finops.%s", dflt, table) < 0)
		return -1;
	if (nperiods == 1)
		l->staging_kept = 0;      /* copied: dropped at the end with the others */
	else if (sql(l, err, "DROP TABLE finops.%s", table) < 0)
		return -1;
	return 0;
}

static int
cmp_group_period(const void *a, const void *b)
{
	const struct group *x = *(const struct group *const *)a;
	const struct group *y = *(const struct group *const *)b;
	int c = strcmp(x->period, y->period);

	return c ? c : (x->source_id > y->source_id) - (x->source_id < y->source_id);
}

/*
 * Puts every (source, period) of the load in place, period by period: the
 * old rows of its sources out (clear_sources), the new ones in, one
 * partition a source, or one for all of them past MAX_LEAVES; then the audit
 * rows. Runs under the swap lock, in the load's transaction.
 */
static int
commit_groups(struct load *l, PGresult *landed, long long ms, fo_err *err)
{
	struct group **order = malloc((l->ngroups ? l->ngroups : 1) * sizeof(*order));
	int *ids = malloc((l->ngroups ? l->ngroups : 1) * sizeof(*ids));
	size_t nperiods = 0, k = 0;
	char dflt[96];
	int rc = 0;

	if (!order || !ids) {
		free(order);
		free(ids);
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	for (size_t i = 0; i < l->ngroups; i++)
		order[i] = &l->groups[i];
	qsort(order, l->ngroups, sizeof(*order), cmp_group_period);
	for (size_t i = 0; i < l->ngroups; i++)
		nperiods += i == 0 || strcmp(order[i]->period, order[i - 1]->period) != 0;
	for (size_t i = 0; i < l->ngroups && rc == 0; i = k) {
		const char *period = order[i]->period;
		long long rows = 0;
		size_t n;

		for (k = i; k < l->ngroups && strcmp(order[k]->period, period) == 0; k++) {
			ids[k - i] = order[k]->source_id;
			rows += order[k]->rows;
		}
		n = k - i;
		rc = ensure_period_table(l, period, err);
		if (rc == 0)
			rc = clear_sources(l, period, ids, n, dflt, sizeof(dflt), err);
		if (rc == 0 && n <= MAX_LEAVES) {
			for (size_t j = i; j < k && rc == 0; j++) {
				char table[96], leaf[96];

				if (l->multi) {
					snprintf(table, sizeof(table), "%s_%zu", l->staging, j + 1);
					rc = split_group(l, order[j], table, err);
				} else {
					snprintf(table, sizeof(table), "%s", l->staging);
					l->staging_kept = 1;
				}
				leaf_name(order[j], leaf, sizeof(leaf));
				if (rc == 0)
					rc = attach_leaf(l, period, table, leaf, &order[j]->source_id, 1,
							 err);
			}
		} else if (rc == 0) {
			rc = into_default(l, period, rows, dflt, i, nperiods, err);
		}
		for (size_t j = i; j < k && rc == 0; j++)
			rc = record_load(l, order[j], landed, ms, err);
	}
	free(order);
	free(ids);
	return rc;
}

/* {"USD": {"rows": n, "billed_cost": x, ...}, ...} for one (source, period). */
static void
totals_json(const struct group *g, PGresult *landed, fo_buf *out)
{
	int first = 1;

	fo_buf_putc(out, '{');
	for (int i = 0; i < PQntuples(landed); i++) {
		if (strcmp(PQgetvalue(landed, i, 0), g->source_id_text) != 0 ||
		    strcmp(PQgetvalue(landed, i, 1), g->period) != 0)
			continue;
		fo_buf_printf(out, "%s\"%s\":{\"rows\":%s,\"billed_cost\":%s,\"effective_cost\":%s,"
			      "\"list_cost\":%s}", first ? "" : ",", PQgetvalue(landed, i, 2),
			      PQgetvalue(landed, i, 3), PQgetvalue(landed, i, 4),
			      PQgetvalue(landed, i, 5), PQgetvalue(landed, i, 6));
		first = 0;
	}
	fo_buf_putc(out, '}');
}

static int
record_load(struct load *l, const struct group *g, PGresult *landed, long long ms, fo_err *err)
{
	char run[24], when[24], dur[24], rows[24];
	char *files = fo_jobrun_args_literal((int)l->u->nfiles, l->u->files);
	fo_buf totals = FO_BUF_INIT;
	const char *params[12];
	int rc;

	if (!files)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	totals_json(g, landed, &totals);
	snprintf(run, sizeof(run), "%lld", l->ctx->run_id);
	snprintf(when, sizeof(when), "%lld", (long long)l->u->assembly_time);
	snprintf(dur, sizeof(dur), "%lld", ms);
	snprintf(rows, sizeof(rows), "%lld", g->rows);
	params[0] = l->load_id_text;
	params[1] = g->source_id_text;
	params[2] = g->period;
	params[3] = l->ctx->run_id ? run : NULL;
	params[4] = l->format_name;
	params[5] = l->u->has_manifest ? l->u->label : NULL;
	params[6] = l->u->assembly_id;
	params[7] = l->u->assembly_time ? when : NULL;
	params[8] = files;
	params[9] = rows;
	params[10] = totals.data;
	params[11] = dur;
	rc = fo_pg_query(l->ctx->conn,
			 "UPDATE finops.billing_loads SET status = 'replaced', replaced_by = $1"
			 " WHERE source_id = $2 AND billing_period = $3 AND status = 'current'",
			 3, params, NULL, err);
	if (rc == 0)
		rc = fo_pg_query(l->ctx->conn,
				 "INSERT INTO finops.billing_loads (load_id, source_id, billing_period,"
				 "  run_id, format, manifest, assembly_id, assembly_time, files, rows_loaded,"
				 "  totals, duration_ms)"
				 " VALUES ($1, $2, $3, $4, $5, $6, $7, to_timestamp($8::double precision),"
				 "         $9::text[], $10, $11::jsonb, $12)", 12, params, NULL, err);
	free(files);
	fo_buf_free(&totals);
	return rc;
}

static long long
ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000LL + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void
describe_totals(struct load *l, fo_buf *out)
{
	for (size_t i = 0; i < l->ncur; i++) {
		char sum[160];

		fo_dec_format(&l->cur[i].billed, sum, sizeof(sum));
		fo_buf_printf(out, "%s%s %s", i ? ", " : "", l->cur[i].code, sum);
	}
}

static void
add_details(struct load *l, const char *outcome)
{
	fo_buf *d = &l->ctx->details;

	if (d->len == 0)
		fo_buf_puts(d, "{\"units\":[");
	else
		d->len -= 2;                 /* reopen the "]}" at the end */
	if (d->data[d->len - 1] == '}')
		fo_buf_putc(d, ',');
	fo_buf_puts(d, "{\"source\":");
	fo_json_append_string(d, l->u->label);
	fo_buf_puts(d, ",\"outcome\":");
	fo_json_append_string(d, outcome);
	fo_buf_puts(d, ",\"format\":");
	fo_json_append_string(d, l->format_name ? l->format_name : "");
	fo_buf_puts(d, ",\"assembly_id\":");
	fo_json_append_string(d, l->u->assembly_id);
	fo_buf_printf(d, ",\"files\":%zu,\"rows\":%lld,\"load_id\":%lld,\"periods\":[", l->u->nfiles,
		      l->rows, l->load_id);
	for (size_t i = 0; i < l->ngroups; i++) {
		fo_buf_printf(d, "%s{\"source_id\":%d,\"billing_period\":\"%s\",\"rows\":%lld}",
			      i ? "," : "", l->groups[i].source_id, l->groups[i].period,
			      l->groups[i].rows);
	}
	fo_buf_puts(d, "],\"billed_cost\":{");
	for (size_t i = 0; i < l->ncur; i++) {
		char sum[160];

		fo_dec_format(&l->cur[i].billed, sum, sizeof(sum));
		fo_buf_printf(d, "%s\"%s\":\"%s\"", i ? "," : "", l->cur[i].code, sum);
	}
	fo_buf_puts(d, "}}]}");
}

/*
 * A manifest names its assembly before a byte is read: when the latest load
 * of that assembly is still current for every period it held, there is
 * nothing new and the files need not be read at all. Returns 1 when so.
 */
static int
assembly_is_current(struct fo_run *ctx, const struct unit *u, fo_err *err)
{
	const char *params[3] = {u->assembly_id, u->report_name, u->man.account};
	PGresult *res;
	int current;

	/* an assembly of this report (and payer, when the manifest names it), not another's */
	if (fo_pg_query(ctx->conn,
			"WITH mine AS (SELECT l.* FROM finops.billing_loads l"
			"                JOIN finops.billing_sources s USING (source_id)"
			"               WHERE s.kind = 'aws_cur' AND s.report_name = $2"
			"                 AND ($3::text IS NULL OR s.billing_account_id = $3))"
			"SELECT count(*) > 0 AND bool_and(status = 'current')"
			"  FROM mine"
			" WHERE load_id = (SELECT max(load_id) FROM mine WHERE assembly_id = $1)",
			3, params, &res, err) < 0)
		return -1;
	current = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return current;
}

static int
load_unit(struct fo_run *ctx, const struct fo_billing_opts *opts, struct unit *u,
	  int *changed, fo_err *err)
{
	struct load l;
	struct timespec t0;
	PGresult *res, *landed = NULL;
	fo_buf totals = FO_BUF_INIT;
	int rc = -1, todo, committed = 0;

	memset(&l, 0, sizeof(l));
	l.ctx = ctx;
	l.opts = opts;
	l.u = u;
	l.crc = crc32(0L, Z_NULL, 0);
	*changed = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	snprintf(l.staging, sizeof(l.staging), "billing_line_items_load_%lld",
		 ctx->run_id ? ctx->run_id : (long long)getpid());

	if (u->has_manifest && !opts->force) {
		int current = assembly_is_current(ctx, u, err);

		if (current < 0)
			return -1;
		if (current) {
			fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("source", u->label),
						       FO_STR("assembly_id", u->assembly_id)),
				"%s: nothing new: assembly %s is already loaded (--force to load it"
				" again)", u->label, u->assembly_id);
			add_details(&l, "nothing_new");
			return 0;
		}
	}
	if (u->has_manifest) {
		if ((u->s3_bucket ? resolve_s3(u, err) : fo_manifest_resolve_local(&u->man, err)) < 0)
			return -1;
		u->files = u->man.files;
	}

	/* Partitions belong to the writer role, so that every job can swap them. */
	if (fo_pg_begin_writer(ctx->conn, err) < 0)
		return -1;
	if (fo_pg_query(ctx->conn, "SELECT nextval('finops.billing_load_id_seq')", 0, NULL, &res,
			err) < 0)
		goto out;
	l.load_id = atoll(PQgetvalue(res, 0, 0));
	snprintf(l.load_id_text, sizeof(l.load_id_text), "%lld", l.load_id);
	PQclear(res);

	if (read_files(&l, err) < 0)
		goto out;
	if (!u->has_manifest)
		snprintf(u->assembly_id, sizeof(u->assembly_id), "crc32:%08lx:%llu",
			 (unsigned long)l.crc, l.bytes);
	if (u->has_manifest && u->man.period[0])
		for (size_t i = 0; i < l.ngroups; i++)
			if (strcmp(l.groups[i].period, u->man.period) != 0)
				fo_logf(FO_LOG_WARN, FO_FIELDS(FO_STR("manifest_period", u->man.period),
							       FO_STR("row_period", l.groups[i].period),
							       FO_INT("rows", l.groups[i].rows)),
					"%s: %lld rows carry billing period %s, not the manifest's %s;"
					" they are loaded as period %s", u->label, l.groups[i].rows,
					l.groups[i].period, u->man.period, l.groups[i].period);
	if (landed_totals(&l, &landed, err) < 0 || reconcile(&l, landed, err) < 0)
		goto out;
	todo = decide(&l, err);
	if (todo < 0)
		goto out;
	describe_totals(&l, &totals);
	if (!todo) {
		fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("source", u->label),
					       FO_STR("assembly_id", u->assembly_id)),
			"%s: nothing new: this assembly is already loaded (--force to load it again)",
			u->label);
		add_details(&l, "nothing_new");
		rc = 0;
		goto out;
	}
	if (ctx->dry_run) {
		fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("source", u->label), FO_INT("rows", l.rows)),
			"dry run: would load %lld rows into %zu billing period(s): %s", l.rows,
			l.ngroups, fo_buf_str(&totals));
		add_details(&l, "dry_run");
		*changed = 1;      /* it would change: exit 0, not 99 */
		rc = 0;
		goto out;
	}
	/*
	 * Creating, detaching and attaching partitions of the one parent table
	 * takes its locks in an order two loads cannot agree on (two sources of
	 * a new period deadlocked at CREATE TABLE ... PARTITION OF): one load at
	 * a time swaps its partitions in, until it commits. A swap is quick;
	 * the long part of a load (reading, COPY, reconciling) still overlaps.
	 */
	if (sql(&l, err, "SELECT pg_advisory_xact_lock(hashtextextended("
		"'finops:billing_ingest:partitions', 0))") < 0)
		goto out;
	if (commit_groups(&l, landed, ms_since(&t0), err) < 0)
		goto out;
	if (!l.staging_kept && sql(&l, err, "DROP TABLE finops.%s", l.staging) < 0)
		goto out;
	if (fo_pg_commit(ctx->conn, err) < 0)
		goto out;
	committed = 1;
	*changed = 1;
	ctx->rows_written += l.rows;
	add_details(&l, "loaded");
	for (size_t i = 0; i < l.ngroups; i++)
		fo_logf(FO_LOG_INFO,
			FO_FIELDS(FO_STR("source", u->label), FO_STR("billing_period", l.groups[i].period),
				  FO_STR("billing_account_id", l.groups[i].account),
				  FO_INT("source_id", l.groups[i].source_id),
				  FO_INT("rows", l.groups[i].rows), FO_INT("load_id", l.load_id),
				  FO_INT("replaced_load_id", l.groups[i].old_load)),
			"loaded billing period %s of %s (%lld rows)%s", l.groups[i].period,
			l.groups[i].account, l.groups[i].rows,
			l.groups[i].old_load ? ", replacing the previous load" : "");
	fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("source", u->label), FO_STR("format", l.format_name),
				       FO_INT("rows", l.rows), FO_INT("duration_ms", ms_since(&t0))),
		"%s: loaded %lld rows; billed %s", u->label, l.rows, fo_buf_str(&totals));
	rc = 0;
out:
	if (l.copy)
		fo_copy_abort(l.copy, "load failed");
	if (!committed)
		fo_pg_rollback(ctx->conn);
	PQclear(landed);
	fo_bill_mapper_free(l.mapper);
	for (size_t i = 0; i < l.ngroups; i++)
		free(l.groups[i].account);
	free(l.groups);
	free(l.gslots);
	fo_buf_free(&totals);
	return rc;
}

int
fo_billing_check(const struct fo_billing_opts *opts, fo_err *err)
{
	if (opts->nsources == 0)
		return fo_err_set(err, FO_EXIT_USAGE, "name at least one manifest, file or directory");
	for (size_t i = 0; i < opts->nsources; i++)
		if (fo_check_input(opts->sources[i], err) < 0)
			return -1;
	return 0;
}

int
fo_billing_ingest(struct fo_run *ctx, const struct fo_billing_opts *opts, fo_err *err)
{
	size_t loaded = 0, skipped = 0;
	int failed = 0;

	if (fo_billing_check(opts, err) < 0)
		return -1;
	s3_region = opts->region;
	for (size_t i = 0; i < opts->nsources && !failed; i++) {
		struct unit u;
		int changed, rc;

		rc = unit_from_path(&u, opts->sources[i],
				    opts->report_name ? opts->report_name : "default", err);
		if (rc == 0)
			rc = load_unit(ctx, opts, &u, &changed, err);
		unit_free(&u);
		if (rc < 0) {
			failed = 1;
			break;
		}
		if (changed)
			loaded++;
		else
			skipped++;
	}
	s3_done();
	if (failed)
		return -1;
	ctx->nothing_new = loaded == 0;
	fo_buf_printf(&ctx->summary, "%zu unit(s) %s, %zu unchanged or skipped%s", loaded,
		      ctx->dry_run ? "would load" : "loaded", skipped,
		      ctx->dry_run ? " (dry run: nothing written)" : "");
	return 0;
}

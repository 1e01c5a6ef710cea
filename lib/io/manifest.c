/*
 * manifest.c: legacy CUR and CUR 2.0 manifests (see manifest.h).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "finops/buf.h"
#include "finops/datetime.h"
#include "finops/manifest.h"
#include "finops/s3.h"
#include "finops/source.h"

static char *
dup_str(json_t *v)
{
	return json_is_string(v) ? strdup(json_string_value(v)) : NULL;
}

/* "BILLING_PERIOD=2024-01" in a CUR 2.0 path gives the period when the JSON does not. */
static void
period_from_path(const char *path, char out[11])
{
	const char *p = strstr(path, "BILLING_PERIOD=");

	if (p && strlen(p) >= 22 && p[19] == '-')
		snprintf(out, 11, "%.4s-%.2s-01", p + 15, p + 20);
}

/*
 * An assembly or execution id names a folder of the delivery: letters,
 * digits and ._:- only (AWS writes UUIDs), never "." or "..".
 */
static int
valid_assembly_id(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > FO_MANIFEST_MAX_ID || strcmp(s, ".") == 0 || strcmp(s, "..") == 0)
		return 0;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '.' || *s == '_' || *s == ':' || *s == '-'))
			return 0;
	return 1;
}

/*
 * Why a report key cannot be one (NULL when it can): a key names an object
 * below the bucket, so no "." or ".." segment, no control character, and
 * not absurdly long.
 */
static const char *
bad_key(const char *k)
{
	const char *p = strncmp(k, "s3://", 5) == 0 ? k + 5 : k;

	if (strlen(k) > 1024)
		return "is longer than 1024 bytes";
	for (const char *c = k; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return "holds a control character";
	while (*p) {
		size_t n = strcspn(p, "/");

		if ((n == 1 && p[0] == '.') || (n == 2 && p[0] == '.' && p[1] == '.'))
			return "has a \".\" or \"..\" segment: a report file must stay inside its"
			       " report's folder";
		p += n;
		if (*p == '/')
			p++;
	}
	return NULL;
}

int
fo_manifest_parse(const char *path, const char *text, size_t len, struct fo_manifest *m,
		  fo_err *err)
{
	json_error_t jerr;
	json_t *root, *keys, *period;
	size_t i;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	m->path = strdup(path);
	root = json_loadb(text, len, 0, &jerr);
	if (!root)
		return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s:%d: manifest is not valid JSON: %s",
				  path, jerr.line, jerr.text);
	/* every message is written before root, which holds the strings, is freed */
	if (!json_is_object(root)) {
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: manifest is not a JSON object", path);
		goto out;
	}
	keys = json_object_get(root, "reportKeys");
	if (!keys) {
		keys = json_object_get(root, "dataFiles");
		m->cur2 = keys != NULL;
	}
	m->assembly_id = dup_str(json_object_get(root, "assemblyId"));
	if (!m->assembly_id)
		m->assembly_id = dup_str(json_object_get(root, "executionId"));
	m->report_name = dup_str(json_object_get(root, "reportName"));
	if (!m->report_name)
		m->report_name = dup_str(json_object_get(root, "exportName"));
	m->account = dup_str(json_object_get(root, "account"));
	period = json_object_get(json_object_get(root, "billingPeriod"), "start");
	if (json_is_string(period)) {
		struct fo_ts ts;
		const char *why;
		const char *s = json_string_value(period);

		if (fo_ts_parse(s, strlen(s), &ts, &why) < 0) {
			rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: billingPeriod.start \"%.80s\" %s",
					path, s, why);
			goto out;
		}
		fo_ts_date(&ts, m->period, sizeof(m->period));
	} else {
		period_from_path(path, m->period);
	}

	if (!json_is_array(keys) || json_array_size(keys) == 0) {
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT,
				"%s: manifest lists no report files (no reportKeys or dataFiles)", path);
		goto out;
	}
	if (!m->assembly_id) {
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT,
				"%s: manifest has no assemblyId or executionId", path);
		goto out;
	}
	if (!valid_assembly_id(m->assembly_id)) {
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s \"%.80s\" is not an assembly id"
				" (letters, digits, '.', '_', ':' and '-', at most %d)", path,
				m->cur2 ? "executionId" : "assemblyId", m->assembly_id,
				FO_MANIFEST_MAX_ID);
		goto out;
	}
	m->keys = calloc(json_array_size(keys), sizeof(char *));
	if (!m->keys) {
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (i = 0; i < json_array_size(keys); i++) {
		json_t *k = json_array_get(keys, i);

		const char *why;

		if (!json_is_string(k) || json_string_length(k) == 0) {
			rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: report file %zu is not a string",
					path, i + 1);
			goto out;
		}
		if ((why = bad_key(json_string_value(k))) != NULL) {
			rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s[%zu] \"%.200s\" %s", path,
					m->cur2 ? "dataFiles" : "reportKeys", i, json_string_value(k),
					why);
			goto out;
		}
		/* a file listed twice would be loaded twice */
		for (size_t j = 0; j < i; j++)
			if (json_equal(json_array_get(keys, j), k)) {
				rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s[%zu] \"%.200s\" is"
						" listed twice (also at [%zu]): its rows would count"
						" twice", path, m->cur2 ? "dataFiles" : "reportKeys",
						i, json_string_value(k), j);
				goto out;
			}
		m->keys[m->nkeys] = strdup(json_string_value(k));
		if (!m->keys[m->nkeys]) {
			rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
			goto out;
		}
		m->nkeys++;
	}
out:
	json_decref(root);
	return rc;
}

int
fo_manifest_load(const char *name, struct fo_manifest *m, fo_err *err)
{
	fo_buf text = FO_BUF_INIT;
	long long mtime;
	int rc;

	memset(m, 0, sizeof(*m));
	rc = fo_source_get(name, FO_MANIFEST_MAX_BYTES, &text, &mtime, err);
	if (rc < 0 && text.len > FO_MANIFEST_MAX_BYTES)
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: larger than %d MB: not a CUR"
				" manifest (the largest real ones are a few MB)", name,
				FO_MANIFEST_MAX_BYTES >> 20);
	if (rc == 0)
		rc = fo_manifest_parse(name, fo_buf_str(&text), text.len, m, err);
	fo_buf_free(&text);
	if (rc == 0)
		m->mtime = (time_t)mtime;
	return rc;
}

static int
is_file(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode);
}

/* The part of a key relative to the bucket: "s3://b/x/y" -> "x/y", "/x/y" -> "x/y". */
static const char *
bucket_relative(const char *key)
{
	if (strncmp(key, "s3://", 5) == 0) {
		const char *slash = strchr(key + 5, '/');

		return slash ? slash + 1 : key + strlen(key);
	}
	while (*key == '/')
		key++;
	return key;
}

size_t
fo_manifest_scope(const char *path, int cur2)
{
	const char *slash = strrchr(path, '/'), *meta;

	if (cur2) {
		/* <export>/metadata/BILLING_PERIOD=.../<export>-Manifest.json: the export */
		for (meta = strstr(path, "/metadata/"); meta; meta = strstr(meta + 1, "/metadata/"))
			if (!strchr(meta + 10, '/') || strchr(meta + 10, '/') == slash)
				return (size_t)(meta - path);
		if (strncmp(path, "metadata/", 9) == 0)
			return 0;
	}
	return slash ? (size_t)(slash - path) : 0;
}

/* Whether the real path of file lies below the real directory root. */
static int
inside(const char *root, const char *file)
{
	char *r = realpath(root, NULL), *f = realpath(file, NULL);
	size_t n = r ? strlen(r) : 0;
	int in = r && f && strncmp(f, r, n) == 0 && (f[n] == '/' || (n == 1 && r[0] == '/'));

	free(r);
	free(f);
	return in;
}

static int
resolve_local(struct fo_manifest *m, fo_err *err)
{
	char dir[4096], root[4096], cand[8192];
	char *slash;
	size_t scope = fo_manifest_scope(m->path, m->cur2);

	snprintf(dir, sizeof(dir), "%s", m->path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	snprintf(root, sizeof(root), "%.*s", (int)scope, m->path);
	if (!root[0])
		snprintf(root, sizeof(root), "%s", m->path[0] == '/' ? "/" : ".");
	m->files = calloc(m->nkeys, sizeof(char *));
	if (!m->files)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; i < m->nkeys; i++) {
		const char *rel = bucket_relative(m->keys[i]);
		const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
		char up[4096];

		int outside = 0;

		/*
		 * Under each directory above the manifest: the bucket root is one
		 * of them. Only a file inside the report's folder counts: a key
		 * never reaches out of its delivery (nor does a link in it).
		 */
		snprintf(up, sizeof(up), "%s", dir);
		for (;;) {
			snprintf(cand, sizeof(cand), "%s/%s", up, rel);
			if (is_file(cand)) {
				if (inside(root, cand))
					goto found;
				outside = 1;
			}
			slash = strrchr(up, '/');
			if (!slash || slash == up)
				break;
			*slash = '\0';
		}
		/* beside the manifest, or in its assembly folder */
		snprintf(cand, sizeof(cand), "%s/%s", dir, base);
		if (is_file(cand) && inside(root, cand))
			goto found;
		snprintf(cand, sizeof(cand), "%s/%s/%s", dir, m->assembly_id, base);
		if (is_file(cand) && inside(root, cand))
			goto found;
		if (outside)
			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: report file %s named by the"
					  " manifest is outside the report's folder %s: refused",
					  m->path, m->keys[i], root);
		return fo_err_set(err, FO_EXIT_BAD_INPUT,
				  "%s: report file %s named by the manifest was not found (looked under"
				  " %s and the directories above it)", m->path, m->keys[i], dir);
found:
		m->files[i] = strdup(cand);
		if (!m->files[i])
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	}
	return 0;
}

void
fo_manifest_free(struct fo_manifest *m)
{
	for (size_t i = 0; i < m->nkeys; i++) {
		free(m->keys[i]);
		if (m->files)
			free(m->files[i]);
	}
	free(m->keys);
	free(m->files);
	free(m->path);
	free(m->assembly_id);
	free(m->report_name);
	free(m->account);
	memset(m, 0, sizeof(*m));
}

/*
 * An S3 manifest's keys are objects of its own bucket (CUR 2.0 names them
 * as s3:// URIs), inside its report's folder there.
 */
static int
resolve_s3(struct fo_manifest *m, fo_err *err)
{
	char *bucket, *key, *scope;
	size_t blen, slen;
	int rc = 0;

	if (fo_s3_parse_uri(m->path, &bucket, &key, err) < 0)
		return -1;
	blen = strlen(bucket);
	slen = fo_manifest_scope(key, m->cur2);
	scope = strndup(key, slen);
	m->files = calloc(m->nkeys ? m->nkeys : 1, sizeof(char *));
	if (!scope || !m->files)
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; rc == 0 && i < m->nkeys; i++) {
		const char *k = m->keys[i], *rel = k;
		fo_buf uri = FO_BUF_INIT;

		if (fo_s3_is_uri(k)) {
			if (strncmp(k + 5, bucket, blen) != 0 || k[5 + blen] != '/') {
				rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: report file %s is not in"
						" the manifest's bucket %s: refused", m->path, k, bucket);
				break;
			}
			rel = k + 5 + blen + 1;
		}
		while (*rel == '/')
			rel++;
		if (slen && (strncmp(rel, scope, slen) != 0 || rel[slen] != '/')) {
			rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: report file %s is outside the"
					" report's folder s3://%s/%s/: refused", m->path, k, bucket,
					scope);
			break;
		}
		fo_buf_printf(&uri, "s3://%s/%s", bucket, rel);
		if (uri.oom)
			rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		m->files[i] = uri.data;
	}
	free(scope);
	free(bucket);
	free(key);
	return rc;
}

int
fo_manifest_resolve(struct fo_manifest *m, fo_err *err)
{
	return fo_s3_is_uri(m->path) ? resolve_s3(m, err) : resolve_local(m, err);
}

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
	m->keys = calloc(json_array_size(keys), sizeof(char *));
	if (!m->keys) {
		rc = fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		goto out;
	}
	for (i = 0; i < json_array_size(keys); i++) {
		json_t *k = json_array_get(keys, i);

		if (!json_is_string(k) || json_string_length(k) == 0) {
			rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: report file %zu is not a string",
					path, i + 1);
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
fo_manifest_load(const char *path, struct fo_manifest *m, fo_err *err)
{
	FILE *f = fopen(path, "rb");
	fo_buf text = FO_BUF_INIT;
	char chunk[65536];
	struct stat st;
	size_t n;
	int rc;

	memset(m, 0, sizeof(*m));
	if (!f)
		return fo_err_set(err, errno == ENOENT ? FO_EXIT_BAD_INPUT : FO_EXIT_FAILURE, "%s: %s",
				  path, strerror(errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0 && text.len < 64 * 1024 * 1024)
		fo_buf_append(&text, chunk, n);
	fclose(f);
	if (text.oom)
		return fo_err_set(err, FO_EXIT_FAILURE, "%s: out of memory", path);
	rc = fo_manifest_parse(path, fo_buf_str(&text), text.len, m, err);
	fo_buf_free(&text);
	if (rc == 0 && stat(path, &st) == 0)
		m->mtime = st.st_mtime;
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

int
fo_manifest_resolve_local(struct fo_manifest *m, fo_err *err)
{
	char dir[4096], cand[8192];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", m->path);
	slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof(dir), ".");
	m->files = calloc(m->nkeys, sizeof(char *));
	if (!m->files)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	for (size_t i = 0; i < m->nkeys; i++) {
		const char *rel = bucket_relative(m->keys[i]);
		const char *base = strrchr(rel, '/') ? strrchr(rel, '/') + 1 : rel;
		char up[4096];

		/* under each directory above the manifest: the bucket root is one of them */
		snprintf(up, sizeof(up), "%s", dir);
		for (;;) {
			snprintf(cand, sizeof(cand), "%s/%s", up, rel);
			if (is_file(cand))
				goto found;
			slash = strrchr(up, '/');
			if (!slash || slash == up)
				break;
			*slash = '\0';
		}
		/* beside the manifest, or in its assembly folder */
		snprintf(cand, sizeof(cand), "%s/%s", dir, base);
		if (is_file(cand))
			goto found;
		snprintf(cand, sizeof(cand), "%s/%s/%s", dir, m->assembly_id, base);
		if (is_file(cand))
			goto found;
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

/*
 * catalog.c: EC2 instance types and prices from the AWS Price List bulk
 * offer files (see catalog.h).
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "finops/buf.h"
#include "finops/catalog.h"
#include "finops/copy.h"
#include "finops/csvread.h"
#include "finops/datetime.h"
#include "finops/decimal.h"
#include "finops/http.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "finops/source.h"
#include "finops/stop.h"
#include "catalog/offer.h"
#include "core/core.h"

int
fo_catalog_check_offer(const char *name, fo_read_fn rd, void *rdctx,
		       struct fo_catalog_check *out, fo_err *err)
{
	struct offer o;
	int rc;

	memset(&o, 0, sizeof(o));
	memset(out, 0, sizeof(*out));
	o.name = name;
	rc = fo_csv_read(name, rd, rdctx, offer_record, &o, NULL, err);
	if (rc == 0 && !o.header_seen)
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: no SKU header: not an AWS Price List"
				" offer file, or an empty one", name);
	out->rows = o.rows;
	out->prices = o.kept;
	for (int k = 0; k < NSKIPS; k++)
		out->skipped += o.skipped[k];
	snprintf(out->version, sizeof(out->version), "%s", o.version);
	free(o.used);
	return rc;
}

/* ---- one offer file, one transaction -------------------------------------- */

struct source {
	const char *label;           /* file or URL, for messages and the versions table */
	const char *region;          /* from the region index; NULL for --from-file */
	fo_read_fn read;
	void *read_ctx;
};

static void
skipped_json(const struct offer *o, fo_buf *out)
{
	fo_buf_putc(out, '{');
	for (int s = 0; s < NSKIPS; s++)
		fo_buf_printf(out, "%s\"%s\":%lld", s ? "," : "", offer_skip_names[s], o->skipped[s]);
	fo_buf_putc(out, '}');
}

static long long
total_skipped(const struct offer *o)
{
	long long n = 0;

	for (int s = 0; s < NSKIPS; s++)
		n += o->skipped[s];
	return n;
}

/* Replaces the prices of every region the staging table holds, and their types. */
static int
replace_regions(struct fo_run *ctx, const struct offer *o, const char *label, fo_err *err)
{
	fo_buf skipped = FO_BUF_INIT;
	char run[24], rows[24];
	const char *params[6];
	int rc;

	snprintf(run, sizeof(run), "%lld", ctx->run_id);
	snprintf(rows, sizeof(rows), "%lld", o->rows);
	skipped_json(o, &skipped);
	params[0] = o->version;
	params[1] = o->publication[0] ? o->publication : NULL;
	params[2] = label;
	params[3] = rows;
	params[4] = skipped.data;
	params[5] = ctx->run_id ? run : NULL;
	rc = fo_pg_exec(ctx->conn,
		"DELETE FROM finops.instance_prices"
		" WHERE region IN (SELECT DISTINCT region FROM catalog_stage)", err);
	if (rc == 0)
		rc = fo_pg_query(ctx->conn,
			"INSERT INTO finops.instance_prices (region, instance_type, operating_system,"
			"  tenancy, license_model, pre_installed_sw, term, purchase_option,"
			"  offering_class, lease_length, price_per_hour, upfront_fee, currency,"
			"  effective_date, sku, offer_term_code, usage_type, operation, offer_version)"
			" SELECT region, instance_type, operating_system, tenancy, license_model,"
			"        pre_installed_sw, term, purchase_option, offering_class, lease_length,"
			"        coalesce(sum(price) FILTER (WHERE unit = 'Hrs'), 0),"
			"        coalesce(sum(price) FILTER (WHERE unit = 'Quantity'), 0),"
			"        min(currency), max(effective_date), sku, offer_term_code,"
			"        min(usage_type), min(operation), $1"
			"   FROM catalog_stage"
			"  GROUP BY region, sku, offer_term_code, instance_type, operating_system,"
			"           tenancy, license_model, pre_installed_sw, term, purchase_option,"
			"           offering_class, lease_length", 1, params, NULL, err);
	if (rc == 0)
		rc = fo_pg_exec(ctx->conn,
			"INSERT INTO finops.instance_types AS t (instance_type, family, generation,"
			"  instance_family, vcpu, memory_gib, gpu_count, gpu_memory, architecture,"
			"  physical_processor, clock_speed, network_performance, storage,"
			"  current_generation)"
			" SELECT DISTINCT ON (instance_type) instance_type,"
			"        split_part(instance_type, '.', 1),"
			"        substring(split_part(instance_type, '.', 1) from '([0-9]+)[a-z-]*$')::int,"
			"        instance_family, vcpu, memory_gib, gpu_count, gpu_memory,"
			"        CASE WHEN physical_processor ~* 'graviton|apple m[0-9]' THEN 'arm64'"
			"             ELSE 'x86_64' END,"
			"        physical_processor, clock_speed, network_performance, storage,"
			"        current_generation"
			"   FROM catalog_stage ORDER BY instance_type, effective_date DESC"
			" ON CONFLICT (instance_type) DO UPDATE SET family = EXCLUDED.family,"
			"   generation = EXCLUDED.generation, instance_family = EXCLUDED.instance_family,"
			"   vcpu = EXCLUDED.vcpu, memory_gib = EXCLUDED.memory_gib,"
			"   gpu_count = EXCLUDED.gpu_count, gpu_memory = EXCLUDED.gpu_memory,"
			"   architecture = EXCLUDED.architecture,"
			"   physical_processor = EXCLUDED.physical_processor,"
			"   clock_speed = EXCLUDED.clock_speed,"
			"   network_performance = EXCLUDED.network_performance,"
			"   storage = EXCLUDED.storage, current_generation = EXCLUDED.current_generation,"
			"   updated_at = now()"
			" WHERE (t.family, t.generation, t.instance_family, t.vcpu, t.memory_gib,"
			"        t.gpu_count, t.gpu_memory, t.architecture, t.physical_processor,"
			"        t.clock_speed, t.network_performance, t.storage, t.current_generation)"
			"   IS DISTINCT FROM (EXCLUDED.family, EXCLUDED.generation,"
			"        EXCLUDED.instance_family, EXCLUDED.vcpu, EXCLUDED.memory_gib,"
			"        EXCLUDED.gpu_count, EXCLUDED.gpu_memory, EXCLUDED.architecture,"
			"        EXCLUDED.physical_processor, EXCLUDED.clock_speed,"
			"        EXCLUDED.network_performance, EXCLUDED.storage,"
			"        EXCLUDED.current_generation)", err);
	if (rc == 0)
		rc = fo_pg_query(ctx->conn,
			"INSERT INTO finops.instance_catalog_versions AS v (region, offer_version,"
			"  publication_date, source, prices, rows_read, rows_skipped, run_id)"
			" SELECT s.region, $1, $2::timestamptz, $3,"
			"        (SELECT count(*) FROM finops.instance_prices p WHERE p.region = s.region),"
			"        $4::bigint, $5::jsonb, $6::bigint"
			"   FROM (SELECT DISTINCT region FROM catalog_stage) s"
			" ON CONFLICT (region) DO UPDATE SET offer_version = EXCLUDED.offer_version,"
			"   publication_date = EXCLUDED.publication_date, source = EXCLUDED.source,"
			"   prices = EXCLUDED.prices, rows_read = EXCLUDED.rows_read,"
			"   rows_skipped = EXCLUDED.rows_skipped, run_id = EXCLUDED.run_id,"
			"   loaded_at = now()", 6, params, NULL, err);
	fo_buf_free(&skipped);
	return rc;
}

/* Whether every region of the staging table already has this version. */
static int
already_loaded(struct fo_run *ctx, const struct offer *o, fo_err *err)
{
	const char *params[1] = {o->version};
	PGresult *res;
	int same;

	if (fo_pg_query(ctx->conn,
			"SELECT count(*) = 0 FROM (SELECT DISTINCT region FROM catalog_stage) s"
			" LEFT JOIN finops.instance_catalog_versions v USING (region)"
			" WHERE v.offer_version IS DISTINCT FROM $1", 1, params, &res, err) < 0)
		return -1;
	same = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return same;
}

/* How many regions the staged offer file holds. */
static int
staged_regions(struct fo_run *ctx, int *n, fo_err *err)
{
	PGresult *res;

	if (fo_pg_query(ctx->conn, "SELECT count(DISTINCT region) FROM catalog_stage", 0, NULL,
			&res, err) < 0)
		return -1;
	*n = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

/*
 * A plain CSV cut at a line boundary reads as a whole file: nothing in an
 * offer file says how many rows it has. A region that would lose more than
 * a tenth of its prices, and more than the two of a retired type (AWS
 * retires a type or two, not a tenth of a region), is refused as a file cut
 * short, unless --force.
 */
static int
not_shrunk(struct fo_run *ctx, const struct offer *o, fo_err *err)
{
	PGresult *res;
	int rc = 0;

	if (fo_pg_query(ctx->conn,
			"SELECT s.region, s.n, c.n, round(100 - 100.0 * s.n / c.n)"
			"  FROM (SELECT region, count(DISTINCT (sku, offer_term_code)) AS n"
			"          FROM catalog_stage GROUP BY 1) s"
			"  JOIN (SELECT region, count(*) AS n FROM finops.instance_prices"
			"         GROUP BY 1) c USING (region)"
			" WHERE s.n < 0.9 * c.n AND c.n - s.n > 2 ORDER BY 1 LIMIT 1", 0, NULL, &res,
			err) < 0)
		return -1;
	if (PQntuples(res) == 1)
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: region %s would go from %s prices to %s"
				" (%s%% fewer): a file cut short? (a plain CSV cut at a line boundary"
				" looks whole); --force loads it anyway", o->name,
				PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 1),
				PQgetvalue(res, 0, 3));
	PQclear(res);
	return rc;
}

/*
 * Reads one offer file and, unless it changes nothing, replaces its
 * region(s) in one transaction. *nregions: the regions the file holds;
 * *unchanged: whether they were all at its version already (nothing
 * written). Returns 0 or -1.
 */
static int
load_offer(struct fo_run *ctx, const struct fo_catalog_opts *opts, const struct source *src,
	   int *nregions, int *unchanged, fo_err *err)
{
	struct offer o;
	struct fo_csv_stats st;
	struct fo_copy_result cr;
	int rc, same = 0;

	memset(&o, 0, sizeof(o));
	o.name = src->label;
	o.expect_region = src->region;
	if (fo_pg_begin_writer(ctx->conn, err) < 0)
		return -1;
	rc = fo_pg_exec(ctx->conn,
		"CREATE TEMP TABLE catalog_stage (region text NOT NULL, instance_type text NOT NULL,"
		"  operating_system text NOT NULL, tenancy text NOT NULL, license_model text NOT NULL,"
		"  pre_installed_sw text NOT NULL, term text NOT NULL, purchase_option text,"
		"  offering_class text, lease_length text, unit text NOT NULL, price numeric NOT NULL,"
		"  currency text NOT NULL, effective_date date, sku text NOT NULL,"
		"  offer_term_code text NOT NULL, usage_type text, operation text,"
		"  instance_family text, vcpu integer NOT NULL, memory_gib numeric NOT NULL,"
		"  gpu_count integer NOT NULL, gpu_memory text, physical_processor text,"
		"  clock_speed text, network_performance text, storage text,"
		"  current_generation boolean NOT NULL) ON COMMIT DROP", err);
	if (rc == 0)
		rc = fo_copy_begin(ctx->conn, "catalog_stage", offer_stage_columns, NSTAGE, 0, &o.copy, err);
	if (rc == 0) {
		rc = fo_csv_read(src->label, src->read, src->read_ctx, offer_record, &o, &st, err);
		if (rc < 0) {
			fo_copy_abort(o.copy, "bad input");
		} else {
			rc = fo_copy_finish(o.copy, &cr, err);
			if (rc < 0 && cr.failed_row)
				fo_err_prefix(err, "%s: ", src->label);
		}
		o.copy = NULL;
	}
	if (rc == 0 && !o.header_seen)
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: no SKU header: not an AWS Price List"
				" offer file, or an empty one", src->label);
	if (rc == 0 && o.kept == 0)
		rc = fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: no compute instance prices in %lld rows:"
				" refusing to empty the catalog of its region", src->label, o.rows);
	*nregions = 0;
	*unchanged = 0;
	if (rc == 0)
		rc = staged_regions(ctx, nregions, err);
	if (rc == 0 && !opts->force)
		rc = same = already_loaded(ctx, &o, err);
	if (rc == 0 && !same && !opts->force)
		rc = not_shrunk(ctx, &o, err);
	if (rc >= 0 && !same)
		rc = replace_regions(ctx, &o, src->label, err);
	free(o.used);
	ctx->rows_read += o.rows;
	if (rc < 0 || same || ctx->dry_run) {
		fo_pg_rollback(ctx->conn);
		if (rc < 0)
			return -1;
	} else if (fo_pg_commit(ctx->conn, err) < 0) {
		return -1;
	}
	{
		fo_buf skipped = FO_BUF_INIT;

		skipped_json(&o, &skipped);
		fo_logf(FO_LOG_INFO,
			FO_FIELDS(FO_STR("source", src->label), FO_STR("offer_version", o.version),
				  FO_INT("rows", o.rows), FO_INT("prices", o.kept),
				  FO_INT("skipped", total_skipped(&o)),
				  FO_STR("skipped_by_reason", skipped.data)),
			"%s: %s offer version %s (%lld rows: %lld prices kept, %lld skipped)",
			src->region ? src->region : src->label,
			same ? "unchanged:" : ctx->dry_run ? "would load" : "loaded", o.version, o.rows,
			o.kept, total_skipped(&o));
		fo_buf_free(&skipped);
	}
	if (!same && !ctx->dry_run)
		ctx->rows_written += o.kept;
	*unchanged = same;
	return 0;
}

/* ---- the bulk API ----------------------------------------------------------- */

int
fo_catalog_url_version(const char *url, char *out, size_t len)
{
	/* .../AmazonEC2/<version>/<region>/index.json */
	const char *p = strstr(url, "/AmazonEC2/"), *end;

	if (!p)
		return -1;
	p += 11;
	end = strchr(p, '/');
	if (!end || end == p || !strchr(end + 1, '/'))
		return -1;
	snprintf(out, len, "%.*s", (int)(end - p), p);
	return 0;
}

static int
loaded_version(struct fo_run *ctx, const char *region, char *out, size_t len, fo_err *err)
{
	const char *params[1] = {region};
	PGresult *res;

	out[0] = '\0';
	if (fo_pg_query(ctx->conn, "SELECT offer_version FROM finops.instance_catalog_versions"
			" WHERE region = $1", 1, params, &res, err) < 0)
		return -1;
	if (PQntuples(res) == 1)
		snprintf(out, len, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

static int
fetch_index(const char *base, json_t **regions_out, json_t **root_out, fo_err *err)
{
	fo_buf url = FO_BUF_INIT;
	struct fo_http_req req = {"GET", NULL, NULL, NULL, 0, NULL, "Price List region index", 0};
	struct fo_http_resp resp;
	json_error_t jerr;
	json_t *root, *regions;
	int rc;

	fo_buf_printf(&url, "%s/offers/v1.0/aws/AmazonEC2/current/region_index.json", base);
	req.url = url.data;
	rc = fo_http_request(NULL, &req, &resp, err);
	if (rc == 0 && resp.status != 200) {
		fo_err_set(err, resp.status == 404 || resp.status == 403 ? FO_EXIT_USAGE
			   : FO_EXIT_FAILURE, "%s: HTTP %ld: no region index there (check"
			   " --base-url)", url.data, resp.status);
		fo_buf_free(&resp.body);
		rc = -1;
	}
	if (rc < 0) {
		fo_buf_free(&url);
		return -1;
	}
	root = json_loadb(resp.body.data, resp.body.len, 0, &jerr);
	fo_buf_free(&resp.body);
	regions = root ? json_object_get(root, "regions") : NULL;
	if (!json_is_object(regions)) {
		fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: not a region index (%s)", url.data,
			   root ? "no \"regions\" object" : jerr.text);
		json_decref(root);
		fo_buf_free(&url);
		return -1;
	}
	fo_buf_free(&url);
	*regions_out = regions;
	*root_out = root;
	return 0;
}

struct tally {
	size_t loaded, unchanged, failed;
	fo_buf failed_names;
	fo_err first;
};

static void
failed(struct tally *t, const char *what, const fo_err *err)
{
	fo_logf(FO_LOG_ERROR, FO_FIELDS(FO_STR("region", what), FO_INT("exit_code", err->code)),
		"%s: %s (its previous catalog is kept)", what, err->msg);
	if (!t->failed++)
		t->first = *err;
	fo_buf_printf(&t->failed_names, "%s%s", t->failed_names.len ? ", " : "", what);
}

static int
update_region(struct fo_run *ctx, const struct fo_catalog_opts *opts, const char *base,
	      const char *region, const char *version_url, struct tally *t)
{
	char version[64], have[64], redacted[512];
	fo_buf url = FO_BUF_INIT;
	fo_http_stream *stream = NULL;
	struct fo_http_req req = {"GET", NULL, NULL, NULL, 0, NULL, "Price List offer file", 0};
	struct source src;
	fo_err err;
	size_t n;
	int rc, nregions = 0, same = 0;

	if (fo_catalog_url_version(version_url, version, sizeof(version)) < 0) {
		fo_err_set(&err, FO_EXIT_BAD_INPUT, "region index: %s: no offer version in %s",
			   region, version_url);
		failed(t, region, &err);
		return 0;
	}
	if (loaded_version(ctx, region, have, sizeof(have), &err) < 0)
		return -1;      /* the database is gone: stop */
	if (!opts->force && strcmp(have, version) == 0) {
		fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("region", region),
					       FO_STR("offer_version", version)),
			"%s: offer version %s is already loaded; not downloading it", region, version);
		t->unchanged++;
		return 0;
	}
	/* the CSV form of the offer: index.json -> index.csv */
	fo_buf_printf(&url, "%s%s", base, version_url);
	n = url.len;
	if (n > 5 && strcmp(url.data + n - 5, ".json") == 0) {
		url.data[n - 5] = '\0';
		url.len = n - 5;
		fo_buf_puts(&url, ".csv");
	}
	req.url = url.data;
	fo_http_redact_url(url.data, redacted, sizeof(redacted));
	rc = fo_http_stream_open(NULL, &req, &stream, NULL, &err);
	if (rc == 0) {
		src.label = redacted;
		src.region = region;
		src.read = fo_http_stream_read_fn;
		src.read_ctx = stream;
		rc = load_offer(ctx, opts, &src, &nregions, &same, &err);
		fo_http_stream_close(stream);
	}
	fo_buf_free(&url);
	if (rc < 0) {
		if (PQstatus(ctx->conn) != CONNECTION_OK) {
			failed(t, region, &err);
			return -1;
		}
		failed(t, region, &err);
	} else if (same) {
		t->unchanged++;
	} else {
		t->loaded++;
	}
	return 0;
}

static int
wanted(const struct fo_catalog_opts *opts, const char *region)
{
	if (opts->nregions == 0)
		return 1;
	for (size_t i = 0; i < opts->nregions; i++)
		if (strcmp(opts->regions[i], region) == 0)
			return 1;
	return 0;
}

static int
from_index(struct fo_run *ctx, const struct fo_catalog_opts *opts, struct tally *t,
	   fo_err *err)
{
	const char *base = opts->base_url ? opts->base_url : FO_CATALOG_DEFAULT_BASE;
	json_t *root, *regions, *r;
	const char *code;
	char trimmed[1024];
	size_t n;

	snprintf(trimmed, sizeof(trimmed), "%s", base);
	n = strlen(trimmed);
	while (n > 0 && trimmed[n - 1] == '/')
		trimmed[--n] = '\0';
	if (fetch_index(trimmed, &regions, &root, err) < 0)
		return -1;
	for (size_t i = 0; i < opts->nregions; i++)
		if (!json_object_get(regions, opts->regions[i])) {
			fo_err_set(err, FO_EXIT_USAGE, "--region %s: not in the region index (%zu"
				   " regions)", opts->regions[i], json_object_size(regions));
			json_decref(root);
			return -1;
		}
	json_object_foreach(regions, code, r) {
		const char *vurl = json_string_value(json_object_get(r, "currentVersionUrl"));

		if (!wanted(opts, code))
			continue;
		if (!vurl) {
			fo_err e;

			fo_err_set(&e, FO_EXIT_BAD_INPUT, "region index: %s has no currentVersionUrl",
				   code);
			failed(t, code, &e);
			continue;
		}
		if (update_region(ctx, opts, trimmed, code, vurl, t) < 0 || fo_stop_requested())
			break;
	}
	json_decref(root);
	return 0;
}

int
fo_catalog_check(const struct fo_catalog_opts *opts, fo_err *err)
{
	if (opts->from_file && opts->nregions > 1)
		return fo_err_set(err, FO_EXIT_USAGE, "--from-file takes at most one --region (the"
				  " region the file must hold)");
	if (opts->from_file && opts->base_url)
		return fo_err_set(err, FO_EXIT_USAGE, "--from-file reads no region index: leave out"
				  " --base-url");
	if (opts->from_file)
		return fo_source_check(opts->from_file, err);
	return 0;
}

int
fo_catalog_update(struct fo_run *ctx, const struct fo_catalog_opts *opts, fo_err *err)
{
	struct tally t;
	int rc;

	memset(&t, 0, sizeof(t));
	if (fo_catalog_check(opts, err) < 0 || fo_run_lock(ctx, "catalog", err) < 0)
		return -1;
	if (opts->from_file) {
		struct fo_fd_source f = {-1, opts->from_file};
		struct source src = {opts->from_file, NULL, fo_fd_read, &f};
		fo_err e;
		int nregions = 0, same = 0;

		f.fd = open(opts->from_file, O_RDONLY | O_CLOEXEC);
		if (f.fd < 0)
			return fo_err_set(err, FO_EXIT_BAD_INPUT, "%s: %s", opts->from_file,
					  strerror(errno));
		src.region = opts->nregions == 1 ? opts->regions[0] : NULL;
		rc = load_offer(ctx, opts, &src, &nregions, &same, &e);
		close(f.fd);
		if (rc < 0) {
			*err = e;
			return -1;
		}
		/* the same regions counted the same way whether loaded or unchanged */
		if (same)
			t.unchanged += (size_t)nregions;
		else
			t.loaded += (size_t)nregions;
	} else if (from_index(ctx, opts, &t, err) < 0) {
		fo_buf_free(&t.failed_names);
		return -1;
	}
	fo_buf_printf(&ctx->summary, "%zu region(s) %s, %zu unchanged, %zu failed%s%s%s", t.loaded,
		      ctx->dry_run ? "would be loaded" : "loaded", t.unchanged, t.failed,
		      t.failed ? " (" : "", t.failed ? t.failed_names.data : "",
		      t.failed ? ")" : "");
	fo_buf_free(&t.failed_names);
	if (t.failed) {
		*err = t.first;
		fo_err_prefix(err, "%zu region(s) failed; the first: ", t.failed);
		return -1;
	}
	ctx->nothing_new = t.loaded == 0;
	return 0;
}

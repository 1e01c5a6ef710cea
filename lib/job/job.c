/*
 * job.c: the life of one run of a finops binary (see job.h).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <csv.h>
#include <curl/curl.h>
#include <jansson.h>
#include <zlib.h>

#include "finops/aws.h"
#include "finops/http.h"
#include "finops/job.h"
#include "finops/jobrun.h"
#include "finops/log.h"
#include "finops/metrics.h"
#include "finops/migrate.h"
#include "finops/pg.h"
#include "finops/secrets.h"
#include "finops/source.h"
#include "finops/stop.h"
#include "finops/version.h"
#include "core/core.h"

enum {
	OPT_DSN = 256,
	OPT_LOG_FORMAT,
	OPT_LOG_LEVEL,
	OPT_LOCK_WAIT,
	OPT_METRICS_SCOPE
};

static const struct fo_option common_options[] = {
	{"dsn", 1, OPT_DSN, "CONNINFO",
	 "PostgreSQL conninfo or URI (default: from Vault when VAULT_ADDR is set, else"
	 " $FINOPS_DSN or $FINOPS_DSN_FILE, else libpq's PG* environment; docs/secrets.md)"},
	{"lock-wait", 1, OPT_LOCK_WAIT, "SECONDS",
	 "wait up to SECONDS for another run on the same scope (default 0: exit 4"
	 " at once; -1: wait forever)"},
	{"log-format", 1, OPT_LOG_FORMAT, "FORMAT",
	 "auto (text on a terminal, else json), json or text [$FINOPS_LOG_FORMAT]"},
	{"log-level", 1, OPT_LOG_LEVEL, "LEVEL", "debug, info, warn or error [$FINOPS_LOG_LEVEL]"},
	{"metrics-scope", 1, OPT_METRICS_SCOPE, "NAME",
	 "the scope label of the run's Prometheus metrics, pushed to $FINOPS_PUSHGATEWAY_URL"
	 " and/or written in $FINOPS_METRICS_DIR (default \"default\"; letters, digits, _ . : -)"
	 " [$FINOPS_METRICS_SCOPE]"},
	{"dry-run", 0, 'n', NULL, "read and check everything, change nothing"},
	{"help", 0, 'h', NULL, "show this help and exit"},
	{"version", 0, 'V', NULL, "show the version and exit"},
	{NULL, 0, 0, NULL, NULL}
};

int
fo_parse_int(const char *s, long min, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || end == s || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int
fo_opt_int(const char *name, const char *arg, long min, long max, const char *what, int *out,
	   fo_err *err)
{
	long v;

	if (fo_parse_int(arg, min, max, &v) < 0) {
		if (what)
			return fo_err_set(err, FO_EXIT_USAGE, "--%s %s: %s", name, arg, what);
		return fo_err_set(err, FO_EXIT_USAGE, "--%s %s: %ld to %ld", name, arg, min, max);
	}
	*out = (int)v;
	return 0;
}

int
fo_opt_shard(const char *name, const char *arg, int *i, int *n, fo_err *err)
{
	const char *slash = strchr(arg, '/');
	char first[16];
	long vi, vn;

	if (!slash || (size_t)(slash - arg) >= sizeof(first))
		return fo_err_set(err, FO_EXIT_USAGE, "--%s %s: I/N, shard I of N counted from 0"
				  " (0/4 to 3/4)", name, arg);
	memcpy(first, arg, (size_t)(slash - arg));
	first[slash - arg] = '\0';
	if (fo_parse_int(slash + 1, 1, 1024, &vn) < 0)
		return fo_err_set(err, FO_EXIT_USAGE, "--%s %s: N must be 1 to 1024", name, arg);
	if (fo_parse_int(first, 0, vn - 1, &vi) < 0)
		return fo_err_set(err, FO_EXIT_USAGE, "--%s %s: I must be 0 to %ld (shards count"
				  " from 0)", name, arg, vn - 1);
	*i = (int)vi;
	*n = vn == 1 ? 0 : (int)vn;      /* 0/1 is every instance: not sharded */
	return 0;
}

static int
has_dry_run(const struct fo_job *job)
{
	return (job->flags & FO_JOB_DRY_RUN) != 0;
}

/* Prints text from the current column (indent), wrapping at width. */
static void
print_wrapped(FILE *f, const char *text, int indent, int width)
{
	int col = indent;
	const char *p = text;

	while (*p) {
		size_t w = strcspn(p, " ");

		if (col > indent && col + 1 + (int)w > width) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, w, f);
		col += (int)w;
		p += w;
		while (*p == ' ')
			p++;
	}
	fputc('\n', f);
}

/* The left column of an option's help line: "-h, --help", "    --dsn CONNINFO". */
static void
option_left(const struct fo_option *o, char *left, size_t len)
{
	if (o->id == 'h' || o->id == 'V' || o->id == 'n')
		snprintf(left, len, "-%c, --%s", o->id, o->name);
	else
		snprintf(left, len, "    --%s%s%s", o->name, o->arg_name ? " " : "",
			 o->arg_name ? o->arg_name : "");
}

/* The widest left column of the job's and the common options, within bounds. */
static int
options_width(const struct fo_job *job)
{
	const struct fo_option *tables[2] = {job->options, common_options};
	int width = 20;

	for (int i = 0; i < 2; i++)
		for (const struct fo_option *o = tables[i]; o && o->name; o++) {
			char left[96];
			int n;

			option_left(o, left, sizeof(left));
			n = (int)strlen(left);
			if (n > width && n <= 34)
				width = n;
		}
	return width;
}

/* Every option, its help aligned in one column (a longer name gets a line of its own). */
static void
print_options(FILE *f, const struct fo_option *opts, const struct fo_job *job, int width)
{
	for (const struct fo_option *o = opts; o && o->name; o++) {
		char left[96];

		if (o->id == 'n' && !has_dry_run(job))
			continue;
		option_left(o, left, sizeof(left));
		if ((int)strlen(left) > width)
			fprintf(f, "  %s\n%*s", left, width + 4, "");
		else
			fprintf(f, "  %-*s  ", width, left);
		print_wrapped(f, o->help, width + 4, 79);
	}
}

static void
print_help(const struct fo_job *job)
{
	int width = options_width(job);

	printf("%s - %s\n\n", job->name, job->purpose);
	printf("Usage: %s %s\n", job->name, job->usage ? job->usage : "[OPTIONS]");
	if (job->description)
		printf("\n%s\n", job->description);
	if (job->options && job->options[0].name) {
		printf("\nOptions:\n");
		print_options(stdout, job->options, job, width);
	}
	printf("\nCommon options:\n");
	print_options(stdout, common_options, job, width);
	printf("\nExit codes: 0 done, 99 nothing new (Airflow: skipped), 2 usage or configuration,\n"
	       "3 bad input (nothing changed), 4 transient (retry later), 1 other failure.\n"
	       "Logs: one JSON object a line on stderr (text on a terminal).\n");
}

static void
print_version(const struct fo_job *job)
{
	const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);
	int pq = fo_pg_client_version();

	printf("%s (finops-pipeline) %s\n", job->name, FO_VERSION);
	printf("libpq %d.%d, libcurl %s, jansson %s, libcsv %d.%d.%d, zlib %s\n",
	       pq / 10000, pq % 10000, curl->version, jansson_version_str(),
	       CSV_MAJOR, CSV_MINOR, CSV_RELEASE, zlibVersion());
}

/* Builds the getopt_long table of the common and the job's options. */
static struct option *
build_longopts(const struct fo_job *job)
{
	size_t n = 0, k = 0;
	struct option *lo;

	for (const struct fo_option *o = common_options; o->name; o++)
		n++;
	for (const struct fo_option *o = job->options; o && o->name; o++)
		n++;
	lo = calloc(n + 1, sizeof(*lo));
	if (!lo)
		return NULL;
	for (const struct fo_option *o = common_options; o->name; o++, k++)
		lo[k] = (struct option){o->name, o->has_arg ? required_argument : no_argument, NULL, o->id};
	for (const struct fo_option *o = job->options; o && o->name; o++, k++)
		lo[k] = (struct option){o->name, o->has_arg ? required_argument : no_argument, NULL, o->id};
	return lo;
}

/* Keeps the DSN's secrets out of log lines and of the process title. */
static void
protect_dsn(char *dsn)
{
	char red[1024];
	size_t n, rn;

	fo_pg_protect_conninfo(dsn);
	fo_pg_redact_conninfo(dsn, red, sizeof(red));
	if (strcmp(red, dsn) == 0)
		return;
	/* argv is what ps and /proc/PID/cmdline show: the redacted text, cut to fit */
	n = strlen(dsn);
	rn = strlen(red);
	memset(dsn, ' ', n);
	memcpy(dsn, red, rn < n ? rn : n);
	fo_memzero(red, sizeof(red));
}

struct parsed {
	int help, version;
	char *dsn;          /* a copy; the argv original is overwritten */
	char metrics_scope[FO_METRICS_SCOPE_MAX + 1];
};

/* The scope label from FINOPS_METRICS_SCOPE, or "default". */
static int
metrics_scope_from_env(struct parsed *p, fo_err *err)
{
	const char *e = fo_env("FINOPS_METRICS_SCOPE");

	snprintf(p->metrics_scope, sizeof(p->metrics_scope), "default");
	if (!e)
		return 0;
	if (!fo_metrics_scope_ok(e))
		return fo_err_set(err, FO_EXIT_USAGE,
				  "FINOPS_METRICS_SCOPE '%s': 1 to %d letters, digits, _ . : or -", e,
				  FO_METRICS_SCOPE_MAX);
	snprintf(p->metrics_scope, sizeof(p->metrics_scope), "%s", e);
	return 0;
}

static int
usage_error(const struct fo_job *job, const char *msg)
{
	fo_logf(FO_LOG_ERROR, FO_FIELDS(FO_INT("exit_code", FO_EXIT_USAGE)), "%s", msg);
	fprintf(stderr, "Try '%s --help' for more information.\n", job->name);
	return FO_EXIT_USAGE;
}

static int
parse_args(const struct fo_job *job, struct fo_run *ctx, int argc, char **argv,
	   struct parsed *p, fo_err *err)
{
	struct option *lo = build_longopts(job);
	enum fo_log_format fmt;
	enum fo_log_level lvl;
	long v;
	int c, rc = -1;

	if (!lo)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	if (metrics_scope_from_env(p, err) < 0) {
		free(lo);
		return -1;
	}
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":hVn", lo, NULL)) != -1) {
		switch (c) {
		case 'h':
			p->help = 1;
			break;
		case 'V':
			p->version = 1;
			break;
		case 'n':
			if (!has_dry_run(job)) {
				fo_err_set(err, FO_EXIT_USAGE, "%s has no --dry-run", job->name);
				goto out;
			}
			ctx->dry_run = 1;
			break;
		case OPT_DSN:
			free(p->dsn);
			p->dsn = strdup(optarg);
			protect_dsn(optarg);
			break;
		case OPT_LOG_FORMAT:
			if (fo_log_parse_format(optarg, &fmt) < 0) {
				fo_err_set(err, FO_EXIT_USAGE, "--log-format: '%s' is not auto, json or text",
					   optarg);
				goto out;
			}
			fo_log_set_format(fmt);
			break;
		case OPT_LOG_LEVEL:
			if (fo_log_parse_level(optarg, &lvl) < 0) {
				fo_err_set(err, FO_EXIT_USAGE,
					   "--log-level: '%s' is not debug, info, warn or error", optarg);
				goto out;
			}
			fo_log_set_level(lvl);
			break;
		case OPT_METRICS_SCOPE:
			if (!fo_metrics_scope_ok(optarg)) {
				fo_err_set(err, FO_EXIT_USAGE,
					   "--metrics-scope: '%s' is not 1 to %d letters, digits, _ . : or -",
					   optarg, FO_METRICS_SCOPE_MAX);
				goto out;
			}
			snprintf(p->metrics_scope, sizeof(p->metrics_scope), "%s", optarg);
			break;
		case OPT_LOCK_WAIT:
			if (fo_parse_int(optarg, -1, 7 * 86400, &v) < 0) {
				fo_err_set(err, FO_EXIT_USAGE,
					   "--lock-wait: '%s' is not a number of seconds (-1 to %d)",
					   optarg, 7 * 86400);
				goto out;
			}
			ctx->lock_wait_s = (int)v;
			break;
		case ':':
			fo_err_set(err, FO_EXIT_USAGE, "option '%s' needs a value", argv[optind - 1]);
			goto out;
		case '?':
			if (optopt)
				fo_err_set(err, FO_EXIT_USAGE, "unknown option '-%c'", optopt);
			else
				fo_err_set(err, FO_EXIT_USAGE, "unknown option '%s'", argv[optind - 1]);
			goto out;
		default:
			if (!job->option) {
				fo_err_set(err, FO_EXIT_USAGE, "unexpected option");
				goto out;
			}
			if (job->option(ctx, c, optarg, err) < 0) {
				if (err->code == FO_EXIT_OK)
					err->code = FO_EXIT_USAGE;
				goto out;
			}
		}
	}
	if (p->help || p->version) {
		rc = 0;
		goto out;
	}
	if (!job->args && optind < argc) {
		fo_err_set(err, FO_EXIT_USAGE, "unexpected argument '%s'", argv[optind]);
		goto out;
	}
	if (job->args && job->args(ctx, argc - optind, argv + optind, err) < 0) {
		if (err->code == FO_EXIT_OK)
			err->code = FO_EXIT_USAGE;
		goto out;
	}
	if (job->check && job->check(ctx, err) < 0) {
		if (err->code == FO_EXIT_OK)
			err->code = FO_EXIT_USAGE;
		goto out;
	}
	rc = 0;
out:
	free(lo);
	return rc;
}

static void
init_log_from_env(const struct fo_job *job)
{
	enum fo_log_format fmt = FO_LOG_FORMAT_AUTO;
	enum fo_log_level lvl = FO_LOG_INFO;
	const char *e;

	e = getenv("FINOPS_LOG_FORMAT");
	if (e && *e && fo_log_parse_format(e, &fmt) < 0)
		fmt = FO_LOG_FORMAT_AUTO;
	e = getenv("FINOPS_LOG_LEVEL");
	if (e && *e && fo_log_parse_level(e, &lvl) < 0)
		lvl = FO_LOG_INFO;
	fo_log_init(job->name, fmt, lvl);
}

static double
seconds_since(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static struct timespec process_start;

static double
elapsed_since_start(void)
{
	return seconds_since(&process_start);
}

static int
run_job(const struct fo_job *job, struct fo_run *ctx, const char *dsn, int argc,
	char **argv, fo_err *err)
{
	struct fo_pg_connect_opts copts = {dsn, job->name, 0, 0, 0, 0};
	struct fo_migrate_report mr;
	char *secret_dsn = NULL;
	const char *source = "--dsn";
	int rc;

	if (job->offline) {
		rc = job->offline(ctx, err);
		if (rc != 0) {
			ctx->offline = rc > 0;
			return rc < 0 ? -1 : 0;
		}
	}
	if (!dsn) {
		if (fo_secret_dsn(&secret_dsn, &source, err) < 0)
			return -1;
		/* its password as libpq reads it is a secret too (any spelling) */
		if (secret_dsn && fo_pg_protect_conninfo(secret_dsn) < 0) {
			fo_free_wiped(secret_dsn);
			return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
		}
		copts.dsn = secret_dsn;
		copts.nothing_configured = !secret_dsn && !fo_env("PGHOST") && !fo_env("PGHOSTADDR") &&
					   !fo_env("PGSERVICE");
	}
	fo_logf(FO_LOG_DEBUG, FO_FIELDS(FO_STR("dsn_source", source)), "database DSN from %s",
		source);
	rc = fo_pg_connect(&copts, &ctx->conn, err);
	fo_free_wiped(secret_dsn);
	if (rc < 0)
		return -1;
	if (!(job->flags & FO_JOB_SCHEMA_ADMIN)) {
		if (fo_migrate_check(ctx->conn, fo_migrations_embedded, fo_migrations_embedded_count,
				     &mr, err) < 0)
			return -1;
		if (fo_jobrun_start(ctx->conn, job->name, argc, argv, ctx->dry_run, &ctx->run_id,
				    err) < 0)
			return -1;
		fo_logf(FO_LOG_DEBUG, FO_FIELDS(FO_INT("run_id", ctx->run_id)), "run started");
	}
	return job->run(ctx, err);
}

/* The run's outcome to Prometheus, as the environment asks (metrics.h). */
static void
publish_metrics(const struct fo_run *ctx, const char *scope, int code, double duration_s)
{
	struct timespec now;
	struct fo_metrics_run m;

	clock_gettime(CLOCK_REALTIME, &now);
	m.job = ctx->name;
	m.scope = scope;
	m.end_unix = (double)now.tv_sec + (double)now.tv_nsec / 1e9;
	m.duration_s = duration_s;
	m.exit_code = code;
	m.rows_read = ctx->rows_read;
	m.rows_written = ctx->rows_written;
	fo_metrics_publish(&m);
}

int
fo_job_main(const struct fo_job *job, void *data, int argc, char **argv)
{
	struct fo_run ctx;
	struct parsed p = {0, 0, NULL, "default"};
	struct timespec start;
	fo_err err;
	int code, rc;

	memset(&ctx, 0, sizeof(ctx));
	ctx.name = job->name;
	ctx.data = data;
	ctx.lock_wait_s = job->lock_wait_s;
	ctx.argc = argc;
	ctx.argv = argv;
	ctx.elapsed_s = elapsed_since_start;
	fo_err_clear(&err);
	clock_gettime(CLOCK_MONOTONIC, &start);
	process_start = start;
	init_log_from_env(job);
	fo_stop_catch_signals();

	if (parse_args(job, &ctx, argc, argv, &p, &err) < 0) {
		code = err.code == FO_EXIT_USAGE ? usage_error(job, err.msg) : err.code;
		if (code != FO_EXIT_USAGE)
			fo_logf(FO_LOG_ERROR, FO_FIELDS(FO_INT("exit_code", code),
							FO_STR("error_class", fo_exit_name(code))),
				"%s", err.msg);
		goto out;
	}
	if (p.help) {
		print_help(job);
		code = FO_EXIT_OK;
		goto out;
	}
	if (p.version) {
		print_version(job);
		code = FO_EXIT_OK;
		goto out;
	}
	if (fo_http_global_init(&err) < 0) {
		code = err.code;
		fo_logf(FO_LOG_ERROR, NULL, 0, "%s", err.msg);
		goto out;
	}
	rc = run_job(job, &ctx, p.dsn, argc, argv, &err);
	if (rc < 0)
		code = err.code == FO_EXIT_OK || err.code == FO_EXIT_NOTHING_NEW ? FO_EXIT_FAILURE
										 : err.code;
	else
		code = ctx.nothing_new ? FO_EXIT_NOTHING_NEW : FO_EXIT_OK;
	if (rc < 0 && fo_stop_requested()) {
		code = FO_EXIT_TRANSIENT;
		fo_err_prefix(&err, "interrupted by signal %d: ", fo_stop_signal());
	}
	if (rc < 0)
		fo_logf(FO_LOG_ERROR, FO_FIELDS(FO_INT("exit_code", code),
						FO_STR("error_class", fo_exit_name(code))),
			"%s", err.msg);

	if (ctx.run_id) {
		struct fo_jobrun_end end = {code, ctx.rows_read, ctx.rows_written,
					    ctx.details.len ? ctx.details.data : NULL,
					    rc < 0 ? err.msg : NULL, ctx.scope};
		fo_err ferr;

		if (fo_jobrun_finish(ctx.conn, ctx.run_id, &end, &ferr) < 0)
			fo_logf(FO_LOG_WARN, FO_FIELDS(FO_INT("run_id", ctx.run_id)), "%s", ferr.msg);
	}
	fo_logf(rc < 0 ? FO_LOG_ERROR : FO_LOG_INFO,
		FO_FIELDS(FO_STR("status", fo_jobrun_status(code)), FO_INT("exit_code", code),
			  FO_INT("run_id", ctx.run_id), FO_INT("rows_read", ctx.rows_read),
			  FO_INT("rows_written", ctx.rows_written),
			  FO_NUM("duration_s", (double)(long long)(seconds_since(&start) * 1000) / 1000),
			  FO_BOOL("dry_run", ctx.dry_run)),
		"summary: %s%s%s", fo_jobrun_status(code), ctx.summary.len ? "; " : "",
		fo_buf_str(&ctx.summary));
	fo_pg_disconnect(ctx.conn);
	fo_source_done();
	fo_aws_done();
	fo_secrets_close();
	fo_http_global_cleanup();
out:
	if (!p.help && !p.version && !ctx.offline)
		publish_metrics(&ctx, p.metrics_scope, code, seconds_since(&start));
	if (p.dsn) {
		fo_memzero(p.dsn, strlen(p.dsn));
		free(p.dsn);
	}
	fo_buf_free(&ctx.details);
	fo_buf_free(&ctx.summary);
	fo_log_forget_secrets();
	return code;
}

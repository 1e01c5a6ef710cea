/*
 * jobrun.c: one row of finops.job_runs a run.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "finops/buf.h"
#include "finops/exit.h"
#include "finops/jobrun.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "finops/version.h"
#include "core/core.h"

const char *
fo_jobrun_status(int exit_code)
{
	switch (exit_code) {
	case FO_EXIT_OK:
		return "succeeded";
	case FO_EXIT_NOTHING_NEW:
		return "nothing_new";
	default:
		return "failed";
	}
}

/* Text for the database: valid UTF-8 (a byte that is not becomes U+FFFD), at most max bytes. */
static char *
db_text(const char *s, size_t max)
{
	fo_buf b = FO_BUF_INIT;

	fo_utf8_clean(&b, s, max);
	if (b.oom) {
		fo_buf_wipe(&b);
		return NULL;
	}
	return b.data ? b.data : strdup("");
}

static void
array_element(fo_buf *b, const char *s)
{
	char *copy = strdup(s), *clean;

	if (!copy) {
		b->oom = 1;
		return;
	}
	fo_log_redact(copy, strlen(copy) + 1);
	clean = db_text(copy, 8192);
	fo_memzero(copy, strlen(copy));
	free(copy);
	copy = clean;
	if (!copy) {
		b->oom = 1;
		return;
	}
	fo_buf_putc(b, '"');
	for (const char *p = copy; *p; p++) {
		if (*p == '"' || *p == '\\')
			fo_buf_putc(b, '\\');
		fo_buf_putc(b, *p);
	}
	fo_buf_putc(b, '"');
	fo_memzero(copy, strlen(copy));
	free(copy);
}

char *
fo_jobrun_args_literal(int argc, char *const *argv)
{
	fo_buf b = FO_BUF_INIT;
	char red[1024], opt[1100];

	fo_buf_putc(&b, '{');
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i];

		if (i > 0)
			fo_buf_putc(&b, ',');
		if (strncmp(a, "--dsn=", 6) == 0) {
			fo_pg_redact_conninfo(a + 6, red, sizeof(red));
			snprintf(opt, sizeof(opt), "--dsn=%s", red);
			array_element(&b, opt);
		} else if (i > 0 && strcmp(argv[i - 1], "--dsn") == 0) {
			fo_pg_redact_conninfo(a, red, sizeof(red));
			array_element(&b, red);
		} else {
			array_element(&b, a);
		}
	}
	fo_buf_putc(&b, '}');
	fo_memzero(red, sizeof(red));
	fo_memzero(opt, sizeof(opt));
	if (b.oom) {
		fo_buf_wipe(&b);
		return NULL;
	}
	return b.data;
}

int
fo_jobrun_start(PGconn *conn, const char *job, int argc, char *const *argv, int dry_run,
		long long *run_id, fo_err *err)
{
	char host[256] = "", pid[32];
	char *args;
	const char *params[6];
	PGresult *res;
	int rc;

	*run_id = 0;
	/*
	 * A run whose database session is gone can no longer finish its row:
	 * it was killed, crashed or lost its connection.
	 */
	params[0] = job;
	if (fo_pg_query(conn,
			"UPDATE finops.job_runs r SET status = 'abandoned', finished_at = clock_timestamp(),"
			"       error_message = coalesce(r.error_message, 'the run ended without recording"
			" its result (killed, crashed or lost its database connection)')"
			" WHERE r.job = $1 AND r.status = 'running'"
			"   AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a"
			"                    WHERE a.pid = r.backend_pid"
			"                      AND a.backend_start = r.backend_start)",
			1, params, &res, err) < 0)
		return fo_err_prefix(err, "job_runs: ");
	if (atoi(PQcmdTuples(res)) > 0)
		fo_logf(FO_LOG_WARN, FO_FIELDS(FO_INT("abandoned_runs", atoi(PQcmdTuples(res)))),
			"earlier %s runs ended without recording a result; marked abandoned", job);
	PQclear(res);

	args = fo_jobrun_args_literal(argc, argv);
	if (!args)
		return fo_err_set(err, FO_EXIT_FAILURE, "job_runs: out of memory");
	gethostname(host, sizeof(host) - 1);
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	params[1] = args;
	params[2] = host;
	params[3] = pid;
	params[4] = FO_VERSION;
	params[5] = dry_run ? "true" : "false";
	rc = fo_pg_query(conn,
			 "INSERT INTO finops.job_runs (job, arguments, host, os_pid, version, dry_run,"
			 "                             backend_pid, backend_start)"
			 " SELECT $1, $2::text[], $3, $4, $5, $6, a.pid, a.backend_start"
			 "   FROM pg_stat_activity a WHERE a.pid = pg_backend_pid()"
			 " RETURNING run_id", 6, params, &res, err);
	free(args);
	if (rc < 0)
		return fo_err_prefix(err, "job_runs: ");
	*run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int
fo_jobrun_start_late(PGconn *conn, const char *job, int argc, char *const *argv, int dry_run,
		     double started_ago_s, long long *run_id, fo_err *err)
{
	char id[32], ago[32];
	const char *params[2] = {id, ago};

	if (fo_jobrun_start(conn, job, argc, argv, dry_run, run_id, err) < 0)
		return -1;
	snprintf(id, sizeof(id), "%lld", *run_id);
	snprintf(ago, sizeof(ago), "%.3f", started_ago_s > 0 ? started_ago_s : 0);
	if (fo_pg_query(conn, "UPDATE finops.job_runs SET started_at = started_at"
			" - make_interval(secs => $2::float8) WHERE run_id = $1::bigint", 2, params,
			NULL, err) < 0)
		return fo_err_prefix(err, "job_runs: ");
	return 0;
}

int
fo_jobrun_set_scope(PGconn *conn, long long run_id, const char *scope, fo_err *err)
{
	char id[32], *clean = db_text(scope, 255);
	const char *params[2] = {id, clean};
	int rc;

	if (!clean)
		return fo_err_set(err, FO_EXIT_FAILURE, "job_runs: out of memory");
	snprintf(id, sizeof(id), "%lld", run_id);
	rc = fo_pg_query(conn, "UPDATE finops.job_runs SET scope = $2 WHERE run_id = $1", 2, params,
			 NULL, err);
	free(clean);
	return rc < 0 ? fo_err_prefix(err, "job_runs: ") : 0;
}

int
fo_jobrun_finish(PGconn *conn, long long run_id, const struct fo_jobrun_end *end, fo_err *err)
{
	char id[32], code[16], rread[32], rwritten[32];
	char *msg = NULL, *scope = NULL;
	const char *params[8];
	int rc;

	if (PQstatus(conn) != CONNECTION_OK) {
		/* One try to get the result recorded after a lost connection. */
		PQreset(conn);
		if (PQstatus(conn) != CONNECTION_OK)
			return fo_err_set(err, FO_EXIT_TRANSIENT,
					  "job_runs: cannot record the result of run %lld:"
					  " the database connection is lost", run_id);
	}
	fo_pg_rollback(conn);
	if (end->error_message) {
		char *raw = strdup(end->error_message);

		/* redacted, then valid UTF-8: a message cut mid-character or quoting a
		 * file's bytes must not keep the run from recording its end */
		if (raw) {
			fo_log_redact(raw, strlen(raw) + 1);
			msg = db_text(raw, 4000);
			free(raw);
		}
	}
	snprintf(id, sizeof(id), "%lld", run_id);
	snprintf(code, sizeof(code), "%d", end->exit_code);
	snprintf(rread, sizeof(rread), "%lld", end->rows_read);
	snprintf(rwritten, sizeof(rwritten), "%lld", end->rows_written);
	params[0] = id;
	params[1] = fo_jobrun_status(end->exit_code);
	params[2] = code;
	params[3] = rread;
	params[4] = rwritten;
	params[5] = end->details_json;
	params[6] = msg;
	if (end->scope && *end->scope)
		scope = db_text(end->scope, 255);
	params[7] = scope;
	rc = fo_pg_query(conn,
			 "UPDATE finops.job_runs SET finished_at = clock_timestamp(), status = $2,"
			 "       exit_code = $3, rows_read = $4, rows_written = $5,"
			 "       details = coalesce($6::jsonb, '{}'), error_message = $7,"
			 "       scope = coalesce($8, scope)"
			 " WHERE run_id = $1", 8, params, NULL, err);
	free(msg);
	free(scope);
	if (rc < 0)
		return fo_err_prefix(err, "job_runs: ");
	return 0;
}

/*
 * pg.c: PostgreSQL connections, statements, transactions, advisory locks.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "finops/buf.h"
#include "finops/log.h"
#include "finops/pg.h"
#include "finops/stop.h"
#include "core/core.h"

/* ---- connection strings as libpq reads them ---------------------------------- */

#define REDACTED "[REDACTED]"
#define UNPARSEABLE "[REDACTED: not a connection string libpq can parse]"

/* Appends a conninfo value, quoted when it would not stand alone. */
static void
put_conninfo_value(fo_buf *b, const char *v)
{
	if (*v && !strpbrk(v, " \t\n\r'\\=")) {
		fo_buf_puts(b, v);
		return;
	}
	fo_buf_putc(b, '\'');
	for (; *v; v++) {
		if (*v == '\'' || *v == '\\')
			fo_buf_putc(b, '\\');
		fo_buf_putc(b, *v);
	}
	fo_buf_putc(b, '\'');
}

void
fo_pg_redact_conninfo(const char *conninfo, char *out, size_t outlen)
{
	PQconninfoOption *opts;
	fo_buf b = FO_BUF_INIT;
	char *errmsg = NULL;
	int secret = 0;

	if (outlen == 0)
		return;
	if (!conninfo) {
		out[0] = '\0';
		return;
	}
	opts = PQconninfoParse(conninfo, &errmsg);
	PQfreemem(errmsg);
	if (!opts) {
		/* where a password would be cannot be told: show none of it */
		snprintf(out, outlen, "%s", UNPARSEABLE);
		return;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		secret |= o->val && o->dispchar && o->dispchar[0] == '*';
	if (!secret) {
		/* libpq found no secret in it, whatever its spelling: as it was given */
		snprintf(out, outlen, "%s", conninfo);
		PQconninfoFree(opts);
		return;
	}
	/*
	 * Rebuilt from what libpq parsed, so that no spelling of a secret
	 * (percent-encoded, in a URI's user info or query) can slip through.
	 */
	for (PQconninfoOption *o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (b.len)
			fo_buf_putc(&b, ' ');
		fo_buf_printf(&b, "%s=", o->keyword);
		if (o->dispchar && o->dispchar[0] == '*')
			fo_buf_puts(&b, REDACTED);
		else
			put_conninfo_value(&b, o->val);
	}
	PQconninfoFree(opts);
	snprintf(out, outlen, "%s", b.oom ? REDACTED : fo_buf_str(&b));
	fo_buf_wipe(&b);
}

int
fo_pg_protect_conninfo(const char *conninfo)
{
	PQconninfoOption *opts;
	char *errmsg = NULL;
	int rc = 0, secret = 0;

	if (!conninfo)
		return 0;
	opts = PQconninfoParse(conninfo, &errmsg);
	PQfreemem(errmsg);
	if (!opts)
		return fo_log_add_secret(conninfo);      /* libpq may echo it whole */
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && o->dispchar && o->dispchar[0] == '*') {
			secret = 1;
			if (fo_log_add_secret(o->val) < 0)
				rc = -1;
		}
	PQconninfoFree(opts);
	if (secret && fo_log_add_secret(conninfo) < 0)
		rc = -1;
	return rc;
}

int
fo_pg_sqlstate_class(const char *s)
{
	if (!s || strlen(s) != 5)
		return FO_EXIT_FAILURE;
	/* connection exceptions, lack of resources, system (I/O) errors */
	if (strncmp(s, "08", 2) == 0 || strncmp(s, "53", 2) == 0 || strncmp(s, "58", 2) == 0)
		return FO_EXIT_TRANSIENT;
	if (strcmp(s, "40001") == 0 ||   /* serialization_failure */
	    strcmp(s, "40P01") == 0 ||   /* deadlock_detected */
	    strcmp(s, "55P03") == 0 ||   /* lock_not_available */
	    strcmp(s, "57014") == 0 ||   /* query_canceled (statement_timeout) */
	    strcmp(s, "57P01") == 0 ||   /* admin_shutdown */
	    strcmp(s, "57P02") == 0 ||   /* crash_shutdown */
	    strcmp(s, "57P03") == 0)     /* cannot_connect_now */
		return FO_EXIT_TRANSIENT;
	/* data exceptions and integrity constraint violations */
	if (strncmp(s, "22", 2) == 0 || strncmp(s, "23", 2) == 0)
		return FO_EXIT_BAD_INPUT;
	/* authentication, unknown database, missing privilege: configuration */
	if (strncmp(s, "28", 2) == 0 || strcmp(s, "3D000") == 0 || strcmp(s, "42501") == 0)
		return FO_EXIT_USAGE;
	return FO_EXIT_FAILURE;
}

/* Copies a libpq message without its trailing newline and "ERROR:  " noise. */
static void
clean_message(const char *in, char *out, size_t len)
{
	size_t n;

	snprintf(out, len, "%s", in ? in : "");
	n = strlen(out);
	while (n > 0 && (out[n - 1] == '\n' || out[n - 1] == ' '))
		out[--n] = '\0';
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

int
fo_pg_fail(PGconn *conn, const PGresult *res, const char *what, fo_err *err)
{
	char msg[1024];
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
	const char *hint = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_HINT) : NULL;
	int code;

	if (primary)
		clean_message(primary, msg, sizeof(msg));
	else
		clean_message(conn ? PQerrorMessage(conn) : "no connection", msg, sizeof(msg));
	if (!conn || PQstatus(conn) == CONNECTION_BAD)
		return fo_err_set(err, FO_EXIT_TRANSIENT, "%s: connection to the database lost: %s",
				  what, msg);
	code = fo_pg_sqlstate_class(state);
	return fo_err_set(err, code, "%s: %s%s%s%s%s%s%s%s", what, msg,
			  state ? " [SQLSTATE " : "", state ? state : "", state ? "]" : "",
			  detail ? "; detail: " : "", detail ? detail : "",
			  hint ? "; hint: " : "", hint ? hint : "");
}

static int
is_too_many_clients(const char *msg)
{
	return strstr(msg, "too many clients") || strstr(msg, "remaining connection slots") ||
	       strstr(msg, "too many connections");
}

/* Server notices go to our log, not raw to stderr where they break JSON lines. */
static void
notice_receiver(void *arg, const PGresult *res)
{
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *msg = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	enum fo_log_level level = FO_LOG_DEBUG;

	(void)arg;
	if (sev && strcmp(sev, "WARNING") == 0)
		level = FO_LOG_WARN;
	fo_logf(level, FO_FIELDS(FO_STR("severity", sev)), "server: %s", msg ? msg : "");
}

/*
 * libpq reads the numbers of a connection string only when it connects, and
 * a bad one then fails like an unreachable server, which would be retried:
 * check them first, in the DSN and in libpq's environment (PGPORT, ...).
 * Returns 0, or -1 with the option and its value in msg.
 */
static int
check_numbers(const char *dsn, char *msg, size_t len)
{
	static const char *const numeric[] = {
		"port", "connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
		"keepalives_count", "tcp_user_timeout", NULL,
	};
	PQconninfoOption *given = dsn ? PQconninfoParse(dsn, NULL) : NULL;
	PQconninfoOption *defaults = PQconndefaults();
	int rc = 0;

	for (int i = 0; numeric[i] && rc == 0; i++) {
		const char *v = NULL;

		for (PQconninfoOption *o = given; o && o->keyword && !v; o++)
			if (strcmp(o->keyword, numeric[i]) == 0)
				v = o->val;
		for (PQconninfoOption *o = defaults; o && o->keyword && !v; o++)
			if (strcmp(o->keyword, numeric[i]) == 0)
				v = o->val;
		if (!v || !*v)
			continue;
		/* a port list goes with a host list: each a number */
		for (const char *p = v; rc == 0;) {
			size_t n = strcspn(p, ",");
			long x = 0;

			for (size_t k = 0; k < n && rc == 0; k++)
				if (p[k] < '0' || p[k] > '9' || (x = x * 10 + (p[k] - '0')) > 2147483647L)
					rc = -1;
			if (rc == 0 && n == 0 && strcmp(numeric[i], "port") != 0)
				rc = -1;
			if (rc == 0 && strcmp(numeric[i], "port") == 0 && n > 0 && (x < 1 || x > 65535))
				rc = -1;
			if (p[n] != ',')
				break;
			p += n + 1;
		}
		if (rc < 0)
			snprintf(msg, len, "invalid connection option %s=\"%.40s\": %s", numeric[i], v,
				 strcmp(numeric[i], "port") == 0 ? "not a port number (1-65535)"
				 : "not a whole number");
	}
	PQconninfoFree(given);
	PQconninfoFree(defaults);
	return rc;
}

/* Whether a failed connection went to a Unix socket that does not exist. */
static int
no_default_socket(PGconn *conn)
{
	const char *host = PQhost(conn), *port = PQport(conn);
	char path[512];
	struct stat st;

	if (!host || host[0] != '/' || !port || !*port)
		return 0;
	snprintf(path, sizeof(path), "%s/.s.PGSQL.%s", host, port);
	return stat(path, &st) < 0;
}

int
fo_pg_connect(const struct fo_pg_connect_opts *opts, PGconn **out, fo_err *err)
{
	const char *keywords[] = {"connect_timeout", "client_encoding",
				  "fallback_application_name", "dbname", NULL};
	const char *values[5];
	char timeout[16];
	int attempts = opts->attempts > 0 ? opts->attempts : 5;
	int max_backoff = opts->max_backoff_ms > 0 ? opts->max_backoff_ms : 8000;
	char msg[1024] = "";

	*out = NULL;
	snprintf(timeout, sizeof(timeout), "%d",
		 opts->connect_timeout_s > 0 ? opts->connect_timeout_s : 10);
	/* Later entries win: the DSN may override timeout and encoding. */
	values[0] = timeout;
	values[1] = "UTF8";
	values[2] = opts->application_name;
	values[3] = opts->dsn;
	values[4] = NULL;

	if (check_numbers(opts->dsn, msg, sizeof(msg)) < 0)
		return fo_err_set(err, FO_EXIT_USAGE, "%s", msg);
	for (int attempt = 1; attempt <= attempts; attempt++) {
		PGconn *conn = PQconnectdbParams(keywords, values, 1);
		PGPing ping;
		int backoff;

		if (conn && PQstatus(conn) == CONNECTION_OK) {
			PQsetNoticeReceiver(conn, notice_receiver, NULL);
			*out = conn;
			return 0;
		}
		clean_message(conn ? PQerrorMessage(conn) : "out of memory", msg, sizeof(msg));
		if (opts->nothing_configured && conn && no_default_socket(conn)) {
			char where[512];

			snprintf(where, sizeof(where), "%s/.s.PGSQL.%s", PQhost(conn), PQport(conn));
			PQfinish(conn);
			return fo_err_set(err, FO_EXIT_USAGE, "no database given, and no PostgreSQL"
					  " server listens on the default socket %s: give --dsn"
					  " CONNINFO, or set FINOPS_DSN (or FINOPS_DSN_FILE), or VAULT_ADDR"
					  " with the DSN in Vault (FINOPS_VAULT_DB_PATH, default"
					  " finops/database), or libpq's PGHOST, PGDATABASE and PGUSER"
					  " (docs/secrets.md)", where);
		}
		PQfinish(conn);

		/*
		 * Ask whether the server is up at all: if it accepts connections,
		 * the failure is ours (password, database, pg_hba) and retrying
		 * will not help.
		 */
		ping = PQpingParams(keywords, values, 1);
		if (ping == PQPING_NO_ATTEMPT)
			return fo_err_set(err, FO_EXIT_USAGE, "invalid database connection settings: %s",
					  msg);
		if (ping == PQPING_OK && !is_too_many_clients(msg))
			return fo_err_set(err, FO_EXIT_USAGE, "cannot connect to the database: %s", msg);
		if (attempt == attempts || fo_stop_requested())
			break;
		backoff = fo_backoff_ms(attempt, 500, max_backoff);
		fo_logf(FO_LOG_WARN, FO_FIELDS(FO_INT("attempt", attempt), FO_INT("attempts", attempts),
					       FO_INT("retry_in_ms", backoff)),
			"database not available, will retry: %s", msg);
		fo_sleep_ms(backoff);
	}
	return fo_err_set(err, FO_EXIT_TRANSIENT, "database not available after %d attempts: %s",
			  attempts, msg);
}

int
fo_pg_connect_like(PGconn *conn, PGconn **out, fo_err *err)
{
	PQconninfoOption *opts = PQconninfo(conn), *o;
	const char **keywords = NULL, **values = NULL;
	size_t n = 0;
	char msg[1024];
	PGconn *c = NULL;

	*out = NULL;
	for (o = opts; o && o->keyword; o++)
		n++;
	if (opts) {
		keywords = calloc(n + 1, sizeof(*keywords));
		values = calloc(n + 1, sizeof(*values));
	}
	if (keywords && values) {
		n = 0;
		for (o = opts; o->keyword; o++) {
			if (!o->val)
				continue;
			keywords[n] = o->keyword;
			values[n++] = o->val;
		}
		c = PQconnectdbParams(keywords, values, 0);
	}
	free(keywords);
	free(values);
	/* the password, when there is one, is not left in freed memory */
	for (o = opts; o && o->keyword; o++)
		if (o->val && (o->dispchar[0] == '*' || strcmp(o->keyword, "password") == 0))
			memset(o->val, 0, strlen(o->val));
	PQconninfoFree(opts);
	if (c && PQstatus(c) == CONNECTION_OK) {
		PQsetNoticeReceiver(c, notice_receiver, NULL);
		*out = c;
		return 0;
	}
	clean_message(c ? PQerrorMessage(c) : "out of memory", msg, sizeof(msg));
	PQfinish(c);
	return fo_err_set(err, FO_EXIT_TRANSIENT, "cannot open another database connection: %s",
			  msg);
}

/* The first words of a statement, on one line, say what failed. */
static void
statement_label(const char *sql, char *out, size_t len)
{
	snprintf(out, len, "%.60s", sql);
	for (char *p = out; *p; p++)
		if (*p == '\n' || *p == '\t')
			*p = ' ';
}

/* 0 when res of sql succeeded; else -1 with err naming the statement, res cleared. */
static int
result_ok(PGconn *conn, const char *sql, PGresult *res, fo_err *err)
{
	ExecStatusType st = PQresultStatus(res);
	char what[80];

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return 0;
	statement_label(sql, what, sizeof(what));
	fo_pg_fail(conn, res, what, err);
	PQclear(res);
	return -1;
}

int
fo_pg_exec(PGconn *conn, const char *sql, fo_err *err)
{
	PGresult *res = PQexec(conn, sql);

	if (result_ok(conn, sql, res, err) < 0)
		return -1;
	PQclear(res);
	return 0;
}

int
fo_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
	    PGresult **out, fo_err *err)
{
	PGresult *res = PQexecParams(conn, sql, nparams, NULL, params, NULL, NULL, 0);

	if (out)
		*out = NULL;
	if (result_ok(conn, sql, res, err) < 0)
		return -1;
	if (out)
		*out = res;
	else
		PQclear(res);
	return 0;
}

void
fo_pg_text_array(fo_buf *b, const char *const *s, size_t n)
{
	fo_buf_putc(b, '{');
	for (size_t i = 0; i < n; i++) {
		fo_buf_puts(b, i ? ",\"" : "\"");
		for (const char *c = s[i]; *c; c++) {
			if (*c == '"' || *c == '\\')
				fo_buf_putc(b, '\\');
			fo_buf_putc(b, *c);
		}
		fo_buf_putc(b, '"');
	}
	fo_buf_putc(b, '}');
}

int
fo_pg_begin(PGconn *conn, fo_err *err)
{
	return fo_pg_exec(conn, "BEGIN", err);
}

static int
begin_writer(PGconn *conn, const char *begin, fo_err *err)
{
	if (fo_pg_exec(conn, begin, err) < 0)
		return -1;
	if (fo_pg_exec(conn, "DO $$ BEGIN IF pg_has_role(current_user, 'finops_writer', 'MEMBER')"
		       " THEN SET LOCAL ROLE finops_writer; END IF; END $$", err) < 0) {
		fo_pg_rollback(conn);
		return -1;
	}
	return 0;
}

int
fo_pg_begin_writer(PGconn *conn, fo_err *err)
{
	return begin_writer(conn, "BEGIN", err);
}

int
fo_pg_begin_writer_snapshot(PGconn *conn, fo_err *err)
{
	return begin_writer(conn, "BEGIN ISOLATION LEVEL REPEATABLE READ", err);
}

int
fo_pg_begin_snapshot_of(PGconn *conn, const char *snapshot, fo_err *err)
{
	char *lit = PQescapeLiteral(conn, snapshot, strlen(snapshot));
	fo_buf sql = FO_BUF_INIT;
	int rc;

	if (!lit)
		return fo_err_set(err, FO_EXIT_FAILURE, "out of memory");
	/* the snapshot is set before any query, the role's DO block included */
	fo_buf_printf(&sql, "BEGIN ISOLATION LEVEL REPEATABLE READ; SET TRANSACTION SNAPSHOT %s",
		      lit);
	PQfreemem(lit);
	rc = sql.oom ? fo_err_set(err, FO_EXIT_FAILURE, "out of memory")
		     : begin_writer(conn, sql.data, err);
	fo_buf_free(&sql);
	return rc;
}

int
fo_pg_commit(PGconn *conn, fo_err *err)
{
	PGresult *res = PQexec(conn, "COMMIT");

	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		fo_pg_fail(conn, res, "commit", err);
		PQclear(res);
		return -1;
	}
	/* COMMIT of a failed transaction "succeeds" as ROLLBACK. */
	if (strcmp(PQcmdStatus(res), "COMMIT") != 0) {
		PQclear(res);
		return fo_err_set(err, FO_EXIT_FAILURE,
				  "commit: the transaction had already failed and was rolled back");
	}
	PQclear(res);
	return 0;
}

void
fo_pg_rollback(PGconn *conn)
{
	PGTransactionStatusType ts;

	if (!conn || PQstatus(conn) != CONNECTION_OK)
		return;
	ts = PQtransactionStatus(conn);
	if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
		PQclear(PQexec(conn, "ROLLBACK"));
}

static void
lock_name(const char *job, const char *scope, char *out, size_t len)
{
	snprintf(out, len, "finops:%s:%s", job, scope ? scope : "");
}

/* Describes who holds the advisory lock of name, for the error message. */
static void
describe_holder(PGconn *conn, const char *name, char *out, size_t len)
{
	static const char sql[] =
		"SELECT l.pid, coalesce(a.usename, '?'), a.backend_start IS NOT NULL,"
		"       coalesce(nullif(a.application_name, ''), '?'),"
		"       coalesce(host(a.client_addr), 'local socket'),"
		"       to_char(a.backend_start AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
		"  FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid,"
		"       hashtextextended($1, 0) AS k"
		" WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
		"   AND l.classid = ((k >> 32) & 4294967295)::oid"
		"   AND l.objid = (k & 4294967295)::oid"
		"   AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
		" ORDER BY l.pid LIMIT 1";
	const char *params[] = {name};
	PGresult *res = NULL;

	snprintf(out, len, "holder unknown");
	if (fo_pg_query(conn, sql, 1, params, &res, NULL) < 0)
		return;
	/* another role's session shows only its pid and role, unless pg_read_all_stats */
	if (PQntuples(res) == 1 && PQgetvalue(res, 0, 2)[0] == 't')
		snprintf(out, len, "held by backend pid %s (role %s), application %s, from %s,"
			 " connected since %s", PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
			 PQgetvalue(res, 0, 3), PQgetvalue(res, 0, 4), PQgetvalue(res, 0, 5));
	else if (PQntuples(res) == 1)
		snprintf(out, len, "held by backend pid %s (role %s; its application and start are"
			 " not visible to this role: grant it pg_read_all_stats to see them)",
			 PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1));
	PQclear(res);
}

static int
lock_mode(PGconn *conn, const char *job, const char *scope, int wait_s, int shared, fo_err *err)
{
	char name[512], holder[512];
	const char *params[] = {name};
	struct timespec start, now;
	long long waited_ms;
	int logged = 0;

	lock_name(job, scope, name, sizeof(name));
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		PGresult *res;
		int got;

		if (fo_pg_query(conn, shared ? "SELECT pg_try_advisory_lock_shared("
				"hashtextextended($1, 0))"
				: "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
				1, params, &res, err) < 0)
			return fo_err_prefix(err, "lock %s: ", name);
		got = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
		PQclear(res);
		if (got)
			return 0;

		clock_gettime(CLOCK_MONOTONIC, &now);
		waited_ms = (now.tv_sec - start.tv_sec) * 1000LL +
			    (now.tv_nsec - start.tv_nsec) / 1000000;
		if (wait_s == 0 || (wait_s > 0 && waited_ms >= wait_s * 1000LL) ||
		    fo_stop_requested())
			break;
		if (!logged) {
			describe_holder(conn, name, holder, sizeof(holder));
			fo_logf(FO_LOG_INFO, FO_FIELDS(FO_STR("lock", name), FO_INT("wait_s", wait_s)),
				"another run holds the lock (%s); waiting", holder);
			logged = 1;
		}
		fo_sleep_ms(500);
	}
	describe_holder(conn, name, holder, sizeof(holder));
	return fo_err_set(err, FO_EXIT_TRANSIENT,
			  "another %s run is working on scope '%s' (lock %s %s)%s", job,
			  scope ? scope : "", name, holder,
			  wait_s == 0 ? "; use --lock-wait SECONDS to wait for it" : "");
}

int
fo_pg_lock(PGconn *conn, const char *job, const char *scope, int wait_s, fo_err *err)
{
	return lock_mode(conn, job, scope, wait_s, 0, err);
}

int
fo_pg_lock_shared(PGconn *conn, const char *job, const char *scope, int wait_s, fo_err *err)
{
	return lock_mode(conn, job, scope, wait_s, 1, err);
}

int
fo_pg_unlock(PGconn *conn, const char *job, const char *scope, fo_err *err)
{
	char name[512];
	const char *params[] = {name};

	lock_name(job, scope, name, sizeof(name));
	return fo_pg_query(conn, "SELECT pg_advisory_unlock(hashtextextended($1, 0))", 1, params,
			   NULL, err);
}

void
fo_pg_disconnect(PGconn *conn)
{
	if (!conn)
		return;
	/*
	 * The server ends a session a moment after the client leaves: a run
	 * started right after this one (cron, a retry, an operator) must not
	 * find this one's advisory locks still held.
	 */
	if (PQstatus(conn) == CONNECTION_OK) {
		fo_pg_rollback(conn);
		PQclear(PQexec(conn, "SELECT pg_advisory_unlock_all()"));
	}
	PQfinish(conn);
}

int
fo_pg_client_version(void)
{
	return PQlibVersion();
}

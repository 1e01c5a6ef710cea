/*
 * pg.h: PostgreSQL connections, statements, transactions and advisory locks.
 *
 * Every failure is classified into an exit code (exit.h): connection loss,
 * server shutdown, serialization failures and lack of resources are
 * transient (4); data exceptions and constraint violations are bad input (3);
 * authentication and configuration failures are usage errors (2).
 */
#ifndef FINOPS_PG_H
#define FINOPS_PG_H

#include <libpq-fe.h>

#include "finops/error.h"

struct fo_pg_connect_opts {
	const char *dsn;               /* conninfo or URI; NULL: libpq's PG* environment */
	const char *application_name;  /* fallback_application_name; PGAPPNAME or the DSN win */
	int attempts;                  /* tries in all for transient failures; 0: 5 */
	int connect_timeout_s;         /* per try unless the DSN says otherwise; 0: 10 */
	int max_backoff_ms;            /* cap of the exponential backoff; 0: 8000 */
	/*
	 * Nothing named a database (no DSN, no PGHOST, PGHOSTADDR or PGSERVICE):
	 * when libpq's default socket does not exist, fail at once with how to
	 * give one (FO_EXIT_USAGE) instead of retrying a server that is not there.
	 */
	int nothing_configured;
};

/*
 * Opens a connection, retrying transient failures (server not up yet, in
 * recovery, too many clients, network) with capped exponential backoff.
 * Authentication and conninfo errors fail at once with FO_EXIT_USAGE; after
 * the last try a transient failure gives FO_EXIT_TRANSIENT. The message never
 * contains the password. On success *out is owned by the caller (PQfinish).
 */
int fo_pg_connect(const struct fo_pg_connect_opts *opts, PGconn **out, fo_err *err);

/*
 * Another connection with the settings conn was opened with (PQconninfo:
 * host, database, user, password, SSL...), for work done on several
 * connections at once. One attempt: FO_EXIT_TRANSIENT when it fails (the
 * server's max_connections, say), so the caller can do with fewer.
 */
int fo_pg_connect_like(PGconn *conn, PGconn **out, fo_err *err);

/*
 * Writes a conninfo string or postgresql:// URI to out for logs, the process
 * title and job_runs.arguments, judged by what libpq parses (PQconninfoParse),
 * never by spelling: without a secret option (libpq marks password and
 * sslpassword) it is written as given; with one, rebuilt as keyword=value
 * pairs with the secrets as "[REDACTED]" (a percent-encoded "%70assword" in
 * a URI is a password too); one libpq cannot parse is replaced whole.
 */
void fo_pg_redact_conninfo(const char *conninfo, char *out, size_t outlen);

/*
 * Registers the secrets of a conninfo with the log's redaction: the values
 * of its secret options and, when it has any or libpq cannot parse it (libpq
 * then echoes it whole in its error), the whole string. Returns 0, or -1 when
 * the log's table of secrets is full.
 */
int fo_pg_protect_conninfo(const char *conninfo);

/* The exit-code class of a SQLSTATE (NULL or unknown: FO_EXIT_FAILURE). */
int fo_pg_sqlstate_class(const char *sqlstate);

/*
 * Fills err from a failed result (or, when res is NULL, from the connection),
 * prefixed by what ("insert into job_runs"), with the server's detail and
 * hint, and returns -1. A lost connection is always FO_EXIT_TRANSIENT.
 */
int fo_pg_fail(PGconn *conn, const PGresult *res, const char *what, fo_err *err);

/* Runs one or more SQL commands that return no rows. */
int fo_pg_exec(PGconn *conn, const char *sql, fo_err *err);

/*
 * Runs one statement with text parameters. On success, when out is not NULL,
 * *out is the result, owned by the caller (PQclear); otherwise it is cleared.
 */
int fo_pg_query(PGconn *conn, const char *sql, int nparams, const char *const *params,
		PGresult **out, fo_err *err);

/*
 * Appends a PostgreSQL array literal of the strings ({"a","b\"c"}) to b, for a
 * text[] parameter: one statement for a list of any length.
 */
struct fo_buf;
void fo_pg_text_array(struct fo_buf *b, const char *const *s, size_t n);

int fo_pg_begin(PGconn *conn, fo_err *err);

/*
 * Begins a transaction that writes as finops_writer when the login role is
 * a member (SET LOCAL ROLE), so the tables and partitions it creates belong
 * to the role every job shares. Rolls back on failure.
 */
int fo_pg_begin_writer(PGconn *conn, fo_err *err);
/*
 * As fo_pg_begin_writer, REPEATABLE READ: every statement sees one snapshot,
 * so what a run reads and what it records as read are the same data.
 */
int fo_pg_begin_writer_snapshot(PGconn *conn, fo_err *err);
/*
 * As fo_pg_begin_writer_snapshot, seeing the snapshot another session's
 * transaction exported (pg_export_snapshot()), so that several connections
 * read the same data; that transaction must still be open.
 */
int fo_pg_begin_snapshot_of(PGconn *conn, const char *snapshot, fo_err *err);
int fo_pg_commit(PGconn *conn, fo_err *err);
/* Rolls back if a transaction is open; safe to call on a failed connection. */
void fo_pg_rollback(PGconn *conn);

/*
 * Takes the session-level advisory lock of (job, scope), so that two runs of
 * one job on one scope never overlap. With wait_s == 0 a held lock fails at
 * once; otherwise it is retried until wait_s seconds have passed (wait_s < 0:
 * forever). A lock still held by another session gives FO_EXIT_TRANSIENT and
 * a message naming the holder's backend pid and application. The lock lasts
 * until fo_pg_unlock() or the end of the session.
 */
int fo_pg_lock(PGconn *conn, const char *job, const char *scope, int wait_s, fo_err *err);
/*
 * As fo_pg_lock, in shared mode: any number of sessions hold it together,
 * and it keeps out (and is kept out by) one holding it with fo_pg_lock. A
 * session holding it shared may take it exclusively when no other holds it.
 */
int fo_pg_lock_shared(PGconn *conn, const char *job, const char *scope, int wait_s,
		      fo_err *err);
int fo_pg_unlock(PGconn *conn, const char *job, const char *scope, fo_err *err);

/*
 * Ends a session: rolls back what is open, releases its advisory locks
 * (so that a run right after this one finds them free), disconnects.
 * conn may be NULL.
 */
void fo_pg_disconnect(PGconn *conn);

/* libpq's version (PQlibVersion: major * 10000 + minor). */
int fo_pg_client_version(void);

#endif

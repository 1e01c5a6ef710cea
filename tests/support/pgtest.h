/*
 * pgtest.h: helpers for integration tests against the throwaway cluster
 * that the ctest fixture starts (PGHOST etc. in the environment).
 */
#ifndef FINOPS_PGTEST_H
#define FINOPS_PGTEST_H

#include <libpq-fe.h>

/* Drops and creates database name, returns a connection to it (asserts). */
PGconn *pgtest_fresh_db(const char *name);

/* Connects to database name (asserts). */
PGconn *pgtest_connect(const char *name);

/* Runs sql and asserts it succeeded. */
void pgtest_exec(PGconn *conn, const char *sql);

/* Runs a one-value query; returns a copy owned by a static ring (no free). */
const char *pgtest_value(PGconn *conn, const char *sql);

/* Seconds on the monotonic clock, for timing assertions. */
double pgtest_now_s(void);

#endif

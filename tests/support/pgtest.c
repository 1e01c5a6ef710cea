/*
 * pgtest.c: helpers for integration tests (see pgtest.h).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "pgtest.h"

PGconn *
pgtest_connect(const char *name)
{
	const char *kw[] = {"dbname", "fallback_application_name", NULL};
	const char *val[] = {name, "finops_test", NULL};
	PGconn *conn = PQconnectdbParams(kw, val, 0);

	if (PQstatus(conn) != CONNECTION_OK)
		fail_msg("cannot connect to %s: %s", name, PQerrorMessage(conn));
	return conn;
}

void
pgtest_exec(PGconn *conn, const char *sql)
{
	PGresult *res = PQexec(conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
	PQclear(res);
}

const char *
pgtest_value(PGconn *conn, const char *sql)
{
	static char ring[8][4096];
	static int next;
	PGresult *res = PQexec(conn, sql);
	char *out = ring[next++ % 8];

	if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
		fail_msg("%s: %s", sql, PQerrorMessage(conn));
	snprintf(out, sizeof(ring[0]), "%s",
		 PQgetisnull(res, 0, 0) ? "<NULL>" : PQgetvalue(res, 0, 0));
	PQclear(res);
	return out;
}

PGconn *
pgtest_fresh_db(const char *name)
{
	PGconn *admin = pgtest_connect("postgres");
	char sql[256];

	snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s WITH (FORCE)", name);
	pgtest_exec(admin, sql);
	snprintf(sql, sizeof(sql), "CREATE DATABASE %s", name);
	pgtest_exec(admin, sql);
	PQfinish(admin);
	return pgtest_connect(name);
}

double
pgtest_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

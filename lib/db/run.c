/*
 * run.c: a run's locks and its job_runs row (see run.h).
 */
#include <stdio.h>

#include "finops/jobrun.h"
#include "finops/pg.h"
#include "finops/run.h"

int
fo_run_lock(struct fo_run *run, const char *scope, fo_err *err)
{
	snprintf(run->scope, sizeof(run->scope), "%s", scope);
	if (fo_pg_lock(run->conn, run->name, scope, run->lock_wait_s, err) < 0)
		return -1;
	if (run->run_id && fo_jobrun_set_scope(run->conn, run->run_id, scope, err) < 0)
		return -1;
	return 0;
}

int
fo_run_record(struct fo_run *run, fo_err *err)
{
	PGresult *res;
	int exists;

	if (run->run_id || !run->conn || PQstatus(run->conn) != CONNECTION_OK)
		return 0;
	fo_pg_rollback(run->conn);
	if (fo_pg_query(run->conn, "SELECT to_regclass('finops.job_runs') IS NOT NULL", 0, NULL,
			&res, err) < 0)
		return -1;
	exists = PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	if (!exists)
		return 0;
	return fo_jobrun_start_late(run->conn, run->name, run->argc, run->argv, run->dry_run,
				    run->elapsed_s(), &run->run_id, err);
}

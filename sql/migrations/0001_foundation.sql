-- 0001_foundation: the finops schema, its two roles, and job_runs.
--
-- Applied by finops_migrate inside one transaction; never edit it once
-- released: put changes in a new migration.

CREATE SCHEMA IF NOT EXISTS finops;
COMMENT ON SCHEMA finops IS 'FinOps pipeline: billing, usage, catalog, recommendations, forecasts.';

-- Group roles (NOLOGIN). Grant them to login roles:
--   CREATE ROLE airflow_finops LOGIN PASSWORD '...' IN ROLE finops_writer;
--   CREATE ROLE grafana LOGIN PASSWORD '...' IN ROLE finops_reader;
-- Roles belong to the whole cluster, so a second database on the same
-- cluster finds them already there.
DO $$
BEGIN
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finops_writer') THEN
		CREATE ROLE finops_writer NOLOGIN;
	END IF;
	IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'finops_reader') THEN
		CREATE ROLE finops_reader NOLOGIN;
	END IF;
END
$$;
COMMENT ON ROLE finops_writer IS 'finops pipeline jobs: read and write the finops schema';
COMMENT ON ROLE finops_reader IS 'dashboards and the API: read-only access to the finops schema';

GRANT USAGE ON SCHEMA finops TO finops_writer, finops_reader;
-- The writer creates and swaps partitions of the tables it loads.
GRANT CREATE ON SCHEMA finops TO finops_writer;

-- Whatever the migrating role creates later in this schema gets the same grants.
ALTER DEFAULT PRIVILEGES IN SCHEMA finops
	GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO finops_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA finops
	GRANT USAGE, SELECT ON SEQUENCES TO finops_writer;
ALTER DEFAULT PRIVILEGES IN SCHEMA finops
	GRANT SELECT ON TABLES TO finops_reader;

GRANT SELECT ON finops.schema_migrations TO finops_reader, finops_writer;

-- One row a run of any finops binary.
CREATE TABLE finops.job_runs (
	run_id        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	job           text NOT NULL,
	scope         text,
	arguments     text[] NOT NULL DEFAULT '{}',
	status        text NOT NULL DEFAULT 'running'
	              CHECK (status IN ('running', 'succeeded', 'nothing_new', 'failed', 'abandoned')),
	exit_code     integer,
	dry_run       boolean NOT NULL DEFAULT false,
	started_at    timestamptz NOT NULL DEFAULT clock_timestamp(),
	finished_at   timestamptz,
	rows_read     bigint,
	rows_written  bigint,
	error_message text,
	details       jsonb NOT NULL DEFAULT '{}',
	host          text,
	os_pid        integer,
	version       text,
	backend_pid   integer,
	backend_start timestamptz,
	CHECK ((status = 'running') = (finished_at IS NULL))
);
COMMENT ON TABLE finops.job_runs IS
	'One row a run of a finops binary: what ran, on what scope, how it ended and why.';
COMMENT ON COLUMN finops.job_runs.scope IS
	'What the run worked on (billing period, region, window); the advisory lock key.';
COMMENT ON COLUMN finops.job_runs.arguments IS 'Command line, passwords redacted.';
COMMENT ON COLUMN finops.job_runs.status IS
	'running, succeeded (exit 0), nothing_new (exit 99), failed, or abandoned (the process'
	' ended without recording a result).';
COMMENT ON COLUMN finops.job_runs.details IS 'Job-specific figures (totals per currency, files).';
COMMENT ON COLUMN finops.job_runs.backend_pid IS
	'Database session of the run; a running row whose session is gone is abandoned.';

CREATE INDEX job_runs_job_started_idx ON finops.job_runs (job, started_at DESC);
CREATE INDEX job_runs_running_idx ON finops.job_runs (job) WHERE status = 'running';

-- The latest run of each job and scope, for dashboards and operators.
CREATE VIEW finops.job_runs_latest AS
SELECT DISTINCT ON (job, coalesce(scope, ''))
       run_id, job, scope, status, exit_code, started_at, finished_at,
       finished_at - started_at AS duration, rows_read, rows_written, error_message
  FROM finops.job_runs
 ORDER BY job, coalesce(scope, ''), started_at DESC, run_id DESC;
COMMENT ON VIEW finops.job_runs_latest IS 'The latest run of each job and scope.';

GRANT SELECT ON finops.job_runs, finops.job_runs_latest TO finops_reader;
GRANT SELECT, INSERT, UPDATE ON finops.job_runs TO finops_writer;
GRANT SELECT ON finops.job_runs_latest TO finops_writer;

-- 0006_rightsizing: what rightsizing_calc finds, run by run.

-- One row per run; the newest finished run is the current set.
CREATE TABLE finops.rightsizing_runs (
	run_id           bigint PRIMARY KEY,          -- finops.job_runs.run_id
	window_start     timestamptz NOT NULL,
	window_end       timestamptz NOT NULL,
	parameters       jsonb NOT NULL,
	instances        integer NOT NULL,
	monthly_saving_list      numeric NOT NULL,
	monthly_saving_effective numeric NOT NULL,
	created_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE finops.rightsizing_recommendations (
	run_id           bigint NOT NULL REFERENCES finops.rightsizing_runs ON DELETE CASCADE,
	instance_id      text NOT NULL,
	account_id       text,
	region           text,
	operating_system text,
	tenancy          text,
	current_type     text,
	recommended_type text,                        -- NULL for idle (stop it) and no change
	finding          text NOT NULL CHECK (finding IN ('idle', 'over_provisioned',
	                 'under_provisioned', 'optimized', 'insufficient_data')),
	hours            integer NOT NULL,            -- hours of metrics in the window
	cpu_statistic    text NOT NULL,               -- p99.5, p95, p90 or max of hourly maxima
	cpu_percent      double precision,
	cpu_demand_vcpu  double precision,
	memory_peak_gib  double precision,            -- NULL: memory not measured
	idle_days        integer NOT NULL DEFAULT 0,
	current_hourly_price     numeric,             -- on-demand list price
	recommended_hourly_price numeric,
	effective_hourly_rate    numeric,             -- from the billing table
	monthly_saving_list      numeric NOT NULL DEFAULT 0,   -- negative: added cost
	monthly_saving_effective numeric NOT NULL DEFAULT 0,
	reason           text NOT NULL,
	PRIMARY KEY (run_id, instance_id)
);
CREATE INDEX rightsizing_recommendations_instance
	ON finops.rightsizing_recommendations (instance_id, run_id);

-- The current recommendations: those of the newest run.
CREATE VIEW finops.rightsizing_current AS
SELECT r.*
  FROM finops.rightsizing_recommendations r
 WHERE r.run_id = (SELECT max(run_id) FROM finops.rightsizing_runs);

-- Savings applied: an instance that later ran as the type recommended to it.
CREATE VIEW finops.rightsizing_applied AS
SELECT DISTINCT ON (r.instance_id, r.run_id) r.run_id, r.instance_id, r.current_type,
       r.recommended_type, r.monthly_saving_list, r.monthly_saving_effective,
       min(b.charge_period_start) OVER (PARTITION BY r.instance_id, r.run_id) AS applied_from
  FROM finops.rightsizing_recommendations r
  JOIN finops.rightsizing_runs run USING (run_id)
  JOIN finops.billing_line_items b
    ON b.resource_id = r.instance_id AND b.instance_type = r.recommended_type
   AND b.charge_period_start >= run.created_at
 WHERE r.finding IN ('over_provisioned', 'under_provisioned');

GRANT SELECT ON finops.rightsizing_runs, finops.rightsizing_recommendations,
	finops.rightsizing_current, finops.rightsizing_applied TO finops_reader, finops_writer;
GRANT INSERT, UPDATE, DELETE ON finops.rightsizing_runs, finops.rightsizing_recommendations
	TO finops_writer;

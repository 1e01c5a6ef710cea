-- 0010_forecast_series_cutoff: each series is trained up to its own last
-- closed day, that of the billing sources that feed it, never the newest day
-- of another source: a day one source has not delivered yet is not a day of
-- zero cost. forecast_runs.cutoff_day is now the newest of its series'
-- cut-offs, and the cut-off in days is recorded with each run.

-- Per series (as forecast_train names them) and currency: the last day of
-- data of the sources that feed it, the earliest of them when several do (a
-- total of two sources is complete where both are). A source whose data
-- stopped more than 31 days before the series' newest source has ended and
-- does not hold the series back.
CREATE VIEW finops.forecast_series_last_day AS
WITH by_source AS (
	SELECT billing_currency AS currency, billing_account_id, sub_account_id, service_name,
	       source_id, max((charge_period_start AT TIME ZONE 'UTC')::date) AS last_day
	  FROM finops.billing_line_items
	 GROUP BY 1, 2, 3, 4, 5
),
src AS (
	SELECT source_id, max(last_day) AS last_day FROM by_source GROUP BY 1
),
feeds AS (
	SELECT 'total' AS series_key, currency, source_id FROM by_source
	UNION
	SELECT 'billing_account=' || billing_account_id, currency, source_id FROM by_source
	UNION
	SELECT 'sub_account_service=' || coalesce(sub_account_id, '') || '/'
	       || coalesce(service_name, ''), currency, source_id FROM by_source
),
fed AS (
	SELECT f.series_key, f.currency, s.last_day,
	       max(s.last_day) OVER (PARTITION BY f.series_key, f.currency) AS newest
	  FROM feeds f JOIN src s USING (source_id)
)
SELECT series_key, currency, min(last_day) AS last_day
  FROM fed
 WHERE last_day >= newest - 31
 GROUP BY 1, 2;

ALTER TABLE finops.forecast_runs ADD COLUMN cutoff_days integer NOT NULL DEFAULT 2;
ALTER TABLE finops.forecast_models ADD COLUMN cutoff_day date;
COMMENT ON COLUMN finops.forecast_models.cutoff_day IS
	'The last closed day this series was trained on; its forecasts start the day after.'
	' NULL for runs before migration 0010: the run''s cutoff_day.';

-- A forecast day has its actual once it is a closed day of its series now:
-- the series' last day of data less the run's cut-off.
CREATE OR REPLACE VIEW finops.forecast_errors AS
WITH actual AS (
	SELECT 'total' AS series_key, currency, day, sum(cost) AS cost
	  FROM finops.forecast_actuals GROUP BY 2, 3
	UNION ALL
	SELECT 'billing_account=' || billing_account_id, currency, day, sum(cost)
	  FROM finops.forecast_actuals GROUP BY 1, 2, 3
	UNION ALL
	SELECT 'sub_account_service=' || coalesce(sub_account_id, '') || '/'
	       || coalesce(service_name, ''), currency, day, sum(cost)
	  FROM finops.forecast_actuals GROUP BY 1, 2, 3
)
SELECT v.run_id, v.series_key, v.currency, v.day,
       v.day - coalesce(m.cutoff_day, r.cutoff_day) AS horizon_days,
       a.cost AS actual, v.point, v.model,
       abs(a.cost - v.point) AS abs_error,
       CASE WHEN a.cost <> 0 THEN abs(a.cost - v.point) / abs(a.cost) END AS ape,
       abs(a.cost - v.point) / nullif(m.mase_scale, 0) AS scaled_error,
       a.cost BETWEEN v.lo80 AND v.hi80 AS in80, a.cost BETWEEN v.lo95 AND v.hi95 AS in95
  FROM finops.forecast_values v
  JOIN finops.forecast_runs r USING (run_id)
  JOIN finops.forecast_models m USING (run_id, series_key, currency)
  JOIN finops.forecast_series_last_day l USING (series_key, currency)
  JOIN actual a USING (series_key, currency, day)
 WHERE v.day <= l.last_day - r.cutoff_days;

-- Drift: per series, over its last 30 days with actuals.
CREATE OR REPLACE VIEW finops.forecast_drift AS
WITH window_errors AS (
	SELECT DISTINCT ON (e.series_key, e.currency, e.day) e.*
	  FROM (SELECT e.*, max(e.day) OVER (PARTITION BY e.series_key, e.currency) AS newest
	          FROM finops.forecast_errors e) e
	 WHERE e.day > e.newest - 30
	 ORDER BY e.series_key, e.currency, e.day, e.run_id DESC
)
SELECT series_key, currency, count(*) AS days, sum(actual) AS actual, sum(point) AS forecast,
       abs(sum(actual) - sum(point)) / nullif(abs(sum(actual)), 0) * 100 AS ape_percent
  FROM window_errors
 GROUP BY 1, 2;

GRANT SELECT ON finops.forecast_series_last_day TO finops_reader, finops_writer;

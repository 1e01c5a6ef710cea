-- 0007_forecasts: daily cost forecasts (forecast_train), their models, and
-- their accuracy as actuals arrive.

CREATE TABLE finops.forecast_runs (
	run_id           bigint PRIMARY KEY,          -- finops.job_runs.run_id
	cutoff_day       date NOT NULL,               -- the last closed day trained on
	horizon_end      date NOT NULL,               -- the last day forecast
	dimensions       text[] NOT NULL,
	retrained_only_drifted boolean NOT NULL DEFAULT false,
	series           integer NOT NULL DEFAULT 0,
	created_at       timestamptz NOT NULL DEFAULT now()
);

-- One model per series (a dimension value set and a currency) and run.
CREATE TABLE finops.forecast_models (
	run_id           bigint NOT NULL REFERENCES finops.forecast_runs ON DELETE CASCADE,
	series_key       text NOT NULL,               -- "total", "billing_account=1234", ...
	dimension        text NOT NULL,               -- total, billing_account, sub_account_service
	currency         text NOT NULL,
	model            text NOT NULL,
	parameters       jsonb NOT NULL DEFAULT '{}',
	backtest_mase    double precision,            -- NULL: too short to backtest
	backtest_smape   double precision,
	mase_scale       double precision,            -- mean |y(t) - y(t-7)| of the history
	history_days     integer NOT NULL,
	trained_at       timestamptz NOT NULL DEFAULT now(),
	PRIMARY KEY (run_id, series_key, currency)
);

CREATE TABLE finops.forecast_values (
	run_id           bigint NOT NULL,
	series_key       text NOT NULL,
	currency         text NOT NULL,
	day              date NOT NULL,
	point            numeric NOT NULL,
	lo80             numeric NOT NULL,
	hi80             numeric NOT NULL,
	lo95             numeric NOT NULL,
	hi95             numeric NOT NULL,
	model            text NOT NULL,
	PRIMARY KEY (run_id, series_key, currency, day),
	FOREIGN KEY (run_id, series_key, currency) REFERENCES finops.forecast_models ON DELETE CASCADE
);

-- This month and the next: actual to date plus forecast to the month's end.
CREATE TABLE finops.forecast_months (
	run_id           bigint NOT NULL,
	series_key       text NOT NULL,
	currency         text NOT NULL,
	month            date NOT NULL,
	actual_to_date   numeric NOT NULL,
	forecast_rest    numeric NOT NULL,
	point            numeric NOT NULL,            -- actual_to_date + forecast_rest
	lo80             numeric NOT NULL,
	hi80             numeric NOT NULL,
	lo95             numeric NOT NULL,
	hi95             numeric NOT NULL,
	PRIMARY KEY (run_id, series_key, currency, month),
	FOREIGN KEY (run_id, series_key, currency) REFERENCES finops.forecast_models ON DELETE CASCADE
);

-- The daily effective cost the series are built from, per currency.
CREATE VIEW finops.forecast_actuals AS
SELECT (charge_period_start AT TIME ZONE 'UTC')::date AS day, billing_currency AS currency,
       billing_account_id, sub_account_id, service_name, sum(effective_cost) AS cost
  FROM finops.billing_line_items
 GROUP BY 1, 2, 3, 4, 5;

-- The newest forecast of each series (a run may retrain only some).
CREATE VIEW finops.forecast_current AS
SELECT v.*
  FROM finops.forecast_values v
  JOIN (SELECT DISTINCT ON (series_key, currency) series_key, currency, run_id
          FROM finops.forecast_models ORDER BY series_key, currency, run_id DESC) latest
 USING (run_id, series_key, currency);

-- Every forecast day whose actual has arrived, with its error.
CREATE VIEW finops.forecast_errors AS
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
SELECT v.run_id, v.series_key, v.currency, v.day, v.day - r.cutoff_day AS horizon_days,
       a.cost AS actual, v.point, v.model,
       abs(a.cost - v.point) AS abs_error,
       CASE WHEN a.cost <> 0 THEN abs(a.cost - v.point) / abs(a.cost) END AS ape,
       abs(a.cost - v.point) / nullif(m.mase_scale, 0) AS scaled_error,
       a.cost BETWEEN v.lo80 AND v.hi80 AS in80, a.cost BETWEEN v.lo95 AND v.hi95 AS in95
  FROM finops.forecast_values v
  JOIN finops.forecast_runs r USING (run_id)
  JOIN finops.forecast_models m USING (run_id, series_key, currency)
  JOIN actual a USING (series_key, currency, day)
 WHERE v.day <= (SELECT max(cutoff_day) FROM finops.forecast_runs);

-- What the Forecast Accuracy dashboard reads: by series and horizon.
CREATE VIEW finops.forecast_accuracy AS
SELECT series_key, currency, horizon_days, count(*) AS forecasts,
       avg(ape) * 100 AS mape, avg(scaled_error) AS mase,
       avg(in80::int) AS coverage80, avg(in95::int) AS coverage95
  FROM finops.forecast_errors
 GROUP BY 1, 2, 3;

-- Drift: per series, the absolute percentage error of the newest forecast
-- of the last 30 closed days (their sum against the actual sum).
CREATE VIEW finops.forecast_drift AS
WITH latest AS (SELECT max(cutoff_day) AS cutoff FROM finops.forecast_runs),
window_errors AS (
	SELECT DISTINCT ON (e.series_key, e.currency, e.day) e.*
	  FROM finops.forecast_errors e, latest
	 WHERE e.day > latest.cutoff - 30
	 ORDER BY e.series_key, e.currency, e.day, e.run_id DESC
)
SELECT series_key, currency, count(*) AS days, sum(actual) AS actual, sum(point) AS forecast,
       abs(sum(actual) - sum(point)) / nullif(abs(sum(actual)), 0) * 100 AS ape_percent
  FROM window_errors
 GROUP BY 1, 2;

GRANT SELECT ON finops.forecast_runs, finops.forecast_models, finops.forecast_values,
	finops.forecast_months, finops.forecast_actuals, finops.forecast_current,
	finops.forecast_errors, finops.forecast_accuracy, finops.forecast_drift
	TO finops_reader, finops_writer;
GRANT INSERT, UPDATE, DELETE ON finops.forecast_runs, finops.forecast_models,
	finops.forecast_values, finops.forecast_months TO finops_writer;

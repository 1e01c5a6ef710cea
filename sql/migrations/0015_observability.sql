-- 0015_observability: what dashboards and Prometheus read, fast at tens of
-- millions of line items.
--
-- finops.billing_daily holds the daily totals of every (source, period),
-- summed by billing_ingest as the rows stream by and written in the same
-- transaction as the partition swap, so that it always equals the line items
-- it sums (a load is all of a period or none, and so is its aggregate).
-- finops.billing_daily_tags holds the same days by tag key and value: tags
-- with string values, and of a (source, period) only the keys with at most
-- 20,000 (day, value) pairs (a name or an id on every resource is not an
-- allocation key). The finops.kpi_* views are what
-- Debian's prometheus-postgres-exporter exports (deploy/postgres_exporter),
-- each a bounded set of rows: accounts, currencies, budgets, sources,
-- never a value of the data itself.

CREATE TABLE finops.billing_daily (
	billing_period      date NOT NULL,
	source_id           integer NOT NULL,
	usage_date          date NOT NULL,       -- the charge's first day (UTC)
	last_day            date NOT NULL,       -- its last day: usage_date but for multi-day charges
	billing_account_id  text NOT NULL,
	sub_account_id      text,
	service_name        text,
	region_id           text,
	charge_category     text NOT NULL,
	billing_currency    text NOT NULL,
	line_items          bigint NOT NULL,
	billed_cost         numeric NOT NULL,
	effective_cost      numeric NOT NULL,
	list_cost           numeric
);
CREATE INDEX billing_daily_load ON finops.billing_daily (source_id, billing_period);
CREATE INDEX billing_daily_day ON finops.billing_daily (usage_date);
COMMENT ON TABLE finops.billing_daily IS
	'Daily totals of billing_line_items by account, sub account, service, region, charge category'
	' and currency; replaced with each (source, period) in the load''s transaction.';

CREATE TABLE finops.billing_daily_tags (
	billing_period      date NOT NULL,
	source_id           integer NOT NULL,
	usage_date          date NOT NULL,
	billing_account_id  text NOT NULL,
	billing_currency    text NOT NULL,
	tag_key             text NOT NULL,
	tag_value           text NOT NULL,
	line_items          bigint NOT NULL,
	billed_cost         numeric NOT NULL,
	effective_cost      numeric NOT NULL
);
CREATE INDEX billing_daily_tags_load ON finops.billing_daily_tags (source_id, billing_period);
CREATE INDEX billing_daily_tags_key ON finops.billing_daily_tags (tag_key, usage_date);
COMMENT ON TABLE finops.billing_daily_tags IS
	'Daily totals of billing_line_items by tag (key and string value) and currency; a line item'
	' without a key is in none of its rows; keys with more than 20,000 (day, value) pairs in a'
	' (source, period) are left out. Replaced with each (source, period).';

-- What is loaded already.
INSERT INTO finops.billing_daily
SELECT billing_period, source_id, (charge_period_start AT TIME ZONE 'UTC')::date,
       CASE WHEN charge_period_end > charge_period_start + interval '1 day'
            THEN ((charge_period_end - interval '1 microsecond') AT TIME ZONE 'UTC')::date
            ELSE (charge_period_start AT TIME ZONE 'UTC')::date END,
       billing_account_id, sub_account_id, service_name, region_id, charge_category,
       billing_currency, count(*), sum(billed_cost), sum(effective_cost), sum(list_cost)
  FROM finops.billing_line_items
 GROUP BY 1, 2, 3, 4, 5, 6, 7, 8, 9, 10;
INSERT INTO finops.billing_daily_tags
SELECT billing_period, source_id, usage_date, billing_account_id, billing_currency, tag_key,
       tag_value, line_items, billed_cost, effective_cost
  FROM (SELECT billing_period, source_id, (charge_period_start AT TIME ZONE 'UTC')::date
                 AS usage_date, billing_account_id, billing_currency, t.key AS tag_key,
               t.value #>> '{}' AS tag_value, count(*) AS line_items,
               sum(billed_cost) AS billed_cost, sum(effective_cost) AS effective_cost,
               count(*) OVER (PARTITION BY billing_period, source_id, t.key) AS pairs
          FROM finops.billing_line_items, jsonb_each(tags) AS t(key, value)
         WHERE jsonb_typeof(t.value) = 'string'
         GROUP BY 1, 2, 3, 4, 5, 6, 7) g
 WHERE pairs <= 20000;

-- The dashboards' daily cost, from the aggregate (same columns as before).
CREATE OR REPLACE VIEW finops.billing_daily_cost AS
SELECT usage_date, billing_account_id, sub_account_id, service_name, billing_currency,
       sum(billed_cost) AS billed_cost, sum(effective_cost) AS effective_cost,
       sum(list_cost) AS list_cost
  FROM finops.billing_daily
 GROUP BY 1, 2, 3, 4, 5;

-- The forecasts' daily actuals (migration 0011's spreading of multi-day
-- charges) and their series' last days, from the aggregate instead of a scan
-- of every line item: the same figures, for forecast_train, the accuracy
-- views and the dashboards.
--
-- The days of a multi-day charge come from a function the planner takes at
-- its word (ROWS 31, a month): generate_series() over columns is guessed at
-- 1,000 rows a call, which made these views look costly enough for JIT
-- compilation, seconds of it for a query that runs in milliseconds.
CREATE FUNCTION finops.charge_days(first_day date, last_day date) RETURNS SETOF date
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE ROWS 31 AS $$
BEGIN
	RETURN QUERY SELECT first_day + i FROM generate_series(0, last_day - first_day) AS i;
END
$$;

CREATE OR REPLACE VIEW finops.forecast_actuals AS
SELECT day, currency, billing_account_id, sub_account_id, service_name, sum(cost) AS cost
  FROM (SELECT usage_date AS day, billing_currency AS currency, billing_account_id,
               sub_account_id, service_name, effective_cost AS cost
          FROM finops.billing_daily
         WHERE last_day = usage_date
        UNION ALL
        SELECT g.day, billing_currency, billing_account_id, sub_account_id,
               service_name, effective_cost / (last_day - usage_date + 1)
          FROM finops.billing_daily, finops.charge_days(usage_date, last_day) AS g(day)
         WHERE last_day > usage_date) t
 GROUP BY 1, 2, 3, 4, 5;

CREATE OR REPLACE VIEW finops.forecast_series_last_day AS
WITH by_source AS (
	SELECT billing_currency AS currency, billing_account_id, sub_account_id, service_name,
	       source_id, max(usage_date) AS last_day
	  FROM finops.billing_daily
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

-- Savings applied (finops.rightsizing_applied) look up an instance's line
-- items as the type recommended to it, after the run's window: without an
-- index that is a scan of every line item since (seconds at 10 million).
-- billing_ingest's swap builds it on each partition it attaches.
CREATE INDEX billing_line_items_instance_type
	ON finops.billing_line_items (resource_id, instance_type, charge_period_start)
	WHERE instance_type IS NOT NULL;

-- Spend of the month of each account's newest day, per currency.
CREATE VIEW finops.kpi_spend_month_to_date AS
WITH newest AS (
	SELECT billing_account_id, billing_currency, max(usage_date) AS through_day
	  FROM finops.billing_daily GROUP BY 1, 2
)
SELECT n.billing_account_id, n.billing_currency AS currency,
       date_trunc('month', n.through_day)::date AS month, n.through_day,
       sum(d.billed_cost) AS billed_cost, sum(d.effective_cost) AS effective_cost,
       coalesce(sum(d.list_cost), 0) AS list_cost
  FROM newest n
  JOIN finops.billing_daily d
    ON d.billing_account_id = n.billing_account_id AND d.billing_currency = n.billing_currency
   AND d.usage_date >= date_trunc('month', n.through_day) AND d.usage_date <= n.through_day
 GROUP BY 1, 2, 3, 4;

-- The newest forecast of this month's total, for the total and each account
-- (not the sub-account/service series: there may be thousands).
CREATE VIEW finops.kpi_forecast_month AS
SELECT DISTINCT ON (m.series_key, m.currency)
       m.series_key, m.currency, m.month, m.run_id, m.actual_to_date, m.point,
       m.lo80, m.hi80, m.lo95, m.hi95
  FROM finops.forecast_months m
 WHERE m.series_key = 'total' OR m.series_key LIKE 'billing\_account=%'
 ORDER BY m.series_key, m.currency, m.run_id DESC, m.month;

-- Forecast accuracy of the same series over their last 30 closed days.
CREATE VIEW finops.kpi_forecast_accuracy AS
SELECT series_key, currency, days, actual, forecast, ape_percent
  FROM finops.forecast_drift
 WHERE series_key = 'total' OR series_key LIKE 'billing\_account=%';

-- Open anomalies by monitor and currency.
CREATE VIEW finops.kpi_anomalies_open AS
SELECT monitor, currency, count(*) AS open, sum(total_impact) AS impact,
       max(max_daily_impact) AS max_daily_impact
  FROM finops.anomalies_current
 WHERE status = 'open'
 GROUP BY 1, 2;

-- Each active budget's latest evaluation; state 0 ok, 1 forecast over, 2 over.
CREATE VIEW finops.kpi_budgets AS
SELECT name, currency, period, amount, actual, forecast, coalesce(percent_used, 0) AS percent_used,
       coalesce(percent_forecast, 0) AS percent_forecast,
       CASE state WHEN 'over' THEN 2 WHEN 'forecast_over' THEN 1 ELSE 0 END AS state
  FROM finops.budget_status;

-- The current recommendations by finding (monthly savings, list and
-- effective; only those that save), and the savings applied: instances
-- that later ran as the type recommended to them, each counted once.
CREATE VIEW finops.kpi_rightsizing AS
SELECT finding, count(*) AS instances,
       coalesce(sum(monthly_saving_list) FILTER (WHERE monthly_saving_list > 0), 0)
           AS saving_list,
       coalesce(sum(monthly_saving_effective) FILTER (WHERE monthly_saving_effective > 0), 0)
           AS saving_effective
  FROM finops.rightsizing_current
 GROUP BY 1;

CREATE VIEW finops.kpi_rightsizing_applied AS
SELECT count(*) AS instances, coalesce(sum(monthly_saving_list), 0) AS saving_list,
       coalesce(sum(monthly_saving_effective), 0) AS saving_effective
  FROM (SELECT DISTINCT ON (instance_id) instance_id, monthly_saving_list,
               monthly_saving_effective
          FROM finops.rightsizing_applied ORDER BY instance_id, run_id DESC) a;

-- Data freshness: the end of the newest day of each billing source, and of
-- the newest hour of utilization (found through the BRIN index on hour when
-- it is recent), as Unix time and as hours behind.
CREATE VIEW finops.kpi_freshness AS
WITH billing AS (
	SELECT s.kind || ':' || s.billing_account_id || ':' || s.report_name AS source,
	       (max(d.usage_date) + 1)::timestamp AT TIME ZONE 'UTC' AS through
	  FROM finops.billing_sources s JOIN finops.billing_daily d USING (source_id)
	 GROUP BY 1
),
usage AS (
	SELECT 'usage' AS source, coalesce(
	         (SELECT max(hour) FROM finops.instance_usage_hourly
	           WHERE hour > now() - interval '6 hours'),
	         (SELECT max(hour) FROM finops.instance_usage_hourly
	           WHERE hour > now() - interval '7 days'),
	         (SELECT max(hour) FROM finops.instance_usage_hourly)) + interval '1 hour' AS through
)
SELECT 'billing' AS kind, source, extract(epoch FROM through) AS through_timestamp_seconds,
       extract(epoch FROM now() - through) / 3600 AS hours_behind
  FROM billing
UNION ALL
SELECT 'usage', source, extract(epoch FROM through), extract(epoch FROM now() - through) / 3600
  FROM usage WHERE through IS NOT NULL;

-- Notifications that failed and were not sent since, by channel kind.
CREATE VIEW finops.kpi_notifications AS
SELECT kind, count(*) FILTER (WHERE status = 'failed') AS failing,
       count(*) FILTER (WHERE status = 'sent') AS sent
  FROM finops.notifications
 GROUP BY 1;

GRANT SELECT ON finops.billing_daily, finops.billing_daily_tags, finops.kpi_spend_month_to_date,
	finops.kpi_forecast_month, finops.kpi_forecast_accuracy, finops.kpi_anomalies_open,
	finops.kpi_budgets, finops.kpi_rightsizing, finops.kpi_rightsizing_applied,
	finops.kpi_freshness, finops.kpi_notifications TO finops_reader, finops_writer;
GRANT INSERT, DELETE ON finops.billing_daily, finops.billing_daily_tags TO finops_writer;

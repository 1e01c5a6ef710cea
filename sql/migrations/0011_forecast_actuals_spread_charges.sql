-- 0011_forecast_actuals_spread_charges: a charge whose charge period spans
-- several days (a month of AWS Support billed on the 1st, a monthly tax or
-- reservation fee) counts in the daily series as an equal share on each day
-- of its period, as the usage it pays for happens, instead of as a spike on
-- the day it is dated and nothing on the others. Month totals are unchanged;
-- forecasts and their accuracy no longer read a month-start fee as a jump in
-- the run rate. finops.billing_daily_cost still shows charges as billed.
CREATE OR REPLACE VIEW finops.forecast_actuals AS
WITH spans AS (
	SELECT billing_currency, billing_account_id, sub_account_id, service_name, effective_cost,
	       (charge_period_start AT TIME ZONE 'UTC')::date AS first_day,
	       ((charge_period_end - interval '1 microsecond') AT TIME ZONE 'UTC')::date AS last_day
	  FROM finops.billing_line_items
	 WHERE charge_period_end > charge_period_start + interval '1 day'
)
SELECT day, currency, billing_account_id, sub_account_id, service_name, sum(cost) AS cost
  FROM (SELECT (charge_period_start AT TIME ZONE 'UTC')::date AS day,
               billing_currency AS currency, billing_account_id, sub_account_id, service_name,
               effective_cost AS cost
          FROM finops.billing_line_items
         WHERE charge_period_end IS NULL
            OR charge_period_end <= charge_period_start + interval '1 day'
        UNION ALL
        SELECT g.day::date, billing_currency, billing_account_id, sub_account_id,
               service_name, effective_cost / (last_day - first_day + 1)
          FROM spans, generate_series(first_day, last_day, interval '1 day') AS g(day)) t
 GROUP BY 1, 2, 3, 4, 5;

#!/bin/sh
# demo-pipeline.sh BIN_DIR WORK_DIR: the whole pipeline on the demo's inputs,
# against the database of libpq's environment (PGHOST, PGDATABASE, ...),
# then a report on stdout. scripts/demo.sh runs it on a throwaway
# PostgreSQL; tests/cli/test_demo.py runs it and checks the report.
#
# The inputs (demo/make_inputs.py) describe Lumen Freight on the morning of
# 2026-11-06: four months of AWS CUR (November to date), a Google Cloud
# FOCUS export, an EC2 price list, and 14 days of CloudWatch metric streams.
# Every stage runs as Airflow orders them, with the arguments its DAG would
# pass that morning. Exits with the first failing stage's code.
set -eu

bin=$1
work=$2
root=$(cd "$(dirname "$0")/.." && pwd)
export FINOPS_LOG_FORMAT=${FINOPS_LOG_FORMAT:-text}

say() {
	printf '\n==> %s\n' "$*" >&2
}

stages=""
# stage NAME COMMAND...: runs one step of the pipeline and notes how it ended.
stage() {
	name=$1
	shift
	say "stage: $name"
	set +e
	"$@"
	code=$?
	set -e
	case $code in
	0) stages="${stages}$name|done\n" ;;
	99) stages="${stages}$name|nothing new (exit 99)\n" ;;
	*)
		echo "demo: $name failed with exit code $code" >&2
		exit "$code"
		;;
	esac
}

say "writing the demo inputs into $work/inputs"
python3 "$root/demo/make_inputs.py" "$work/inputs"

stage finops_migrate "$bin/finops_migrate"
stage instance_catalog_updater "$bin/instance_catalog_updater" \
	--from-file "$work/inputs/pricing/index.csv"
# two weeks before: the report as AWS had delivered it on 2026-10-23, and the
# forecast made from it (its errors are the Forecast Accuracy dashboard's)
# shellcheck disable=SC2046
stage billing_ingest@2026-10-23 "$bin/billing_ingest" $(cat "$work/inputs/manifests-2026-10-23.txt")
stage forecast_train@2026-10-23 "$bin/forecast_train"
# shellcheck disable=SC2046
stage billing_ingest "$bin/billing_ingest" --report-name gcp-billing-export \
	$(cat "$work/inputs/manifests.txt") "$work/inputs/focus/lumen-gcp-focus.csv"
stage usage_ingest "$bin/usage_ingest" --start 2026-10-23T00:00:00Z \
	--end 2026-11-06T00:00:00Z "$work/inputs/metrics"
# the run of 11-02, which advised moving worker-3 to m6i.xlarge (done on 11-03:
# the savings applied), then today's
stage rightsizing_calc@2026-11-02 "$bin/rightsizing_calc" --end 2026-11-02T00:00:00Z
stage rightsizing_calc "$bin/rightsizing_calc" --end 2026-11-06T00:00:00Z
stage forecast_train "$bin/forecast_train"
# the default monitors, no channel: anomalies are recorded, nothing is sent
stage anomaly_detect "$bin/anomaly_detect"
# the demo's budgets; --no-notify: breaches are recorded, nothing is sent
stage budget_check "$bin/budget_check" --budgets "$root/demo/budgets.json" --no-notify

q() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

# money: 12,345.67
m="'FM999,999,990.00'"

cat <<REPORT

Lumen Freight: cloud cost on the morning of 2026-11-06 (finops-pipeline demo)
=============================================================================
Database  $(q "SELECT 'PostgreSQL ' || current_setting('server_version') || ', schema at '
                  || max(name) || ' (' || count(*) || ' migrations)' FROM finops.schema_migrations")

Stages, in the order Airflow runs them
$(printf "$stages" | awk -F'|' '{ printf "  %-28s %s\n", $1, $2 }')

Billing loads (finops.billing_loads): each billing period of each source is
loaded whole, in one transaction, or not at all.
$(q "SELECT format('  %-7s  %-9s %-40s %11s  %s', 'period', 'format',
                   'source (billing account/report)', 'rows', 'assembly')")
$(q "SELECT string_agg(format('  %s  %-9s %-40s %6s %-4s  %s', to_char(l.billing_period, 'YYYY-MM'),
                              l.format, s.billing_account_id || '/' || s.report_name,
                              l.rows_loaded, CASE l.rows_loaded WHEN 1 THEN 'row' ELSE 'rows' END,
                              l.assembly_id), E'\n' ORDER BY l.billing_period, s.source_id)
       FROM finops.billing_loads l JOIN finops.billing_sources s USING (source_id)
      WHERE l.status = 'current'")

Cost by month. Billed: what the invoice says. Effective: amortized, with
commitments (Savings Plans, committed use discounts) spread over the usage
they cover. Currencies are never added together.
$(q "SELECT format('  %-9s %-14s %-8s %14s %14s  %s', 'month', 'provider', 'currency',
                   'billed', 'effective', 'days of data')")
$(q "SELECT string_agg(format('  %-9s %-14s %-8s %14s %14s  %s', to_char(billing_period, 'YYYY-MM'),
                              provider_name, billing_currency, to_char(b, $m), to_char(e, $m),
                              days || CASE WHEN days < extract(day FROM billing_period
                                   + interval '1 month' - interval '1 day')
                                   THEN ' (to date)' ELSE '' END),
                       E'\n' ORDER BY billing_currency, billing_period)
       FROM (SELECT billing_period, provider_name, billing_currency, sum(billed_cost) b,
                    sum(effective_cost) e,
                    count(DISTINCT (charge_period_start AT TIME ZONE 'UTC')::date) days
               FROM finops.billing_line_items GROUP BY 1, 2, 3) t")

Top services in October 2026, effective cost
$(q "SELECT string_agg(format('  %-40s %-4s %12s  %5s%%', service_name, billing_currency,
                              to_char(e, $m), to_char(100 * e / total, 'FM990.0')),
                       E'\n' ORDER BY billing_currency DESC, e DESC)
       FROM (SELECT service_name, billing_currency, sum(effective_cost) e,
                    sum(sum(effective_cost)) OVER (PARTITION BY billing_currency) total,
                    rank() OVER (PARTITION BY billing_currency ORDER BY sum(effective_cost) DESC) r
               FROM finops.billing_line_items WHERE billing_period = '2026-10-01'
              GROUP BY 1, 2) t WHERE r <= 6")

Instance catalog (finops.instance_catalog_versions): what rightsizing prices with
$(q "SELECT string_agg(format('  %-12s offer %s  %s instance types, %s prices', region,
                              offer_version, (SELECT count(DISTINCT instance_type)
                                              FROM finops.instance_prices p
                                              WHERE p.region = v.region), prices),
                       E'\n' ORDER BY region) FROM finops.instance_catalog_versions v")

Utilization, 14 days to 2026-11-06 (finops.instance_usage_hourly, from CloudWatch)
$(q "SELECT format('  %s instance-hours of %s instances; CPU average %s%%, busiest hour %s%%;'
                   || ' memory average %s%% (%s instances without the CloudWatch agent)',
                   count(*), count(DISTINCT instance_id), round(avg(cpu_avg)::numeric, 1),
                   round(max(cpu_max)::numeric, 1), round(avg(mem_avg)::numeric, 1),
                   count(DISTINCT instance_id) - count(DISTINCT instance_id)
                     FILTER (WHERE mem_avg IS NOT NULL))
       FROM finops.instance_usage_hourly")

Rightsizing, 14 days to 2026-11-06 (finops.rightsizing_current). A saving is
the hourly price difference at list price over the hours the instance is
expected to run in a month (730 when always on).
$(q "SELECT format('  %-20s %9s   %14s', 'finding', 'instances', 'monthly saving')")
$(q "SELECT string_agg(format('  %-20s %9s   %14s', finding, n,
                              CASE WHEN finding IN ('idle', 'over_provisioned') THEN to_char(s, $m)
                                   WHEN finding = 'under_provisioned'
                                   THEN to_char(-s, $m) || ' more' ELSE '' END),
                       E'\n' ORDER BY array_position(ARRAY['idle', 'over_provisioned',
                                      'under_provisioned', 'optimized', 'insufficient_data'],
                                      finding))
       FROM (SELECT finding, count(*) n, sum(monthly_saving_list) s
               FROM finops.rightsizing_current GROUP BY 1) t")
$(q "WITH bill AS (SELECT sum(billed_cost) FILTER (WHERE line_item_type <> 'SavingsPlanNegation')
                          AS list, sum(effective_cost) AS eff
                     FROM finops.billing_line_items
                    WHERE billing_period = '2026-10-01' AND usage_type ~ 'BoxUsage'),
          s AS (SELECT sum(monthly_saving_list) list, sum(monthly_saving_effective) eff
                  FROM finops.rightsizing_current WHERE finding IN ('idle', 'over_provisioned'))
     SELECT format('  In all: \$%s a month at list price (\$%s at the rates paid), %s%% of the'
                   || E'\n  \$%s list-price EC2 instance cost of October.',
                   to_char(s.list, $m), to_char(s.eff, $m),
                   to_char(100 * s.list / bill.list, 'FM990.0'), to_char(bill.list, $m))
       FROM bill, s")
  The largest:
$(q "SELECT string_agg(format('  %s (%s, %s, %s): %s', instance_id,
                              coalesce(name, 'no Name tag'), current_type,
                              replace(finding, '_', '-'), reason),
                       E'\n' ORDER BY monthly_saving_list DESC)
       FROM (SELECT r.*, (SELECT tags->>'user:Name' FROM finops.billing_line_items b
                           WHERE b.resource_id = r.instance_id AND b.tags ? 'user:Name'
                           LIMIT 1) AS name
               FROM finops.rightsizing_current r
              WHERE finding IN ('idle', 'over_provisioned')
              ORDER BY monthly_saving_list DESC LIMIT 4) t")
  Applied (finops.rightsizing_applied: billed as the type advised, after the
  window of the run that advised it):
$(q "SELECT coalesce(string_agg(format('  %s: %s -> %s from %s, \$%s a month (run of %s)',
                              a.instance_id, a.current_type, a.recommended_type,
                              to_char(a.applied_from, 'YYYY-MM-DD'),
                              to_char(a.monthly_saving_list, $m),
                              to_char(r.window_end, 'YYYY-MM-DD')), E'\n'
                       ORDER BY a.instance_id), '  none yet')
       FROM (SELECT DISTINCT ON (instance_id) * FROM finops.rightsizing_applied
              ORDER BY instance_id, run_id DESC) a JOIN finops.rightsizing_runs r USING (run_id)")

Forecast (finops.forecast_months, the total per currency): daily effective
cost, each currency trained up to its own last complete day (its sources'
last day of data less 2), then forecast; a month is its actual to date plus
the forecast of its remaining days. The 80% interval is where the month
should land four times in five.
$(q "SELECT format('  %-8s  %-10s   %-8s %11s  %13s   %s', 'currency', 'trained to',
                   'month', 'actual', 'forecast', '80% interval')")
$(q "SELECT string_agg(format('  %-8s  %-10s   %-8s %11s  %13s   %13s .. %s', f.currency,
                              m.cutoff_day, to_char(f.month, 'YYYY-MM'),
                              to_char(f.actual_to_date, $m), to_char(f.point, $m),
                              to_char(f.lo80, $m), to_char(f.hi80, $m)),
                       E'\n' ORDER BY f.currency, f.month)
       FROM finops.forecast_months f
       JOIN finops.forecast_models m USING (run_id, series_key, currency)
      WHERE f.series_key = 'total'
        AND f.run_id = (SELECT max(run_id) FROM finops.forecast_runs)")
$(q "SELECT string_agg(format('  %s: October %s %s, run rate %s a month (the last 28 days x 30.4)%s',
                              currency, currency, to_char(oct, $m), to_char(rate, $m),
                              CASE WHEN excess > 0 THEN format(E',\n       %s without the anomalies'' excess'
                                                        || ' in those days (see below)',
                                                        to_char(rate - excess / 28 * 30.4, $m))
                                   ELSE '' END),
                       E'\n' ORDER BY currency)
       FROM (SELECT a.currency,
                    sum(a.cost) FILTER (WHERE a.day >= '2026-10-01' AND a.day < '2026-11-01') oct,
                    sum(a.cost) FILTER (WHERE a.day > m.cutoff_day - 28 AND a.day <= m.cutoff_day)
                      / 28 * 30.4 rate
                    , (SELECT coalesce(sum(d.impact), 0) FROM finops.anomaly_days d
                         JOIN finops.anomalies_current x USING (anomaly_id)
                        WHERE x.dimension = 'billing_account' AND x.currency = a.currency
                          AND d.day > max(m.cutoff_day) - 28 AND d.day <= max(m.cutoff_day)) excess
               FROM finops.forecast_actuals a
               JOIN finops.forecast_models m ON m.series_key = 'total'
                AND m.currency = a.currency
                AND m.run_id = (SELECT max(run_id) FROM finops.forecast_runs)
              GROUP BY 1) t")

Cost anomalies (finops.anomalies_current). Each closed day of each account's
total and of its top 10 services, sub accounts, regions and usage types is
judged against a forecast of the days before it: anomalous above its 99%
bound when the impact is at least \$100 and 20%. Consecutive days are one
anomaly; one event seen by several monitors is one message to Slack or Teams.
$(q "SELECT coalesce(string_agg(format('  %s to %s (%s day%s, %s)  %-44s %s %s more than expected (%s)',
                                       first_day, last_day, days, CASE days WHEN 1 THEN '' ELSE 's' END,
                                       CASE status WHEN 'open' THEN 'ongoing' ELSE 'over' END,
                                       CASE dimension WHEN 'billing_account' THEN 'account ' || value || ', total'
                                            ELSE replace(dimension, '_', ' ') || ' ' || value END,
                                       currency, to_char(total_impact, $m),
                                       coalesce(to_char(impact_percent, 'FM+99990') || '%', 'nothing expected')),
                                E'\n' ORDER BY first_day, anomaly_id), '  none')
       FROM finops.anomalies_current")
$(q "SELECT string_agg(format('  Root cause %s: %s %s%s, %s %s of the account''s %s %s', r.rank,
                              replace(r.dimension, '_', ' '), r.value,
                              coalesce(', ' || replace(r.dimension2, '_', ' ') || ' ' || r.value2, ''),
                              a.currency, to_char(r.contribution, $m), a.currency, to_char(a.total_impact, $m)),
                       E'\n' ORDER BY a.anomaly_id, r.rank)
       FROM finops.anomalies_current a JOIN finops.anomaly_root_causes r USING (anomaly_id)
      WHERE a.dimension = 'billing_account' AND r.rank <= 2")

Budgets (demo/budgets.json, synced into finops.budgets; finops.budget_status).
Actual: the period to date over closed days. Forecast: actual plus the
forecast of the period's remaining days (80% interval). Budgets count a charge
on the day it is billed, as the invoice does (Business support on the 1st),
where the forecasts above spread it over its month: actuals to date differ,
month totals do not. An actual threshold fires once a period; a forecasted one
again only after the forecast fell back.
$(q "SELECT format('  %-22s %-8s %12s %12s %5s %12s  %-25s %5s  %s', 'budget', 'period',
                   'amount', 'actual', 'used', 'forecast', '80% interval', 'days', 'state')")
$(q "SELECT string_agg(format('  %-22s %-8s %12s %12s %4s%% %12s  %-25s %5s  %s', name,
                              to_char(period_start, CASE period WHEN 'monthly' THEN 'YYYY-MM'
                                                    WHEN 'quarterly' THEN 'YYYY-\"Q\"Q' ELSE 'YYYY' END),
                              currency || ' ' || to_char(amount, $m), to_char(actual, $m),
                              round(percent_used), to_char(forecast, $m),
                              to_char(forecast_lo80, $m) || ' .. ' || to_char(forecast_hi80, $m),
                              days_left, replace(state, '_', ' ')), E'\n' ORDER BY budget_id)
       FROM finops.budget_status")
$(q "SELECT coalesce(string_agg(format('  Crossed: %s %s (%s %s %s): would tell %s', b.name, br.threshold,
                                       b.currency, to_char(br.value, $m),
                                       CASE br.kind WHEN 'forecasted' THEN 'forecast' ELSE 'spent' END,
                                       array_to_string(br.channels, ' and ')),
                                E'\n' ORDER BY br.breach_id), '  Crossed: none')
       FROM finops.budget_breaches br JOIN finops.budgets b USING (budget_id)")

Job runs (finops.job_runs): what operators and dashboards read
$(q "SELECT string_agg(format('  %-26s %-12s exit %-3s %9s %s', job, status, exit_code,
                              rows_written, CASE rows_written WHEN 1 THEN 'row written'
                                                 ELSE 'rows written' END), E'\n' ORDER BY run_id)
       FROM finops.job_runs")
REPORT

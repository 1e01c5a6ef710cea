#!/bin/sh
# demo.sh: the whole pipeline on an embedded default, from a fresh Debian
# machine: a throwaway local PostgreSQL, the bundled sample inputs (and a
# price list and a week of metrics generated from them by demo/make_inputs.py),
# every stage in the order Airflow runs them, and a readable report.
#
# Nothing outside the build folder and a temporary directory is touched; the
# database is removed when the script ends, also on failure. Set
# FINOPS_DEMO_KEEP=1 to keep it running and print how to connect.
set -eu
. "$(dirname "$0")/lib.sh"

say "checking Debian packages"
"$root/scripts/setup-debian.sh"
say "building"
build "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo
bin="$root/build"

pgdir=$(mktemp -d /tmp/fo-demo.XXXXXX)
cleanup() {
	if [ "${FINOPS_DEMO_KEEP:-}" = 1 ]; then
		echo "database kept: $("$root/tests/support/pgtmp.sh" env "$pgdir") PGDATABASE=finops_demo" >&2
		echo "stop it with: $root/tests/support/pgtmp.sh stop $pgdir" >&2
	else
		"$root/tests/support/pgtmp.sh" stop "$pgdir"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM
say "starting a throwaway PostgreSQL in $pgdir"
eval "$("$root/tests/support/pgtmp.sh" start "$pgdir")"
createdb finops_demo
export PGDATABASE=finops_demo
export FINOPS_LOG_FORMAT=text

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

# generated inputs: an EC2 offer file and a week of metric-stream output
say "writing the generated demo inputs into $pgdir/inputs"
python3 "$root/demo/make_inputs.py" "$pgdir/inputs"

stage finops_migrate "$bin/finops_migrate"
stage instance_catalog_updater "$bin/instance_catalog_updater" \
	--from-file "$pgdir/inputs/pricing/index.csv"
stage billing_ingest "$bin/billing_ingest" \
	"$root/demo/aws-cur/demo-cur/20261001-20261101/demo-cur-Manifest.json" \
	"$root/demo/focus/focus-demo-2026-10.csv"
stage usage_ingest "$bin/usage_ingest" --start 2026-10-18T00:00:00Z \
	--end 2026-10-25T00:00:00Z "$pgdir/inputs/metrics"
stage rightsizing_calc "$bin/rightsizing_calc" --end 2026-10-25T00:00:00Z \
	--lookback-days 7
stage forecast_train "$bin/forecast_train"

q() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -c "$1"
}

cat <<REPORT

finops-pipeline demo report
===========================
Database   throwaway $(q "SELECT 'PostgreSQL ' || current_setting('server_version')") in $pgdir (removed on exit)
Schema     $(q "SELECT count(*) || ' migration(s), latest ' || max(name) FROM finops.schema_migrations")

Stages
$(printf "$stages" | awk -F'|' '{ printf "  %-26s %s\n", $1, $2 }')

Tables in schema finops
$(q "SELECT format('  %-26s %s rows', c.relname,
              (xpath('/row/n/text()', query_to_xml(format('SELECT count(*) AS n FROM finops.%I',
                                                          c.relname), false, true, '')))[1])
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'finops' AND c.relkind IN ('r', 'p') AND NOT c.relispartition
        ORDER BY 1")

Billing by period, provider and account (finops.billing_line_items; never summed across currencies)
$(q "SELECT coalesce(string_agg(line, E'\n' ORDER BY line), '  no billing data loaded')
       FROM (SELECT format('  %s  %-14s %-20s %s %8s rows  billed %14s  effective %14s',
                           to_char(billing_period, 'YYYY-MM'), provider_name, billing_account_id,
                           billing_currency, count(*), round(sum(billed_cost), 2),
                           round(sum(effective_cost), 2)) AS line
               FROM finops.billing_line_items GROUP BY billing_period, provider_name,
                    billing_account_id, billing_currency) t")

Top services by effective cost
$(q "SELECT coalesce(string_agg(format('  %-38s %s %14s', service_name, billing_currency,
                                      round(e, 2)), E'\n' ORDER BY e DESC), '  none')
       FROM (SELECT service_name, billing_currency, sum(effective_cost) e
               FROM finops.billing_line_items GROUP BY 1, 2 ORDER BY 3 DESC LIMIT 6) t")

Billing loads (finops.billing_loads)
$(q "SELECT coalesce(string_agg(format('  load %s  source %s  %s  %-9s %-8s %6s rows  assembly %s',
                                      load_id, source_id, to_char(billing_period, 'YYYY-MM'), format,
                                      status, rows_loaded, left(assembly_id, 24)),
                               E'\n' ORDER BY load_id, source_id), '  none')
       FROM finops.billing_loads")

Instance catalog (finops.instance_catalog_versions)
$(q "SELECT coalesce(string_agg(format('  %-12s offer %s  %s prices', region, offer_version,
                                      prices), E'\n' ORDER BY region), '  none')
       FROM finops.instance_catalog_versions")

Utilization (finops.instance_usage_hourly)
$(q "SELECT format('  %s instance-hours of %s instances, %s to %s; average CPU %s%%, memory %s%%',
                   count(*), count(DISTINCT instance_id), min(hour), max(hour),
                   round(avg(cpu_avg)::numeric, 1), round(avg(mem_avg)::numeric, 1))
       FROM finops.instance_usage_hourly")

Rightsizing (finops.rightsizing_current)
$(q "SELECT coalesce(string_agg(format('  %-18s %5s instances  saving %10s a month (list)', finding,
                                      n, s), E'\n' ORDER BY finding), '  none')
       FROM (SELECT finding, count(*) n, sum(monthly_saving_list) s
               FROM finops.rightsizing_current GROUP BY 1) t")
$(q "SELECT coalesce(string_agg('  e.g. ' || instance_id || ': ' || reason, E'\n'), '')
       FROM (SELECT instance_id, reason FROM finops.rightsizing_current
              WHERE finding = 'over_provisioned' ORDER BY monthly_saving_list DESC LIMIT 2) t")

Forecast (finops.forecast_months, total per currency)
$(q "SELECT coalesce(string_agg(format('  %s %s  actual to date %12s + forecast %12s = %12s  (80%%: %s .. %s)',
                                      to_char(month, 'YYYY-MM'), currency, round(actual_to_date, 2),
                                      round(forecast_rest, 2), round(point, 2), round(lo80, 2),
                                      round(hi80, 2)), E'\n' ORDER BY currency, month), '  none')
       FROM finops.forecast_months WHERE series_key = 'total'")

Job runs (finops.job_runs)
$(q "SELECT coalesce(string_agg(format('  %-26s %-12s exit %s, %s rows written', job, status,
            exit_code, rows_written), E'\n' ORDER BY run_id), '  none yet: no job stage has run')
       FROM finops.job_runs")
REPORT

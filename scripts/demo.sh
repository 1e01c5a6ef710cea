#!/bin/sh
# demo.sh: the whole pipeline on an embedded default, from a fresh Debian
# machine: a throwaway local PostgreSQL, the bundled demo company's inputs
# (written by demo/make_inputs.py: four months of AWS CUR, a Google Cloud
# FOCUS export, an EC2 price list, 14 days of CloudWatch metric streams),
# every stage in the order Airflow runs them (scripts/demo-pipeline.sh), and
# a readable report.
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

"$root/scripts/demo-pipeline.sh" "$bin" "$pgdir"

#!/bin/sh
# test.sh: every test of finops-pipeline, from a fresh Debian machine.
#
# Installs missing Debian packages and the pinned Python test tools (pytest
# and moto in build/venv, Airflow in build/venv-airflow, each reused while its
# requirements file is unchanged), then builds and runs the whole suite three
# times:
#   release    a release build with warnings fatal (build/)
#   clock+2y   the same build and tests with the clock two years ahead
#              (libfaketime: every process, PostgreSQL and Airflow included),
#              which proves that no test depends on today's date
#   sanitizer  a build under AddressSanitizer and UndefinedBehaviorSanitizer
#              (build-asan/; the Airflow DAG tests run in the release builds only)
#   fuzz       the libFuzzer harnesses (scripts/fuzz.sh), FINOPS_FUZZ_SECONDS
#              (10) each
# Each run starts its own throwaway PostgreSQL and removes it. A failing run
# does not stop the others; the end says which ran, which passed, and why
# tests were skipped. Exits non-zero when anything failed.
#
# FINOPS_TEST_JOBS: ctest parallelism (2). FINOPS_TEST_ONLY: a space-separated
# subset of "release clock+2y sanitizer fuzz".
set -eu
. "$(dirname "$0")/lib.sh"

jobs=${FINOPS_TEST_JOBS:-2}
only=${FINOPS_TEST_ONLY:-release clock+2y sanitizer fuzz}
results=""
failed=0

# result NAME STATUS: notes how a run ended, for the summary at the end.
result() {
	results="${results}$(printf '  %-10s %s' "$1" "$2")
"
	case $2 in passed*|"not run"*) ;; *) failed=1 ;; esac
}

wanted() {
	case " $only " in *" $1 "*) return 0 ;; esac
	return 1
}

# suite NAME BUILD_DIR [WRAPPER...]: runs ctest in BUILD_DIR, through WRAPPER.
suite() {
	name=$1
	dir=$2
	shift 2
	say "tests: $name"
	if "$@" ctest --test-dir "$dir" --output-on-failure -j "$jobs"; then
		result "$name" "passed"
	else
		result "$name" "FAILED (see the output above; ctest log: $dir/Testing/Temporary/LastTest.log)"
	fi
	# why tests were skipped: pytest's -rs lines and ctest's skipped tests
	skips=$(grep -h -E '^SKIPPED \[|^skipped: ' "$dir/Testing/Temporary/LastTest.log" 2>/dev/null |
		sort -u || true)
	if [ -n "$skips" ]; then
		results="${results}$(echo "$skips" | sed 's/^/               /')
"
	fi
}

say "checking Debian packages"
"$root/scripts/setup-debian.sh"
venv "$root/build/venv" "$root/tests/requirements.txt"
py="$root/build/venv/bin/python"
# Airflow has its own pinned environment (its dependencies are many and strict)
venv "$root/build/venv-airflow" "$root/tests/airflow/requirements.txt"
afpy="$root/build/venv-airflow/bin/python"

if wanted release || wanted clock+2y; then
	say "release build (warnings are errors)"
	if build "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFINOPS_WERROR=ON \
		-DFINOPS_PYTHON="$py" -DFINOPS_AIRFLOW_PYTHON="$afpy"; then
		if wanted release; then
			suite release "$root/build"
		else
			result release "not run (FINOPS_TEST_ONLY)"
		fi
		if wanted clock+2y; then
			# the faked clock must reach the tests' processes, or this run proves nothing
			year=$(date -u +%Y)
			faked=$(faketime -f '+730d' date -u +%Y)
			if [ "$faked" -ne $((year + 2)) ]; then
				result clock+2y "FAILED (faketime gave year $faked, expected $((year + 2)))"
			else
				suite clock+2y "$root/build" faketime -f '+730d'
			fi
		fi
	else
		result release "FAILED (build)"
		wanted clock+2y && result clock+2y "not run (the release build failed)"
	fi
else
	result release "not run (FINOPS_TEST_ONLY)"
	result clock+2y "not run (FINOPS_TEST_ONLY)"
fi

if wanted sanitizer; then
	say "AddressSanitizer + UndefinedBehaviorSanitizer build"
	if build "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DFINOPS_WERROR=ON -DFINOPS_SANITIZE=ON \
		-DFINOPS_PYTHON="$py"; then
		suite sanitizer "$root/build-asan"
	else
		result sanitizer "FAILED (build)"
	fi
else
	result sanitizer "not run (FINOPS_TEST_ONLY)"
fi

if wanted fuzz; then
	if "$root/scripts/fuzz.sh" "${FINOPS_FUZZ_SECONDS:-10}"; then
		result fuzz "passed (${FINOPS_FUZZ_SECONDS:-10} s a harness, no crash)"
	else
		result fuzz "FAILED (see the output above; inputs in build-fuzz/crash-*)"
	fi
else
	result fuzz "not run (FINOPS_TEST_ONLY)"
fi

say "summary"
printf '%s' "$results" >&2
if [ "$failed" = 0 ]; then
	say "all tests passed"
else
	say "some tests FAILED"
	exit 1
fi

#!/bin/sh
# test.sh: every test of finops-pipeline, from a fresh Debian machine.
#
# Installs missing Debian packages and the pinned Python test tools (pytest
# and moto in build/venv, Airflow in build/venv-airflow, each reused while its
# requirements file is unchanged), then builds and runs the whole suite twice:
# a release build with warnings fatal (build/), and a build under
# AddressSanitizer and UndefinedBehaviorSanitizer (build-asan/; the Airflow
# DAG tests run in the release build only). Each run starts its own
# throwaway PostgreSQL and removes it.
# Exits non-zero when anything fails.
set -eu
. "$(dirname "$0")/lib.sh"

jobs=${FINOPS_TEST_JOBS:-2}

say "checking Debian packages"
"$root/scripts/setup-debian.sh"
venv "$root/build/venv" "$root/tests/requirements.txt"
py="$root/build/venv/bin/python"
# Airflow has its own pinned environment (its dependencies are many and strict)
venv "$root/build/venv-airflow" "$root/tests/airflow/requirements.txt"
afpy="$root/build/venv-airflow/bin/python"

say "release build (warnings are errors)"
build "$root/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DFINOPS_WERROR=ON -DFINOPS_PYTHON="$py" \
	-DFINOPS_AIRFLOW_PYTHON="$afpy"
say "tests: release build"
ctest --test-dir "$root/build" --output-on-failure -j "$jobs"

say "AddressSanitizer + UndefinedBehaviorSanitizer build"
build "$root/build-asan" -DCMAKE_BUILD_TYPE=Debug -DFINOPS_WERROR=ON -DFINOPS_SANITIZE=ON \
	-DFINOPS_PYTHON="$py"
say "tests: sanitizer build"
ctest --test-dir "$root/build-asan" --output-on-failure -j "$jobs"

say "all tests passed"

#!/bin/sh
# fuzz.sh [SECONDS]: builds the libFuzzer harnesses of tests/fuzz with clang
# (the library under AddressSanitizer and UndefinedBehaviorSanitizer) in
# build-fuzz/, and runs each for SECONDS (default 20) from its seed corpus
# (tests/fuzz/corpus/<harness>, copied to build-fuzz/corpus/<harness> where
# the inputs it finds accumulate between runs). Fails, naming the harness and
# the input that crashed (build-fuzz/crash-*), when any finds a crash, a leak
# or a hang. scripts/test.sh runs it for a few seconds a harness.
#
# The harnesses: the CSV and line readers (plain and gzip), CUR manifests,
# CloudWatch Metric Streams lines, EC2 offer files, decimal text and
# timestamps, and the XML of EC2's answers.
set -eu
. "$(dirname "$0")/lib.sh"

seconds=${1:-20}
dir="$root/build-fuzz"
harnesses="fuzz_csv fuzz_manifest fuzz_metric_line fuzz_offer fuzz_decimal fuzz_timestamp fuzz_xml"

cc=$(command -v clang-14 || command -v clang || true)
if [ -z "$cc" ]; then
	echo "fuzz: clang is missing (scripts/setup-debian.sh installs clang-14)" >&2
	exit 1
fi
say "fuzzing build ($cc)"
CC=$cc build "$dir" -DCMAKE_BUILD_TYPE=Debug -DFINOPS_FUZZ=ON -DFINOPS_TESTS=OFF

failed=""
for h in $harnesses; do
	corpus="$dir/corpus/$h"
	mkdir -p "$corpus"
	cp -n "$root/tests/fuzz/corpus/$h/"* "$corpus/" 2>/dev/null || true
	say "fuzz: $h for ${seconds}s"
	# one job, bounded time, memory and per-input time; crashes land in $dir
	if (cd "$dir" && UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
		ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
		"./tests/fuzz/$h" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 "$corpus" >"$dir/$h.log" 2>&1); then
		grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb' "$dir/$h.log" |
			sed "s/^/  $h /" >&2
	else
		tail -40 "$dir/$h.log" >&2
		failed="$failed $h"
	fi
done
if [ -n "$failed" ]; then
	echo "fuzz: FAILED:$failed (inputs in $dir/crash-*, logs in $dir/*.log)" >&2
	exit 1
fi
say "fuzz: no crash in $seconds s a harness"

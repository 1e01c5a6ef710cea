#!/bin/sh
# check_m4.sh M4_BENCH DATA_DIR: the library's forecasts on M4 (issue 21's
# targets): on Hourly OWA at most 0.50 and the 95% interval covering 93-97%
# of the values; on Weekly OWA below Naive2's and the seasonal naive's, the 95%
# coverage within 90-98%. Skips (77) without the shared data.
set -eu
bench=$1
dir=$2
if [ ! -f "$dir/Hourly-train.csv" ] || [ ! -f "$dir/Weekly-train.csv" ]; then
	echo "skipped: $dir/Hourly-train.csv or Weekly-train.csv is absent (the shared M4 sample data)"
	exit 77
fi
# check SET MAX_OWA COV_LO COV_HI
check() {
	out=$("$bench" "$dir" --set "$1")
	echo "$out"
	echo "$out" | awk -v max="$2" -v lo="$3" -v hi="$4" -v set="$1" '
		/^seasonal naive/ { snaive = $5 }
		/^fo_fc_auto / { auto = $4; cov = $6; sub("%", "", cov) }
		END {
			if (auto == "" || snaive == "") { print set ": no figures"; exit 1 }
			if (auto + 0 > max + 0) { print set ": OWA " auto " is above " max; exit 1 }
			if (auto + 0 >= snaive + 0) { print set ": OWA " auto " does not beat the seasonal naive " snaive; exit 1 }
			if (cov + 0 < lo + 0 || cov + 0 > hi + 0) {
				print set ": the 95% interval covers " cov "%, outside " lo "-" hi "%"; exit 1
			}
		}'
}
check Hourly 0.50 93 97
check Weekly 0.99 90 98

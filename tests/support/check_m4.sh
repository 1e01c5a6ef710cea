#!/bin/sh
# check_m4.sh M4_BENCH DATA_DIR: the library's forecasts on M4 Hourly must beat
# Naive2 (OWA < 1) and the seasonal naive. Skips (77) without the shared data.
set -eu
bench=$1
dir=$2
if [ ! -f "$dir/Hourly-train.csv" ]; then
	echo "skipped: $dir/Hourly-train.csv is absent (the shared M4 sample data)"
	exit 77
fi
out=$("$bench" "$dir")
echo "$out"
echo "$out" | awk '
	/^seasonal naive/ { snaive = $5 }
	/^fo_fc_auto/ { auto = $4 }
	END {
		if (auto == "" || snaive == "") { print "no figures"; exit 1 }
		if (auto + 0 >= 1) { print "OWA " auto " is not below Naive2"; exit 1 }
		if (auto + 0 >= snaive + 0) { print "OWA " auto " does not beat the seasonal naive " snaive; exit 1 }
	}'

#!/bin/sh
# setup-debian.sh: installs the Debian packages finops-pipeline needs to
# build, test and run its demo, and only those that are missing.
# Runs as root (or through sudo when it is there).
set -eu

PACKAGES="build-essential cmake ninja-build pkg-config ca-certificates
libpq-dev libcurl4-openssl-dev libjansson-dev libcsv-dev zlib1g-dev libcmocka-dev
postgresql-15 postgresql-client-15 python3 python3-venv util-linux openssl faketime
clang-14 libclang-rt-14-dev
prometheus prometheus-pushgateway prometheus-postgres-exporter prometheus-alertmanager
redis-server"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" = 0 ]; then
	sudo=""
elif command -v sudo >/dev/null 2>&1; then
	sudo="sudo"
else
	echo "setup-debian: missing packages:$missing; run as root to install them" >&2
	exit 1
fi
echo "setup-debian: installing$missing" >&2
$sudo env DEBIAN_FRONTEND=noninteractive apt-get update -qq
# shellcheck disable=SC2086
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null

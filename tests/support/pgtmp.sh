#!/bin/sh
# pgtmp.sh: a throwaway PostgreSQL cluster for tests and the demo.
#
#   pgtmp.sh start DIR   initdb in DIR/data, start it listening only on a Unix
#                        socket in DIR, and print the environment to use it
#   pgtmp.sh stop DIR    stop the cluster and remove DIR
#   pgtmp.sh env DIR     print the environment again
#
# DIR must be short (a Unix socket path holds about 100 bytes). The cluster
# trusts local connections and runs without fsync: it is for tests only.
# As root, the server runs as the 'postgres' user (initdb refuses root).
set -eu

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|stop|env DIR" >&2; exit 2; }
port=${PGTMP_PORT:-5432}

find_bindir() {
	for d in "${PGTMP_BINDIR:-}" /usr/lib/postgresql/15/bin "$(pg_config --bindir 2>/dev/null || true)"; do
		if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	echo "pgtmp: no PostgreSQL server binaries (install postgresql-15)" >&2
	return 1
}

as_owner() {
	if [ "$(id -u)" = 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

print_env() {
	echo "export PGHOST=$dir PGPORT=$port PGUSER=postgres PGDATABASE=postgres"
}

stop() {
	bindir=$(find_bindir)
	if [ -f "$dir/data/postmaster.pid" ]; then
		as_owner "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
	fi
	rm -rf "$dir"
}

case "$cmd" in
start)
	bindir=$(find_bindir)
	stop
	mkdir -p "$dir"
	if [ "$(id -u)" = 0 ]; then
		chown postgres "$dir"
	fi
	as_owner "$bindir/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 \
		--locale=C.UTF-8 --no-sync >"$dir/initdb.log" 2>&1 ||
		{ cat "$dir/initdb.log" >&2; exit 1; }
	as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
		-o "-c listen_addresses='' -k $dir -p $port -c fsync=off -c synchronous_commit=off \
		    -c full_page_writes=off -c max_connections=100 -c unix_socket_permissions=0777" \
		start >/dev/null ||
		{ cat "$dir/server.log" >&2; exit 1; }
	print_env
	;;
stop)
	stop
	;;
env)
	print_env
	;;
*)
	echo "usage: $0 start|stop|env DIR" >&2
	exit 2
	;;
esac

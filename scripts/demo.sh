#!/usr/bin/env bash
#
# scripts/demo.sh: build credit_scoring, start a throwaway PostgreSQL 15 cluster, load the credit
# data set (test/data/credit_data.csv) and run scripts/demo.sql: train a logistic regression,
# look at the registry, score a few rows.
#
# It installs the Debian packages it needs (apt-get; through sudo when not root) and installs the
# extension (make install; through sudo when not root).  The cluster lives in a temporary
# directory, listens only on a unix socket there, and is stopped and removed on exit.  PostgreSQL
# refuses to run as root, so when run as root the cluster runs as the `postgres` user.

set -eu -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
source "$REPO/scripts/common.sh"
cd "$REPO"

PACKAGES=(build-essential postgresql-15 postgresql-server-dev-15 libopenblas-dev)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PGBIN=/usr/lib/postgresql/15/bin
DEMO_SQL=${DEMO_SQL:-scripts/demo.sql}

DIR=        # the cluster's temporary directory
PORT=


build()
{
	say "build and install"
	make -j2 PG_CONFIG="$PG_CONFIG"
	as_root make install PG_CONFIG="$PG_CONFIG"
}

# A TCP port nothing listens on (the cluster listens on a unix socket only, but its socket
# name and lock file carry the port number, and a free one avoids any confusion).
free_port()
{
	local p
	for p in $(seq 54330 54429); do
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	echo "error: no free port in 54330-54429" >&2
	return 1
}

# Stop the cluster and remove its directory.
stop_cluster()
{
	if [ -n "$DIR" ] && [ -d "$DIR" ]; then
		if [ -f "$DIR/data/postmaster.pid" ]; then
			as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
		fi
		rm -rf "$DIR"
	fi
}

# initdb and start a cluster in a temporary directory; copy in what psql will read.
start_cluster()
{
	say "starting a throwaway cluster"
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/credit_scoring_demo.XXXXXX")
	trap stop_cluster EXIT
	trap 'exit 130' INT TERM
	mkdir -p "$DIR/test/data"
	cp test/data/credit_data.csv "$DIR/test/data/"
	cp "$DEMO_SQL" "$DIR/demo.sql"
	chmod 755 "$DIR"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$DIR"
	fi
	cd "$DIR"    # the server user may not be able to enter the repository
	PORT=$(free_port)
	as_pg "$PGBIN/initdb" -D "$DIR/data" -A trust -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1 ||
		{ cat "$DIR/initdb.log" >&2; exit 1; }
	if ! as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w \
		-o "-p $PORT -c listen_addresses='' -c unix_socket_directories='$DIR'" start >/dev/null; then
		cat "$DIR/server.log" >&2
		exit 1
	fi
	echo "cluster in $DIR, socket $DIR/.s.PGSQL.$PORT"
}

# Run the demo SQL from $DIR, echoing each line (comments too) before its result.
run_demo()
{
	say "demo"
	as_pg "$PGBIN/psql" -X -h "$DIR" -p "$PORT" -d postgres -v ON_ERROR_STOP=1 --echo-all \
		-f demo.sql
}

install_packages
build
start_cluster
run_demo

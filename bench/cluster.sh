# bench/cluster.sh: the throwaway PostgreSQL cluster every benchmark runs in.  Source it after
# scripts/common.sh; it needs PGBIN, PORT and KEEP (0 or 1), and sets DIR.

DIR=    # the cluster's temporary directory

# Starts a cluster in a new temporary directory named after $1, with shared_buffers $2 and any
# further postgresql.conf lines as the remaining arguments: a unix socket only, no durability,
# no autovacuum, parallel query off (a query that wants it sets it).
cluster_start()
{
	local name=$1 buffers=$2 line
	shift 2
	say "starting a throwaway cluster"
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/credit_scoring_$name.XXXXXX")
	chmod 755 "$DIR"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$DIR"
	fi
	cd "$DIR" || exit 1
	as_pg "$PGBIN/initdb" -D "$DIR/data" -A trust -E UTF8 --locale=C.UTF-8 -N >"$DIR/initdb.log" 2>&1 ||
		{ cat "$DIR/initdb.log" >&2; exit 1; }
	{
		printf '\n# bench (%s)\n' "$name"
		printf "listen_addresses = ''\nport = %s\nunix_socket_directories = '%s'\n" "$PORT" "$DIR"
		printf "shared_buffers = '%s'\nmax_parallel_workers_per_gather = 0\n" "$buffers"
		printf 'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
		printf "autovacuum = off\nlc_messages = 'C'\n"
		for line in "$@"; do
			printf '%s\n' "$line"
		done
	} | as_pg tee -a "$DIR/data/postgresql.conf" >/dev/null
	if ! as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null; then
		cat "$DIR/server.log" >&2
		exit 1
	fi
	echo "cluster in $DIR (socket $DIR/.s.PGSQL.$PORT), shared_buffers $buffers"
}

# Stops the cluster and removes its directory (keeps it, stopped, when KEEP=1).
cluster_stop()
{
	if [ -n "$DIR" ] && [ -d "$DIR" ]; then
		if [ -f "$DIR/data/postmaster.pid" ]; then
			as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
		fi
		if [ "${KEEP:-0}" = 1 ]; then
			echo "kept $DIR"
		else
			rm -rf "$DIR"
		fi
	fi
}

# psql on the cluster's postgres database, stopping at the first error.
cluster_psql()
{
	as_pg "$PGBIN/psql" -X -h "$DIR" -p "$PORT" -d postgres -v ON_ERROR_STOP=1 "$@"
}

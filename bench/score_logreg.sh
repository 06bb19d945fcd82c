#!/usr/bin/env bash
#
# bench/score_logreg.sh: how fast cs_predict scores, against the same logistic regression written
# as a plain SQL expression.
#
# It starts a throwaway PostgreSQL 15 cluster, generates a table of ROWS rows with 20 float8
# features (1% NULLs each) and a boolean target, trains a logistic regression on it with
# cs_train, builds the model's SQL expression from cs_model_info and cs_coefficients, checks that
# the two agree, then times, single-core and in one session, alternating rounds of
#
#   SELECT sum(cs_predict('bench', t.*)) FROM t                                  (the target)
#   SELECT sum(<the model as a SQL expression>) FROM t                           (the baseline)
#   SELECT sum(cs_predict(m.blob, t.*)) FROM t, cs_models m WHERE m.name = ...   (information)
#   SELECT sum(cs_predict('bench', to_jsonb(t))) FROM t                          (information)
#
# and prints the median times and the ratio cs_predict / SQL expression against the target <= 1.0.
# The SQL is bench/score_logreg.sql.
#
# It uses the installed extension (make && sudo make install first).  PostgreSQL refuses to run
# as root, so when run as root the cluster runs as the `postgres` user.  The cluster lives in a
# temporary directory, listens only on a unix socket there, and is stopped and removed on exit.
#
# Environment:
#   ROWS=1000000        rows to generate and score
#   REPS=5              timed rounds (after one warm-up round)
#   JIT=on              jit for the timed queries: on (PostgreSQL's default), off, or both
#                       (each round then runs every query with jit on and with jit off)
#   SHARED_BUFFERS=1GB  must hold the table (about 210 MB per million rows)
#   PG_CONFIG           pg_config of the PostgreSQL 15 installation (default: the Debian path)
#   KEEP=1              keep the cluster's directory (and stop the server) at the end

set -eu -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
ROWS=${ROWS:-1000000}
REPS=${REPS:-5}
JIT=${JIT:-on}
SHARED_BUFFERS=${SHARED_BUFFERS:-1GB}
KEEP=${KEEP:-0}

DIR=    # the cluster's temporary directory
PORT=54329

say() { printf '\n=== %s ===\n' "$*"; }
die() { echo "error: $*" >&2; exit 1; }

# Run a command as the cluster's owner: postgres when root, else ourselves.
as_pg()
{
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u postgres -- "$@"
	else
		"$@"
	fi
}

# Stop the cluster and remove its directory (unless KEEP=1).
cleanup()
{
	if [ -n "$DIR" ] && [ -d "$DIR" ]; then
		if [ -f "$DIR/data/postmaster.pid" ]; then
			as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -m fast -w stop >/dev/null 2>&1 || true
		fi
		if [ "$KEEP" = 1 ]; then
			echo "kept $DIR"
		else
			rm -rf "$DIR"
		fi
	fi
}

check()
{
	[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer"
	[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer"
	[[ $JIT =~ ^(on|off|both)$ ]] || die "JIT must be on, off or both"
	[ -x "$PG_CONFIG" ] || die "no pg_config at $PG_CONFIG (set PG_CONFIG)"
	PGBIN=$("$PG_CONFIG" --bindir)
	local ext so
	ext=$("$PG_CONFIG" --sharedir)/extension/credit_scoring.control
	so=$("$PG_CONFIG" --pkglibdir)/credit_scoring.so
	[ -f "$ext" ] && [ -f "$so" ] ||
		die "credit_scoring is not installed; run 'make && sudo make install' in $REPO"
	# the benchmark measures the installed library: say so when the tree's build differs
	if [ -f "$REPO/credit_scoring.so" ] && ! cmp -s "$REPO/credit_scoring.so" "$so"; then
		echo "warning: $so differs from $REPO/credit_scoring.so;" \
			"this measures the installed one (run 'make install' to measure the tree)" >&2
	fi
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "run as root, but there is no postgres user to run the server"
	fi
}

start_cluster()
{
	say "starting a throwaway cluster"
	DIR=$(mktemp -d "${TMPDIR:-/tmp}/credit_scoring_bench.XXXXXX")
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	# the server user may not be able to read the repository: copy what psql reads
	cp "$REPO/bench/score_logreg.sql" "$DIR/"
	chmod 755 "$DIR"
	chmod 644 "$DIR/score_logreg.sql"
	if [ "$(id -u)" -eq 0 ]; then
		chown -R postgres: "$DIR"
	fi
	cd "$DIR"
	as_pg "$PGBIN/initdb" -D "$DIR/data" -A trust -E UTF8 --locale=C.UTF-8 -N >"$DIR/initdb.log" 2>&1 ||
		{ cat "$DIR/initdb.log" >&2; exit 1; }
	# A throwaway instance: no durability.  Parallel query off, so both forms run on one core.
	cat >>"$DIR/data/postgresql.conf" <<-EOF

		# bench/score_logreg.sh
		listen_addresses = ''
		port = $PORT
		unix_socket_directories = '$DIR'
		shared_buffers = '$SHARED_BUFFERS'
		max_parallel_workers_per_gather = 0
		fsync = off
		synchronous_commit = off
		full_page_writes = off
		autovacuum = off
		lc_messages = 'C'
		extra_float_digits = 1
	EOF
	if ! as_pg "$PGBIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w start >/dev/null; then
		cat "$DIR/server.log" >&2
		exit 1
	fi
	echo "cluster in $DIR (socket $DIR/.s.PGSQL.$PORT), shared_buffers $SHARED_BUFFERS"
}

check
start_cluster
say "benchmark ($ROWS rows, $REPS rounds, jit $JIT)"
# stdout line-buffered, so that the server's notices (stderr) come out in order
as_pg stdbuf -oL "$PGBIN/psql" -X -h "$DIR" -p "$PORT" -d postgres -v ON_ERROR_STOP=1 \
	-v rows="$ROWS" -v reps="$REPS" -v jit="$JIT" -f score_logreg.sql 2>&1

#!/usr/bin/env bash
#
# bench/score_logreg.sh: how fast cs_predict scores, against the same logistic regression written
# as a plain SQL expression.
#
# It starts a throwaway PostgreSQL 15 cluster, generates a table t of ROWS rows with 20 float8
# features (1% NULLs each) and a boolean target, trains a logistic regression on it with
# cs_train, builds the model's SQL expression from cs_model_info and cs_coefficients, checks that
# the two agree (and the other forms with them), then times, single-core and in one session, one
# warm-up round and REPS rounds (each runs every query once, in rotating order) of
#
#   1 SELECT sum(cs_predict('bench', t.*)) FROM t                                 the target
#   2 SELECT sum(<the model as a SQL expression>) FROM t                          the baseline
#   3 SELECT sum(cs_predict(m.blob, t.*)) FROM t, cs_models m WHERE m.name = ...  information
#   4 SELECT sum(cs_predict('bench', to_jsonb(t))) FROM t                         information
#   5 SELECT sum(x1) FROM t                                        floor: the scan alone
#   6 SELECT count(t.*) FROM t                                     floor: the scan and building t.*
#
# and prints the median times and the ratio cs_predict / SQL expression against the target
# (<= 1.0), one verdict line per jit setting.  The SQL is bench/score_logreg.sql.
#
# It uses the installed extension (make && sudo make install first).  PostgreSQL refuses to run
# as root, so when run as root the cluster runs as the `postgres` user.  The cluster lives in a
# temporary directory, listens only on a unix socket there, and is stopped and removed on exit.
# The exit status is 0 when the benchmark ran, whatever the verdict.
#
# Environment:
#   ROWS=1000000        rows to generate and score
#   REPS=5              timed rounds (after one warm-up round)
#   JIT=both            jit for the timed queries: on (PostgreSQL's default), off, or both
#                       (each round then runs every query with jit on and with jit off)
#   SHARED_BUFFERS=1GB  must hold the table (about 200 MB per million rows)
#   PG_CONFIG           pg_config of the PostgreSQL 15 installation (default: the Debian path)
#   KEEP=1              keep the cluster's directory (and stop the server) at the end
#   PROFILE=1           then profile the backend with perf while it runs each query of
#                       PROFILE_FORMS three times (jit off), and print the hottest functions
#   PROFILE_FORMS="1 2" the queries to profile, by the numbers above

set -eu -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
source "$REPO/scripts/common.sh"
# shellcheck source=bench/cluster.sh
source "$REPO/bench/cluster.sh"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
ROWS=${ROWS:-1000000}
REPS=${REPS:-5}
JIT=${JIT:-both}
SHARED_BUFFERS=${SHARED_BUFFERS:-1GB}
KEEP=${KEEP:-0}
PROFILE=${PROFILE:-0}
PROFILE_FORMS=${PROFILE_FORMS:-1 2}

PORT=54329

die() { echo "error: $*" >&2; exit 1; }

cleanup()
{
	cluster_stop
}

check()
{
	[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer"
	[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer"
	[[ $JIT =~ ^(on|off|both)$ ]] || die "JIT must be on, off or both"
	[[ $PROFILE_FORMS =~ ^[1-6]( [1-6])*$ ]] || die "PROFILE_FORMS must list forms 1 to 6"
	if [ "$PROFILE" = 1 ]; then
		command -v perf >/dev/null || die "PROFILE=1 needs perf"
	fi
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
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	cluster_start bench "$SHARED_BUFFERS" "extra_float_digits = 1"
	# the server user may not be able to read the repository: copy what psql reads
	cp "$REPO/bench/score_logreg.sql" "$DIR/"
	chmod 644 "$DIR/score_logreg.sql"
}

psql_pg()
{
	cluster_psql "$@"
}

# Profile the backend while it runs one of the benchmark's queries three times.
profile_form()
{
	local form=$1 label sql script=$DIR/profile_$1.sql pidfile=$DIR/profile_$1.pid
	local data=$DIR/profile_$1.data psql_pid perf_pid backend i
	label=$(psql_pg -qtA -c "SELECT label FROM bench_query WHERE form = $form")
	sql=$(psql_pg -qtA -c "SELECT sql FROM bench_query WHERE form = $form")
	say "profile: $label (3 runs, jit off)"
	{
		printf 'SET max_parallel_workers_per_gather = 0;\nSET jit = off;\n'
		printf '\\o %s\nSELECT pg_backend_pid();\n\\o\nSELECT pg_sleep(1);\n' "$pidfile"
		for i in 1 2 3; do printf '%s;\n' "$sql"; done
	} >"$script"
	chmod 644 "$script"
	if [ "$(id -u)" -eq 0 ]; then
		chown postgres: "$script"
	fi
	rm -f "$pidfile"
	psql_pg -qtA -f "$script" >/dev/null &
	psql_pid=$!
	for i in $(seq 100); do
		backend=$(grep -s '^[0-9][0-9]*$' "$pidfile" || true)
		[ -n "$backend" ] && break
		sleep 0.1
	done
	[ -n "$backend" ] || die "no backend pid in $pidfile"
	perf record -g -o "$data" -p "$backend" >"$DIR/profile_$form.log" 2>&1 &
	perf_pid=$!
	wait "$psql_pid"
	kill -INT "$perf_pid"
	wait "$perf_pid" || true
	echo "-- self time (perf report --no-children), functions above 1%"
	perf report -i "$data" --stdio --no-children -g none --percent-limit 1 2>/dev/null |
		grep -v -e '^#' -e '^$' | head -n 30
	echo "-- with callees (perf report --children), named functions above 3%"
	perf report -i "$data" --stdio --children -g none --percent-limit 3 2>/dev/null |
		grep -v -e '^#' -e '^$' -e '\] 0x0000' |
		grep -v -E '\] (__libc_start_call_main|main|PostmasterMain|PostgresMain|PortalRun|standard_ExecutorRun)$' |
		head -n 30
}

check
start_cluster
say "benchmark ($ROWS rows, $REPS rounds, jit $JIT)"
# stdout line-buffered, so that the server's notices (stderr) come out in order
as_pg stdbuf -oL "$PGBIN/psql" -X -h "$DIR" -p "$PORT" -d postgres -v ON_ERROR_STOP=1 \
	-v rows="$ROWS" -v reps="$REPS" -v jit="$JIT" -f score_logreg.sql 2>&1 |
	sed -u 's/^psql:score_logreg\.sql:[0-9]*: //'
if [ "$PROFILE" = 1 ]; then
	for form in $PROFILE_FORMS; do
		profile_form "$form"
	done
fi

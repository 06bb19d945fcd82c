#!/usr/bin/env bash
#
# bench/dnn.sh: the dense neural network ('dnn') against scikit-learn's MLPClassifier, single
# core, layers [64, 32]:
#
#   1. training: the time of one epoch (batch 200) on generated ROWS x 20 rows, cs_mlp_fit (the C
#      core, through test/unit/mlp_parity --bench) against MLPClassifier.partial_fit on the same
#      data (test/reference/mlp_reference.py --bench), ratio C / sklearn, target <= 1.0;
#   2. scoring: in a throwaway PostgreSQL 15 cluster, a seeded table t(x1..x20 float8, y boolean)
#      of ROWS rows, a model trained on it with cs_train('t', 'dnn', 'y', name => 'bench_dnn',
#      params => '{"hidden_layers": [64, 32], "epochs": 1, "early_stopping": false}'), and
#      SELECT sum(cs_predict('bench_dnn', t.*)) FROM t timed server-side (clock_timestamp deltas
#      in a DO block, parallel query off, one warm-up run then REPS runs, median) against
#      MLPClassifier((64, 32)).predict_proba on the same rows (exported with COPY to CSV, loaded
#      with numpy, OpenBLAS limited to one thread; the model fitted for one epoch on 10,000 rows
#      first so that it has weights; only predict_proba is timed, one warm-up call then REPS
#      calls, median: bench/dnn_predict.py); ratio cs_predict / predict_proba, target <= 1.0.
#      The CPU time of both sides is printed too (the backend's from /proc/self/schedstat,
#      Python's process_time): on a shared machine the wall clock counts other processes' turns.
#
# It uses the installed extension (make && sudo make install first) and Debian's Python
# (/usr/bin/python3, scikit-learn 1.2.1).  PostgreSQL refuses to run as root, so when run as root
# the cluster runs as the `postgres` user.  Every temporary directory is removed on exit.  The
# exit status is 0 when the benchmark ran, whatever the verdicts.
#
# Environment:
#   ROWS=1000000        rows for both parts
#   REPS=3              timed scoring runs on each side (after one warm-up run)
#   THREADS=1           BLAS threads for the training part (the scoring part is single-threaded)
#   PARTS="train score" which parts to run
#   SHARED_BUFFERS=1GB  must hold the table (about 200 MB per million rows)
#   PG_CONFIG           pg_config of the PostgreSQL 15 installation (default: the Debian path)
#   PYTHON=/usr/bin/python3

set -eu -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
source "$REPO/scripts/common.sh"
# shellcheck source=bench/cluster.sh
source "$REPO/bench/cluster.sh"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
ROWS=${ROWS:-1000000}
REPS=${REPS:-3}
THREADS=${THREADS:-1}
PARTS=${PARTS:-train score}
SHARED_BUFFERS=${SHARED_BUFFERS:-1GB}
PYTHON=${PYTHON:-/usr/bin/python3}

EPOCHDIR= # the epoch benchmark's temporary directory
PORT=54331

die() { echo "error: $*" >&2; exit 1; }

cleanup()
{
	cluster_stop
	if [ -n "$EPOCHDIR" ] && [ -d "$EPOCHDIR" ]; then
		rm -rf "$EPOCHDIR"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

check()
{
	[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer"
	[ "$ROWS" -ge 10000 ] || die "ROWS must be at least 10000 (sklearn is fitted on 10,000 rows)"
	[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer"
	[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer"
	[[ $PARTS =~ ^(train|score)( (train|score))*$ ]] || die "PARTS must list train and/or score"
	[ -x "$PYTHON" ] || die "no $PYTHON"
	"$PYTHON" -c 'import sklearn, numpy' 2>/dev/null || die "$PYTHON has no scikit-learn"
	[ -x "$PG_CONFIG" ] || die "no pg_config at $PG_CONFIG (set PG_CONFIG)"
	PGBIN=$("$PG_CONFIG" --bindir)
	if [[ $PARTS == *score* ]]; then
		local ext so
		ext=$("$PG_CONFIG" --sharedir)/extension/credit_scoring.control
		so=$("$PG_CONFIG" --pkglibdir)/credit_scoring.so
		[ -f "$ext" ] && [ -f "$so" ] ||
			die "credit_scoring is not installed; run 'make && sudo make install' in $REPO"
		if [ -f "$REPO/credit_scoring.so" ] && ! cmp -s "$REPO/credit_scoring.so" "$so"; then
			echo "warning: $so differs from $REPO/credit_scoring.so;" \
				"the scoring part measures the installed one" >&2
		fi
		if [ "$(id -u)" -eq 0 ]; then
			id postgres >/dev/null 2>&1 || die "run as root, but there is no postgres user"
		fi
	fi
}

# Part 1: one epoch, C core against scikit-learn, on the same generated data.
bench_train()
{
	say "training: one epoch, $ROWS x 20 rows, layers (64, 32), batch 200, $THREADS BLAS thread(s)"
	EPOCHDIR=$(mktemp -d "${TMPDIR:-/tmp}/credit_scoring_dnn_epoch.XXXXXX")
	(cd "$REPO" && make -s test/unit/mlp_parity)
	(cd "$REPO" && "$PYTHON" test/reference/mlp_reference.py --bench "$EPOCHDIR" \
		--threads "$THREADS" --rows "$ROWS")
	(cd "$REPO" && OPENBLAS_NUM_THREADS=$THREADS test/unit/mlp_parity --bench "$EPOCHDIR" \
		--threads "$THREADS") | tee "$EPOCHDIR/c.out"
	TRAIN_LINE=$(grep '^ratio C / sklearn' "$EPOCHDIR/c.out" || true)
	rm -rf "$EPOCHDIR"
	EPOCHDIR=
}

start_cluster()
{
	cluster_start dnn "$SHARED_BUFFERS"
}

psql_pg()
{
	as_pg stdbuf -oL "$PGBIN/psql" -X -q -h "$DIR" -p "$PORT" -d postgres -v ON_ERROR_STOP=1 "$@"
}

# Part 2: cs_predict against predict_proba on the same table.
bench_score()
{
	start_cluster
	say "scoring: $ROWS rows, layers (64, 32), single core, $REPS runs after a warm-up"
	psql_pg -v rows="$ROWS" -v reps="$REPS" -v csv="$DIR/t.csv" 2>&1 <<-'EOF' | tee "$DIR/sql.out"
		\pset footer off
		SET client_min_messages = notice;
		SET max_parallel_workers_per_gather = 0;
		CREATE EXTENSION credit_scoring;
		CREATE EXTENSION pg_prewarm;
		-- x_j ~ Normal(0, 1) (Box-Muller), no NULLs; y from a logistic of a nonlinear function
		-- of x1..x3 and a linear one of the rest.  Seeded, serial plan: the same rows every run.
		SELECT setseed(0.5) AS seeded \gset
		SELECT format(
		    'CREATE TABLE t AS SELECT %s, random() < 1 / (1 + exp(-(%s + 0.5 * x1 * x2 - 0.5 * abs(x3)))) AS y FROM (SELECT %s FROM generate_series(1, %s)) s',
		    string_agg(format('x%s', j), ', ' ORDER BY j),
		    string_agg(format('(%s) * x%s', ((j * 7) % 11 - 5) / 10.0, j), ' + ' ORDER BY j),
		    string_agg(format('sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS x%s', j),
		               ', ' ORDER BY j),
		    :rows)
		  FROM generate_series(1, 20) AS j
		\gexec
		VACUUM (FREEZE, ANALYZE) t;
		SELECT count(*) AS rows, round(avg(y::int), 4) AS positive_rate,
		       pg_size_pretty(pg_relation_size('t')) AS table_size FROM t;
		SELECT clock_timestamp() AS t0 \gset
		SELECT cs_train('t', 'dnn', 'y', name => 'bench_dnn',
		                params => '{"hidden_layers": [64, 32], "epochs": 1, "early_stopping": false}') AS run_id \gset
		SELECT :run_id AS run_id,
		       round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2) AS train_s,
		       r.n_train, r.threads,
		       round((r.metrics #>> '{test,auc}')::numeric, 4) AS test_auc,
		       octet_length(m.blob) AS blob_bytes
		  FROM cs_runs r JOIN cs_models m USING (run_id) WHERE r.run_id = :run_id;
		SELECT pg_prewarm('t') AS prewarmed_blocks;
		CREATE TEMP TABLE timing (run int, seconds float8, cpu float8, total float8);
		-- the backend's time on a CPU in ns (/proc/self/schedstat), NULL where unavailable
		CREATE FUNCTION pg_temp.cpu_ns() RETURNS bigint LANGUAGE plpgsql AS $$
		BEGIN
		    RETURN split_part(pg_read_file('/proc/self/schedstat'), ' ', 1)::bigint;
		EXCEPTION WHEN OTHERS THEN
		    RETURN NULL;
		END
		$$;
		SET bench.reps = :reps;
		DO $$
		DECLARE
		    t0 timestamptz;
		    c0 bigint;
		    s  float8;
		BEGIN
		    FOR i IN 0 .. current_setting('bench.reps')::int LOOP
		        c0 := pg_temp.cpu_ns();
		        t0 := clock_timestamp();
		        EXECUTE 'SELECT sum(cs_predict(''bench_dnn'', t.*)) FROM t' INTO s;
		        INSERT INTO timing VALUES (i, extract(epoch FROM clock_timestamp() - t0),
		                                   (pg_temp.cpu_ns() - c0) / 1e9, s);
		    END LOOP;
		END
		$$;
		SELECT CASE WHEN run = 0 THEN 'warm-up' ELSE 'run ' || run END AS cs_predict,
		       round((seconds * 1e3)::numeric, 1) AS ms,
		       round((seconds * 1e6 / :rows)::numeric, 3) AS us_per_row,
		       round((cpu * 1e3)::numeric, 1) AS cpu_ms,
		       round(total::numeric, 4) AS sum
		  FROM timing ORDER BY run;
		SELECT 'cs_predict_median_seconds ' ||
		       (percentile_cont(0.5) WITHIN GROUP (ORDER BY seconds))::text AS line,
		       'cs_predict_median_cpu_seconds ' ||
		       coalesce((percentile_cont(0.5) WITHIN GROUP (ORDER BY cpu))::text, '') AS cpu_line
		  FROM timing WHERE run > 0 \gset
		\echo :line
		\echo :cpu_line
		COPY (SELECT x1, x2, x3, x4, x5, x6, x7, x8, x9, x10, x11, x12, x13, x14, x15, x16, x17,
		             x18, x19, x20, y::int FROM t) TO :'csv' (FORMAT csv);
	EOF
	grep -q '^cs_predict_median_seconds ' "$DIR/sql.out" || die "the SQL part failed"
	CS_SECONDS=$(sed -n 's/^cs_predict_median_seconds //p' "$DIR/sql.out")
	CS_CPU=$(sed -n 's/^cs_predict_median_cpu_seconds //p' "$DIR/sql.out")
	say "scikit-learn predict_proba on the same $ROWS rows"
	OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 "$PYTHON" "$REPO/bench/dnn_predict.py" "$DIR/t.csv" \
		--reps "$REPS" --threads 1 | tee "$DIR/py.out"
	SK_SECONDS=$(sed -n 's/^median_seconds //p' "$DIR/py.out")
	SK_CPU=$(sed -n 's/^median_cpu_seconds //p' "$DIR/py.out")
	[ -n "$SK_SECONDS" ] || die "the scikit-learn part failed"
	SCORE_LINE=$(awk -v c="$CS_SECONDS" -v s="$SK_SECONDS" -v n="$ROWS" 'BEGIN {
		r = c / s
		printf "cs_predict / sklearn predict_proba = %.3f (median %.1f ms vs %.1f ms, %d rows, %.3f vs %.3f us/row): %s",
			r, c * 1e3, s * 1e3, n, c * 1e6 / n, s * 1e6 / n, (r <= 1.0 ? "PASS" : "FAIL") }')
	# CPU time as well: on a shared machine the wall clock also counts other processes' turns
	if [ -n "$CS_CPU" ] && [ -n "$SK_CPU" ]; then
		SCORE_CPU_LINE=$(awk -v c="$CS_CPU" -v s="$SK_CPU" -v n="$ROWS" 'BEGIN {
			printf "CPU time: cs_predict / sklearn predict_proba = %.3f (median %.1f ms vs %.1f ms, %.3f vs %.3f us/row)",
				c / s, c * 1e3, s * 1e3, c * 1e6 / n, s * 1e6 / n }')
	fi
}

check
TRAIN_LINE=
SCORE_LINE=
SCORE_CPU_LINE=
for part in $PARTS; do
	case $part in
	train) bench_train ;;
	score) bench_score ;;
	esac
done
say "summary (target <= 1.0 for both)"
[ -n "$TRAIN_LINE" ] && echo "training epoch: $TRAIN_LINE"
[ -n "$SCORE_LINE" ] && echo "scoring: $SCORE_LINE"
[ -n "$SCORE_CPU_LINE" ] && echo "scoring, $SCORE_CPU_LINE"
exit 0

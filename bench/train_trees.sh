#!/usr/bin/env bash
#
# bench/train_trees.sh: in-database training of the tree ensembles, and scoring with boosting,
# against XGBoost and scikit-learn on the same data (issue 3, part 9).
#
# It starts a throwaway PostgreSQL 15 cluster, generates a table t of ROWS rows with 20 float8
# features (1% NULLs each) and a boolean target drawn from a nonlinear logistic model, exports it
# with COPY to a CSV file in the cluster's directory, and measures, with THREADS training threads
# (SET credit_scoring.training_threads):
#
#   1 boosting: cs_train(t, 'xgboost', 'y', name => 'bench_xgb', params => '{"n_estimators": 200,
#     "max_depth": 6, "learning_rate": 0.1, "max_bin": 256}'), end to end (table read, training,
#     evaluation: cs_runs.timings->'total', and the wall clock of the call), against
#     XGBClassifier(tree_method='hist', same parameters, n_jobs=THREADS).fit on the same training
#     rows (bench/train_trees.py reproduces cs_train's seeded split; only fit is timed).  Target
#     ratio <= 1.0.  AUC: ours on its test split (cs_runs.metrics->'test'->'auc'), XGBoost's on
#     the same test rows; target: within 0.002.
#   2 scoring: SELECT sum(cs_predict('bench_xgb', t.*)) FROM t, one core (parallel query off),
#     median of 3 runs after a warm-up, against XGBoost's predict_proba on the same rows with one
#     thread (nthread=1), median of 3 after a warm-up.  Target ratio <= 1.0.
#   3 forest: cs_train(t, 'random_forest', ..., params => '{"n_estimators": 100, "max_depth": 12}')
#     against RandomForestClassifier(n_estimators=100, max_depth=12, n_jobs=THREADS).fit with
#     NULLs imputed as -1 (below every value of the data).  Target ratio <= 0.5.
#
# The Python half is bench/train_trees.py, run with /usr/bin/python3 (Debian's python3-xgboost
# 1.7 and python3-sklearn 1.2).  It uses the installed extension (make && sudo make install first).
# When run as root the cluster runs as the postgres user.  The cluster lives in a temporary
# directory, listens only on a unix socket there, and is stopped and removed on exit.
#
# Environment:
#   ROWS=1000000        rows to generate (scikit-learn takes minutes at 1M; ROWS=200000 is quick)
#   THREADS=2           training threads, ours and theirs
#   MODELS="xgb forest" which parts to run (scoring runs with xgb)
#   SHARED_BUFFERS=1GB
#   PG_CONFIG           pg_config of the PostgreSQL 15 installation (default: the Debian path)
#   KEEP=1              keep the cluster's directory (and stop the server) at the end

set -eu -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
source "$REPO/scripts/common.sh"
# shellcheck source=bench/cluster.sh
source "$REPO/bench/cluster.sh"
# shellcheck source=bench/data.sh
source "$REPO/bench/data.sh"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
ROWS=${ROWS:-1000000}
THREADS=${THREADS:-2}
MODELS=${MODELS:-xgb forest}
SHARED_BUFFERS=${SHARED_BUFFERS:-1GB}
KEEP=${KEEP:-0}
PY=/usr/bin/python3

PORT=54331

die() { echo "error: $*" >&2; exit 1; }

cleanup()
{
	cluster_stop
}

check()
{
	[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer"
	[[ $THREADS =~ ^[1-9][0-9]*$ ]] || die "THREADS must be a positive integer"
	[ -x "$PG_CONFIG" ] || die "no pg_config at $PG_CONFIG (set PG_CONFIG)"
	PGBIN=$("$PG_CONFIG" --bindir)
	local so
	so=$("$PG_CONFIG" --pkglibdir)/credit_scoring.so
	[ -f "$so" ] || die "credit_scoring is not installed; run 'make && sudo make install' in $REPO"
	if [ -f "$REPO/credit_scoring.so" ] && ! cmp -s "$REPO/credit_scoring.so" "$so"; then
		echo "warning: $so differs from $REPO/credit_scoring.so;" \
			"this measures the installed one (run 'make install' to measure the tree)" >&2
	fi
	$PY -c 'import numpy, xgboost, sklearn' 2>/dev/null ||
		die "$PY needs numpy, xgboost and sklearn (apt-get install python3-xgboost python3-sklearn)"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "run as root, but there is no postgres user to run the server"
	fi
}

start_cluster()
{
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	cluster_start trees "$SHARED_BUFFERS"
}

psql_pg()
{
	cluster_psql -q "$@"
}

now() { date +%s.%N; }
# ratio A B, 3 decimals
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t ? "PASS" : "FAIL") }'; }
# value of KEY in python output FILE
pyval() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

# Train one model in the database: prints the wall clock, cs_runs' total and its test AUC.
train_ours()
{
	local model=$1 name=$2 params=$3 t0 t1 row
	t0=$(now)
	row=$(psql_pg -tA -F ' ' <<-EOF
		SET credit_scoring.training_threads = $THREADS;
		SET client_min_messages = warning;
		SELECT cs_train('t', '$model', 'y', name => '$name', params => '$params') AS run_id \gset
		SELECT timings->>'total', timings->>'read', timings->>'train', timings->>'evaluate',
		       metrics #>> '{test,auc}', n_train, n_test
		  FROM cs_runs WHERE run_id = :run_id;
	EOF
	)
	t1=$(now)
	echo "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }') $row"
}

check
start_cluster

say "data: $ROWS rows, 20 float8 features, boolean target"
psql_pg <<-EOF
	CREATE EXTENSION credit_scoring;
	CREATE EXTENSION pg_prewarm;
	$(bench_table_sql t "$ROWS")
	SELECT pg_prewarm('t');
	\pset footer off
	SELECT count(*) AS rows, round(avg(y::int), 4) AS positive_rate,
	       round(avg((x1 IS NULL)::int), 4) AS null_rate_x1,
	       pg_size_pretty(pg_relation_size('t')) AS table_size
	  FROM t;
	$(bench_table_copy t "$DIR/t.csv")
EOF
echo "exported $DIR/t.csv ($(du -h "$DIR/t.csv" | cut -f1))"

SUMMARY=()
if [[ " $MODELS " == *" xgb "* ]]; then
	say "boosting: cs_train xgboost, 200 trees, depth 6, eta 0.1, 256 bins, $THREADS threads"
	read -r wall total tread ttrain teval auc ntrain ntest < <(train_ours xgboost bench_xgb \
		'{"n_estimators": 200, "max_depth": 6, "learning_rate": 0.1, "max_bin": 256}')
	echo "ours: wall $wall s, timings total $total s (read $tread, train $ttrain, evaluate $teval)," \
		"n_train $ntrain, test AUC $auc (n_test $ntest)"
	say "boosting: XGBoost hist, n_jobs=$THREADS (fit only), then predict with nthread=1"
	$PY "$REPO/bench/train_trees.py" xgb "$DIR/t.csv" "$THREADS" | tee "$DIR/xgb.out"
	xfit=$(pyval "$DIR/xgb.out" fit_s); xauc=$(pyval "$DIR/xgb.out" auc)
	xpred=$(pyval "$DIR/xgb.out" predict_s)
	r=$(ratio "$total" "$xfit"); rw=$(ratio "$wall" "$xfit")
	SUMMARY+=("boosting training: ours $total s (wall $wall s) / XGBoost fit $xfit s = $r (wall: $rw), target <= 1.0: $(verdict "$r" 1.0); AUC ours $auc (test split) vs XGBoost $xauc (the same test rows): difference $(awk -v a="$auc" -v b="$xauc" 'BEGIN { printf "%+.4f", a - b }')")

	say "scoring: sum(cs_predict('bench_xgb', t.*)) over $ROWS rows, one core"
	out=$(psql_pg -tA -F ' ' <<-'EOF'
		SET max_parallel_workers_per_gather = 0;
		CREATE FUNCTION pg_temp.bench_time(q text, OUT s float8, OUT v float8) LANGUAGE plpgsql AS $f$
		DECLARE t0 timestamptz;
		BEGIN t0 := clock_timestamp(); EXECUTE q INTO v; s := extract(epoch FROM clock_timestamp() - t0); END $f$;
		CREATE TEMP TABLE r AS SELECT i, (pg_temp.bench_time($q$SELECT sum(cs_predict('bench_xgb', t.*)) FROM t$q$)).*
		  FROM generate_series(0, 3) i;
		SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, 3), round(min(v)::numeric, 3),
		       string_agg(round(s::numeric, 3)::text, '/' ORDER BY i)
		  FROM r WHERE i > 0;
	EOF
	)
	read -r spred ssum sall <<<"$out"
	echo "ours: median $spred s (runs $sall), sum $ssum; XGBoost predict_proba nthread=1: median $xpred s, sum $(pyval "$DIR/xgb.out" predict_sum)"
	r=$(ratio "$spred" "$xpred")
	SUMMARY+=("scoring: cs_predict $spred s / XGBoost predict (nthread=1) $xpred s = $r, target <= 1.0: $(verdict "$r" 1.0)")
fi

if [[ " $MODELS " == *" forest "* ]]; then
	say "forest: cs_train random_forest, 100 trees, max_depth 12, $THREADS threads"
	read -r wall total tread ttrain teval auc ntrain ntest < <(train_ours random_forest bench_rf \
		'{"n_estimators": 100, "max_depth": 12}')
	echo "ours: wall $wall s, timings total $total s (read $tread, train $ttrain, evaluate $teval)," \
		"n_train $ntrain, test AUC $auc (n_test $ntest)"
	say "forest: scikit-learn RandomForestClassifier(n_jobs=$THREADS, max_depth=12), NULL as -1"
	$PY "$REPO/bench/train_trees.py" forest "$DIR/t.csv" "$THREADS" | tee "$DIR/forest.out"
	sfit=$(pyval "$DIR/forest.out" fit_s); sauc=$(pyval "$DIR/forest.out" auc)
	r=$(ratio "$total" "$sfit"); rw=$(ratio "$wall" "$sfit")
	SUMMARY+=("forest training: ours $total s (wall $wall s) / scikit-learn fit $sfit s = $r (wall: $rw), target <= 0.5: $(verdict "$r" 0.5); AUC ours $auc vs scikit-learn $sauc")
fi

say "summary ($ROWS rows, $THREADS threads)"
printf '%s\n' "${SUMMARY[@]}"

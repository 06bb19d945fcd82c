#!/usr/bin/env bash
#
# bench/treeshap.sh: TreeSHAP in the database against XGBoost's pred_contribs (issue 6, part 7).
#
# It starts a throwaway PostgreSQL 15 cluster, generates the tree benchmarks' table (bench/data.sh:
# 20 float8 features with 1% NULLs each, a nonlinear boolean target) with TRAIN_ROWS rows, trains
# XGBoost's 200-tree depth-6 model on it in Python (tree_method hist, eta 0.1, 256 bins), imports
# that model with cs_import_xgboost, so both sides explain the very same trees, and times, on the
# first EXPLAIN_ROWS rows of the table:
#
#   ours:   SELECT sum(v[1]) FROM (SELECT cs_shap_values('shap_xgb', e.*) v FROM e) s, one core
#           (parallel query off), median of 3 runs after a warm-up, server-side clock;
#   theirs: Booster(nthread=1).predict(DMatrix, pred_contribs=True) on the same rows, median of 3
#           after a warm-up.
#
# and prints the ratio (target <= 1.0) and the largest difference between the two sets of values
# (both are exact path-dependent TreeSHAP: expect float rounding, about 1e-6).  With
# INTERACTIONS=1 it also times cs_shap_interactions against pred_interactions.
#
# The Python half is bench/treeshap.py, run with /usr/bin/python3 (Debian's python3-xgboost 1.7).
# It uses the installed extension (make && sudo make install first).  When run as root the
# cluster runs as the postgres user.  The cluster lives in a temporary directory, listens only on
# a unix socket there, and is stopped and removed on exit.
#
# Environment:
#   TRAIN_ROWS=200000   rows the model is trained on (the model's size does not depend on it much)
#   EXPLAIN_ROWS=10000  rows explained
#   THREADS=2           XGBoost's training threads (explaining uses one thread on both sides)
#   INTERACTIONS=0      1: also time interaction values (pred_interactions)
#   SHARED_BUFFERS=256MB
#   PG_CONFIG           pg_config of the PostgreSQL 15 installation (default: the Debian path)
#   PORT=54333          the cluster's port (its socket lives in the temporary directory)
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
TRAIN_ROWS=${TRAIN_ROWS:-200000}
EXPLAIN_ROWS=${EXPLAIN_ROWS:-10000}
THREADS=${THREADS:-2}
INTERACTIONS=${INTERACTIONS:-0}
SHARED_BUFFERS=${SHARED_BUFFERS:-256MB}
KEEP=${KEEP:-0}
PORT=${PORT:-54333}
PY=/usr/bin/python3

die() { echo "error: $*" >&2; exit 1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t ? "PASS" : "FAIL") }'; }
pyval() { awk -v k="$2" '$1 == k { print $2 }' "$1"; }

[[ $TRAIN_ROWS =~ ^[1-9][0-9]*$ ]] || die "TRAIN_ROWS must be a positive integer"
[[ $EXPLAIN_ROWS =~ ^[1-9][0-9]*$ ]] || die "EXPLAIN_ROWS must be a positive integer"
[ "$EXPLAIN_ROWS" -le "$TRAIN_ROWS" ] || die "EXPLAIN_ROWS must not exceed TRAIN_ROWS"
[ -x "$PG_CONFIG" ] || die "no pg_config at $PG_CONFIG (set PG_CONFIG)"
PGBIN=$("$PG_CONFIG" --bindir)
[ -f "$("$PG_CONFIG" --pkglibdir)/credit_scoring.so" ] ||
	die "credit_scoring is not installed; run 'make && sudo make install' in $REPO"
$PY -c 'import numpy, xgboost' 2>/dev/null ||
	die "$PY needs numpy and xgboost (apt-get install python3-xgboost)"

trap cluster_stop EXIT
trap 'exit 130' INT TERM
cluster_start treeshap "$SHARED_BUFFERS"

say "data: $TRAIN_ROWS rows, 20 float8 features; the first $EXPLAIN_ROWS are explained"
{
	echo "CREATE EXTENSION credit_scoring;"
	bench_table_sql t "$TRAIN_ROWS"
	echo "CREATE TABLE e AS SELECT * FROM t LIMIT $EXPLAIN_ROWS;"
	bench_table_copy t "$DIR/t.csv"
	bench_table_copy e "$DIR/e.csv"
} | cluster_psql -q

say "XGBoost: 200 trees, depth 6, eta 0.1, 256 bins, hist, $THREADS threads"
$PY "$REPO/bench/treeshap.py" train "$DIR/t.csv" "$THREADS" "$DIR/model.json" | tee "$DIR/train.out"
chmod 644 "$DIR/model.json"

say "ours: cs_import_xgboost, then cs_shap_values over $EXPLAIN_ROWS rows, one core"
out=$(cluster_psql -qtA -F ' ' <<-EOF
	SET max_parallel_workers_per_gather = 0;
	SELECT cs_import_xgboost('shap_xgb', pg_read_file('$DIR/model.json')::jsonb) IS NOT NULL AS imported \gset
	CREATE FUNCTION pg_temp.bench_time(q text, OUT s float8, OUT v float8) LANGUAGE plpgsql AS \$f\$
	DECLARE t0 timestamptz;
	BEGIN t0 := clock_timestamp(); EXECUTE q INTO v; s := extract(epoch FROM clock_timestamp() - t0); END \$f\$;
	CREATE TEMP TABLE r AS
	SELECT i, (pg_temp.bench_time(\$q\$SELECT sum(v[1]) FROM (SELECT cs_shap_values('shap_xgb', e.*) v FROM e) s\$q\$)).*
	  FROM generate_series(0, 3) i;
	$(if [ "$INTERACTIONS" = 1 ]; then cat <<-'IEOF'
	CREATE TEMP TABLE ri AS
	SELECT i, (pg_temp.bench_time($q$SELECT sum(v[1][1]) FROM (SELECT cs_shap_interactions('shap_xgb', e.*) v FROM e) s$q$)).*
	  FROM generate_series(0, 3) i;
	IEOF
	else echo "CREATE TEMP TABLE ri AS SELECT 1 AS i, NULL::float8 AS s;"; fi)
	COPY (SELECT cs_shap_values('shap_xgb', e.*) FROM e) TO '$DIR/ours.csv';
	SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, 4),
	       string_agg(round(s::numeric, 3)::text, '/' ORDER BY i),
	       (SELECT coalesce(round(percentile_cont(0.5) WITHIN GROUP (ORDER BY s)::numeric, 4)::text, '-')
	          FROM ri WHERE i > 0)
	  FROM r WHERE i > 0;
EOF
)
read -r ours runs ours_int <<<"$out"
echo "ours: median $ours s (runs $runs)$([ "$INTERACTIONS" = 1 ] && echo ", interactions median $ours_int s")"

say "XGBoost: pred_contribs on the same rows, nthread=1"
$PY "$REPO/bench/treeshap.py" explain "$DIR/e.csv" "$DIR/model.json" "$DIR/ours.csv" \
	$([ "$INTERACTIONS" = 1 ] && echo interactions) | tee "$DIR/explain.out"
theirs=$(pyval "$DIR/explain.out" contribs_s)
diff=$(pyval "$DIR/explain.out" max_abs_diff)

say "summary ($EXPLAIN_ROWS rows explained, model of $(pyval "$DIR/train.out" trees) trees)"
r=$(ratio "$ours" "$theirs")
echo "TreeSHAP: cs_shap_values $ours s / XGBoost pred_contribs (nthread=1) $theirs s = $r," \
	"target <= 1.0: $(verdict "$r" 1.0); largest difference between the values $diff"
if [ "$INTERACTIONS" = 1 ]; then
	theirs_int=$(pyval "$DIR/explain.out" interactions_s)
	r=$(ratio "$ours_int" "$theirs_int")
	echo "interactions: cs_shap_interactions $ours_int s / XGBoost pred_interactions $theirs_int s = $r"
fi

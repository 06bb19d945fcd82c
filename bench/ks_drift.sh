#!/usr/bin/env bash
#
# bench/ks_drift.sh: how fast cs_ks_drift tests two 1,000,000-row columns, against SciPy's
# ks_2samp on the same data.
#
# It starts a throwaway PostgreSQL 15 cluster, generates two tables of ROWS float8 values each,
# drift_ref(x) ~ Normal(0, 1) and drift_cur(x) ~ Normal(SHIFT, 1) (seeded), writes them to CSV
# files, and times, single-core, one warm-up round and REPS rounds of
#
#   1 SELECT cs_ks_drift(x, cur) FROM (SELECT x, false FROM drift_ref               the target:
#                                      UNION ALL SELECT x, true FROM drift_cur) s   scan included
#   2 SELECT cs_ks_drift('drift_ref', 'drift_cur', 'x')                             information
#   3 SELECT count(x) FROM (... the same UNION ALL ...) s                           floor: the scan
#
# (server-side times: clock_timestamp() around EXECUTE), then scipy.stats.ks_2samp(ref, cur)
# (method 'auto', which is asymptotic here) REPS times in Debian's /usr/bin/python3 on the
# arrays read from the CSV files (reading them is not timed).  It checks that both give the
# same statistic (to 1e-12) and p-value (to 1e-6), then prints the medians and the ratio
# cs_ks_drift / ks_2samp against the target (<= 1.0).
#
# It uses the installed extension (make && sudo make install first).  PostgreSQL refuses to run
# as root, so when run as root the cluster runs as the `postgres` user.  The cluster lives in a
# temporary directory, listens only on a unix socket there, and is stopped and removed on exit.
# The exit status is 0 when the benchmark ran, whatever the verdict; non-zero when something
# failed, including the agreement check.
#
# Environment:
#   ROWS=1000000      values in each table
#   REPS=5            timed rounds (after one warm-up round)
#   SHIFT=0.002       mean of the current sample (the reference's is 0)
#   PARALLEL=0        1: also time query 1 with 2 parallel workers (information)
#   PG_CONFIG         pg_config of the PostgreSQL 15 installation (default: the Debian path)
#   KEEP=1            keep the cluster's directory (and stop the server) at the end

set -eu -o pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# shellcheck source=scripts/common.sh
source "$REPO/scripts/common.sh"
# shellcheck source=bench/cluster.sh
source "$REPO/bench/cluster.sh"
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
PYTHON=/usr/bin/python3
ROWS=${ROWS:-1000000}
REPS=${REPS:-5}
SHIFT=${SHIFT:-0.002}
PARALLEL=${PARALLEL:-0}
KEEP=${KEEP:-0}

PORT=54331

die() { echo "error: $*" >&2; exit 1; }

cleanup()
{
	cluster_stop
}

check()
{
	[[ $ROWS =~ ^[1-9][0-9]*$ ]] || die "ROWS must be a positive integer"
	[[ $REPS =~ ^[1-9][0-9]*$ ]] || die "REPS must be a positive integer"
	[[ $SHIFT =~ ^-?[0-9]+(\.[0-9]+)?$ ]] || die "SHIFT must be a decimal number"
	[ -x "$PG_CONFIG" ] || die "no pg_config at $PG_CONFIG (set PG_CONFIG)"
	PGBIN=$("$PG_CONFIG" --bindir)
	[ -f "$("$PG_CONFIG" --sharedir)/extension/credit_scoring.control" ] &&
		[ -f "$("$PG_CONFIG" --pkglibdir)/credit_scoring.so" ] ||
		die "credit_scoring is not installed; run 'make && sudo make install' in $REPO"
	if [ -f "$REPO/credit_scoring.so" ] &&
		! cmp -s "$REPO/credit_scoring.so" "$("$PG_CONFIG" --pkglibdir)/credit_scoring.so"; then
		echo "warning: the installed credit_scoring.so differs from the tree's build;" \
			"this measures the installed one (run 'make install' to measure the tree)" >&2
	fi
	"$PYTHON" -c 'import numpy, scipy.stats' 2>/dev/null ||
		die "$PYTHON cannot import numpy and scipy (Debian: apt-get install python3-scipy)"
	if [ "$(id -u)" -eq 0 ]; then
		id postgres >/dev/null 2>&1 || die "run as root, but there is no postgres user to run the server"
	fi
}

start_cluster()
{
	trap cleanup EXIT
	trap 'exit 130' INT TERM
	cluster_start ks 512MB "extra_float_digits = 1"
}

psql_pg()
{
	cluster_psql -q "$@"
}

# Generates the tables and their CSV copies.
make_data()
{
	say "data: 2 x $ROWS values, Normal(0, 1) and Normal($SHIFT, 1)"
	psql_pg <<-EOF
		CREATE EXTENSION credit_scoring;
		CREATE EXTENSION pg_prewarm;
		\o /dev/null
		SELECT setseed(0.25);
		CREATE TABLE drift_ref AS
		    SELECT sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS x
		      FROM generate_series(1, $ROWS);
		CREATE TABLE drift_cur AS
		    SELECT $SHIFT + sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) AS x
		      FROM generate_series(1, $ROWS);
		VACUUM (FREEZE, ANALYZE) drift_ref, drift_cur;
		SELECT pg_prewarm('drift_ref'), pg_prewarm('drift_cur');
		COPY drift_ref TO '$DIR/ref.csv';
		COPY drift_cur TO '$DIR/cur.csv';
		\o
	EOF
	psql_pg -c "SELECT 'drift_ref' AS t, count(*), round(avg(x)::numeric, 4) AS mean,
	                   pg_size_pretty(pg_relation_size('drift_ref')) AS size FROM drift_ref
	            UNION ALL
	            SELECT 'drift_cur', count(*), round(avg(x)::numeric, 4),
	                   pg_size_pretty(pg_relation_size('drift_cur')) FROM drift_cur"
}

# Times the SQL forms: prints "form|label|median ms|min ms|max ms|result" per query.
time_sql()
{
	psql_pg -At -F '|' <<-EOF
		CREATE TEMP TABLE q (form int, label text, sql text, workers int);
		INSERT INTO q VALUES
		  (1, 'aggregate', 'SELECT cs_ks_drift(x, cur) FROM (SELECT x, false AS cur FROM drift_ref UNION ALL SELECT x, true FROM drift_cur) s', 0),
		  (2, 'function', 'SELECT cs_ks_drift(''drift_ref'', ''drift_cur'', ''x'')', 0),
		  (3, 'scan', 'SELECT count(x)::text FROM (SELECT x FROM drift_ref UNION ALL SELECT x FROM drift_cur) s', 0);
		INSERT INTO q SELECT 4, 'aggregate, 2 workers', sql, 2 FROM q WHERE form = 1 AND $PARALLEL = 1;
		CREATE TEMP TABLE timing (form int, round int, ms float8, result text);
		DO \$\$
		DECLARE
		    q record;
		    t0 timestamptz;
		    res text;
		BEGIN
		    FOR r IN 0..$REPS LOOP
		        FOR q IN SELECT * FROM pg_temp.q ORDER BY (form + r) % 4 LOOP
		            PERFORM set_config('max_parallel_workers_per_gather', q.workers::text, true);
		            PERFORM set_config('parallel_setup_cost', CASE WHEN q.workers > 0 THEN '0' ELSE '1000' END, true);
		            PERFORM set_config('min_parallel_table_scan_size', CASE WHEN q.workers > 0 THEN '0' ELSE '8MB' END, true);
		            t0 := clock_timestamp();
		            EXECUTE q.sql INTO res;
		            INSERT INTO pg_temp.timing
		                VALUES (q.form, r, 1000 * extract(epoch FROM clock_timestamp() - t0), res);
		        END LOOP;
		    END LOOP;
		END \$\$;
		SELECT q.form, q.label, percentile_cont(0.5) WITHIN GROUP (ORDER BY t.ms),
		       min(t.ms), max(t.ms), min(t.result)
		  FROM pg_temp.timing t JOIN pg_temp.q USING (form)
		 WHERE t.round > 0 GROUP BY q.form, q.label ORDER BY q.form;
	EOF
}

# Times SciPy: prints "median_ms min_ms max_ms statistic p_value".
time_scipy()
{
	"$PYTHON" - "$DIR/ref.csv" "$DIR/cur.csv" "$REPS" <<-'EOF'
		import sys, time
		import numpy as np
		from scipy import stats
		ref = np.loadtxt(sys.argv[1], dtype=np.float64)
		cur = np.loadtxt(sys.argv[2], dtype=np.float64)
		reps = int(sys.argv[3])
		times = []
		for r in range(reps + 1):
		    t0 = time.perf_counter()
		    res = stats.ks_2samp(ref, cur, method="auto")
		    ms = 1000 * (time.perf_counter() - t0)
		    if r > 0:
		        times.append(ms)
		print("%.3f %.3f %.3f %r %r" % (float(np.median(times)), min(times), max(times),
		                                float(res.statistic), float(res.pvalue)))
	EOF
}

check
start_cluster
make_data
say "cs_ks_drift ($REPS rounds after a warm-up, single core unless said)"
sql_out=$(time_sql)
echo "form  query                     median ms     min ms     max ms  result"
agg_ms= agg_res= scan_ms=
while IFS='|' read -r form label med min max res; do
	printf '%4s  %-22s %10.1f %10.1f %10.1f  %s\n' "$form" "$label" "$med" "$min" "$max" "$res"
	case $form in
		1) agg_ms=$med agg_res=$res ;;
		3) scan_ms=$med ;;
	esac
done <<<"$sql_out"
[ -n "$agg_ms" ] || die "no timing of cs_ks_drift"

say "scipy.stats.ks_2samp ($REPS rounds after a warm-up; reading the CSV not timed)"
read -r sp_ms sp_min sp_max sp_d sp_p <<<"$(time_scipy)"
printf '      %-22s %10.1f %10.1f %10.1f  (%s,%s)\n' "ks_2samp" "$sp_ms" "$sp_min" "$sp_max" "$sp_d" "$sp_p"

say "verdict"
"$PYTHON" - "$agg_res" "$sp_d" "$sp_p" "$agg_ms" "$sp_ms" "$scan_ms" "$ROWS" <<-'EOF'
	import sys
	res, sp_d, sp_p, agg_ms, sp_ms, scan_ms, rows = sys.argv[1:]
	d, p, drifted = res.strip("()").split(",")
	d, p, sp_d, sp_p = float(d), float(p), float(sp_d), float(sp_p)
	agg_ms, sp_ms, scan_ms = float(agg_ms), float(sp_ms), float(scan_ms)
	if abs(d - sp_d) > 1e-12 or abs(p - sp_p) > 1e-6:
	    sys.exit("cs_ks_drift (%r, %r) and ks_2samp (%r, %r) disagree" % (d, p, sp_d, sp_p))
	print("agreement: D %.6g (|diff| %.1e), p-value %.6g (|diff| %.1e)"
	      % (d, abs(d - sp_d), p, abs(p - sp_p)))
	ratio = agg_ms / sp_ms
	print("cs_ks_drift / ks_2samp = %.3f (median %.1f ms vs %.1f ms, 2 x %s rows, the scan "
	      "(%.1f ms) included): %s, target <= 1.0"
	      % (ratio, agg_ms, sp_ms, rows, scan_ms, "PASS" if ratio <= 1.0 else "FAIL"))
EOF

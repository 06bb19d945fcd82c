-- bench/score_logreg.sql: scoring throughput of cs_predict against the same logistic regression
-- written as a plain SQL expression.  bench/score_logreg.sh runs it on a throwaway cluster; it
-- needs an empty database where CREATE EXTENSION credit_scoring works, and the psql variables
--   rows   rows to generate and score (1000000)
--   reps   timed repetitions of each query (5), after one untimed warm-up round
--   jit    'on', 'off' or 'both': the jit setting of the timed queries (both: each round runs
--          every query with jit on, then with jit off)
-- It prints the median time of each query and the ratio cs_predict / SQL expression, one verdict
-- line per jit setting.  Its tables (t, bench_query) stay in the database for profiling.

\set ON_ERROR_STOP 1
\set QUIET 1
\pset footer off
SET client_min_messages = notice;
-- single-core, so that both forms are measured the same way
SET max_parallel_workers_per_gather = 0;

CREATE EXTENSION credit_scoring;
CREATE EXTENSION pg_prewarm;

\echo
\echo '--- setup'
SELECT current_setting('server_version') AS server,
       current_setting('shared_buffers') AS shared_buffers,
       current_setting('max_parallel_workers_per_gather') AS parallel_workers,
       :'jit' AS jit_in_timed_queries,
       :rows AS rows, :reps AS reps;

-- ---------------------------------------------------------------------------- the data
-- 20 float8 features x1..x20, x_j ~ Normal(mean 10j, sd j) (Box-Muller), each NULL in 1% of
-- the rows; y drawn from a logistic model of the standardised features (a NULL counts as 0).
-- Seeded: setseed, and the plan is serial, so the data is the same on every run.
SELECT setseed(0.5) AS seeded \gset
SELECT format(
    'CREATE TABLE t AS SELECT %s, random() < 1 / (1 + exp(-(-1.0 + %s))) AS y FROM (SELECT %s FROM generate_series(1, %s)) s',
    string_agg(format('x%s', j), ', ' ORDER BY j),
    string_agg(format('(%s) * coalesce((x%s - %s) / %s, 0)', ((j * 7) % 11 - 5) / 10.0, j, 10 * j, j),
               ' + ' ORDER BY j),
    string_agg(format('CASE WHEN random() < 0.01 THEN NULL ELSE %s + %s * sqrt(-2 * ln(1 - random())) * cos(2 * pi() * random()) END AS x%s',
                      10 * j, j, j), ', ' ORDER BY j),
    :rows)
  FROM generate_series(1, 20) AS j
\gexec
VACUUM (FREEZE, ANALYZE) t;
SELECT count(*) AS rows,
       round(avg(y::int), 4) AS positive_rate,
       round(avg((x1 IS NULL)::int), 4) AS null_rate_x1,
       pg_size_pretty(pg_relation_size('t')) AS table_size
  FROM t;

-- ---------------------------------------------------------------------------- the model
SELECT clock_timestamp() AS t0 \gset
SELECT cs_train('t', 'logistic_regression', 'y', name => 'bench') AS run_id \gset
SELECT :run_id AS run_id,
       round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)::numeric, 2) AS train_s,
       r.n_train,
       round((r.metrics #>> '{test,auc}')::numeric, 4) AS test_auc,
       (cs_model_info('bench')->>'iterations')::int AS iterations,
       (SELECT count(*) FROM cs_coefficients('bench')) AS terms
  FROM cs_runs r WHERE r.run_id = :run_id;

-- ------------------------------------------------- the same model as a plain SQL expression
-- The standardised design: z_j = (x_j - mean_j) / sd_j, 0 for NULL, plus the indicator
-- column "x_j:missing" when training saw NULLs in x_j.  Constants are float8 literals written
-- with float8's shortest exact text, so they are the model's doubles.  (A bare 0.25 would be a
-- numeric constant, and w * (x IS NULL)::int would then be computed in numeric arithmetic,
-- several times slower: not the baseline a careful SQL author would write.)
SELECT format('1 / (1 + exp(-(float8 %L + %s)))',
              (SELECT coefficient FROM cs_coefficients('bench') WHERE term = '(intercept)'),
              string_agg(
                  format('float8 %L * coalesce((%I - float8 %L) / float8 %L, 0)',
                         w.coefficient, f.name, f.mean, f.sd)
                  || CASE WHEN f.has_missing
                          THEN format(' + float8 %L * (%I IS NULL)::int', wm.coefficient, f.name)
                          ELSE '' END,
                  ' + ' ORDER BY f.ord)) AS expr,
       count(*) FILTER (WHERE f.kind <> 'numeric') AS non_numeric,
       count(w.coefficient) AS matched,
       count(*) AS features
  FROM jsonb_array_elements(cs_model_info('bench')->'features') WITH ORDINALITY AS e(doc, ord),
       LATERAL (SELECT e.ord, e.doc->>'name' AS name, e.doc->>'kind' AS kind,
                       (e.doc->>'mean')::float8 AS mean, (e.doc->>'sd')::float8 AS sd,
                       (e.doc->>'has_missing')::boolean AS has_missing) AS f
  LEFT JOIN cs_coefficients('bench') w ON w.term = f.name
  LEFT JOIN cs_coefficients('bench') wm ON wm.term = f.name || ':missing'
\gset
SELECT :non_numeric = 0 AND :matched = :features AND :features = 20 AS expression_complete \gset
\if :expression_complete
\else
DO $$ BEGIN RAISE EXCEPTION 'the model does not have 20 numeric features with one coefficient each'; END $$;
\endif

-- a plain table: score_logreg.sh PROFILE=1 reads the queries from another session
CREATE TABLE bench_query (form int PRIMARY KEY, label text NOT NULL, sql text NOT NULL);
INSERT INTO bench_query VALUES
    (1, 'cs_predict(name, record)', 'SELECT sum(cs_predict(''bench'', t.*)) FROM t'),
    (2, 'SQL expression', format('SELECT sum(%s) FROM t', :'expr')),
    (3, 'cs_predict(blob, record)',
        'SELECT sum(cs_predict(m.blob, t.*)) FROM t, cs_models m WHERE m.name = ''bench'''),
    (4, 'cs_predict(name, jsonb)', 'SELECT sum(cs_predict(''bench'', to_jsonb(t))) FROM t'),
    -- floors, to read the others by: the scan alone, and the scan with the row value t.* that
    -- the executor builds for cs_predict(..., t.*) before calling it
    (5, 'floor: scan, sum(x1)', 'SELECT sum(x1) FROM t'),
    (6, 'floor: scan + t.*', 'SELECT count(t.*) FROM t');

-- the baseline must run in float8 arithmetic only
DO $$
DECLARE
    plan text;
BEGIN
    EXECUTE 'EXPLAIN (VERBOSE, COSTS OFF, FORMAT JSON) ' || (SELECT sql FROM bench_query WHERE form = 2)
       INTO plan;
    IF plan LIKE '%numeric%' THEN
        RAISE EXCEPTION 'the SQL expression computes in numeric: %', plan;
    END IF;
END
$$;

\echo
\echo '--- the SQL expression (its first 400 characters)'
SELECT left(:'expr', 400) || ' ...' AS expr_head, length(:'expr') AS expr_length \gset
\echo :expr_head
\echo '(':expr_length' characters)'

-- ------------------------------------------------------------------------- agreement
-- The expression must be the model: every form against it on the first 1000 rows.
\echo
\echo '--- agreement on 1000 rows (max |difference| from the SQL expression; must be < 1e-12)'
SELECT string_agg(format('x%s', j), ', ' ORDER BY j) AS cols FROM generate_series(1, 20) AS j \gset
SELECT format($q$
CREATE TEMP TABLE bench_agreement AS
SELECT count(*) AS rows, count(*) FILTER (WHERE num_nulls(%s) > 0) AS rows_with_nulls,
       max(abs(p_name - e)) AS name_record, max(abs(p_blob - e)) AS blob_record,
       max(abs(p_jsonb - e)) AS name_jsonb
  FROM (SELECT t.*, cs_predict('bench', t.*) AS p_name, cs_predict(m.blob, t.*) AS p_blob,
               cs_predict('bench', to_jsonb(t)) AS p_jsonb, %s AS e
          FROM (SELECT * FROM t LIMIT 1000) t, cs_models m WHERE m.name = 'bench') s
$q$, :'cols', :'expr') \gexec
SELECT *, name_record < 1e-12 AND blob_record < 1e-12 AND name_jsonb < 1e-12 AS agree
  FROM bench_agreement;
SELECT coalesce(name_record < 1e-12 AND blob_record < 1e-12 AND name_jsonb < 1e-12, false) AS agree
  FROM bench_agreement \gset
\if :agree
\else
DO $$ BEGIN RAISE EXCEPTION 'cs_predict and the SQL expression disagree: they would not compute the same thing'; END $$;
\endif

-- --------------------------------------------------------------------------- timing
-- One untimed warm-up round, then :reps rounds; each round runs every form once, the order
-- rotating from round to round.  Times are server-side (clock_timestamp around EXECUTE), in one
-- session, the table in shared_buffers (pg_prewarm; the warm-up reports any block read).
\echo
\echo '--- timing (ms; round 0 is the warm-up)'
SELECT pg_prewarm('t') AS blocks_prewarmed \gset
CREATE TEMP TABLE bench_time (jit text, form int, round int, ms float8, result float8,
                              blocks_read bigint);
SET bench.reps = :reps;
SET bench.jit = :'jit';
DO $$
DECLARE
    reps    int := current_setting('bench.reps')::int;
    jits    text[] := CASE current_setting('bench.jit') WHEN 'both' THEN ARRAY['on', 'off']
                           ELSE ARRAY[current_setting('bench.jit')] END;
    n       int := (SELECT count(*) FROM bench_query);
    jit     text;
    q       record;
    t0      timestamptz;
    ms      float8;
    res     float8;
    plan    jsonb;
    nread   bigint;
    r       int;
    k       int;
BEGIN
    FOR r IN 0 .. reps LOOP
        FOREACH jit IN ARRAY jits LOOP
            -- planning reads jit, and EXECUTE plans each time
            PERFORM set_config('jit', jit, true);
            FOR k IN 0 .. n - 1 LOOP
                SELECT * INTO q FROM bench_query WHERE form = (k + r) % n + 1;
                IF r = 0 THEN
                    -- warm-up: also check that the scan reads nothing from outside shared_buffers
                    EXECUTE 'EXPLAIN (ANALYZE, BUFFERS, TIMING OFF, FORMAT JSON) ' || q.sql INTO plan;
                    nread := (plan -> 0 -> 'Plan' ->> 'Shared Read Blocks')::bigint;
                ELSE
                    nread := NULL;
                END IF;
                t0 := clock_timestamp();
                EXECUTE q.sql INTO res;
                ms := 1000 * extract(epoch FROM clock_timestamp() - t0);
                INSERT INTO bench_time VALUES (jit, q.form, r, ms, res, nread);
                RAISE NOTICE 'round %  jit %  %  % ms%', r, rpad(jit, 3), rpad(q.label, 26),
                    lpad(to_char(ms, 'FM999990.0'), 8),
                    CASE WHEN nread IS NULL THEN '' ELSE format('  (%s blocks read)', nread) END;
            END LOOP;
        END LOOP;
    END LOOP;
END
$$;

-- ------------------------------------------------------------------------- results
\echo
\echo '--- results (median of the timed rounds)'
CREATE TEMP TABLE bench_result AS
SELECT b.jit, q.form, q.label,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY b.ms) AS median_ms,
       min(b.ms) AS min_ms, max(b.ms) AS max_ms,
       min(b.result) AS sum_of_scores,
       max(b.result) - min(b.result) AS result_spread
  FROM bench_query q JOIN bench_time b USING (form)
 WHERE b.round > 0
 GROUP BY b.jit, q.form, q.label;
SELECT r.jit, r.label AS form,
       round(r.median_ms::numeric, 1) AS median_ms,
       round(r.min_ms::numeric, 1) AS min_ms,
       round(r.max_ms::numeric, 1) AS max_ms,
       round((1000 * r.median_ms / :rows)::numeric, 3) AS us_per_row,
       round((r.median_ms / e.median_ms)::numeric, 3) AS vs_sql_expr,
       round(r.sum_of_scores::numeric, 6) AS sum_of_scores
  FROM bench_result r JOIN bench_result e ON e.jit = r.jit AND e.form = 2
 ORDER BY r.jit DESC, r.form;

\echo
\pset tuples_only on
\pset format unaligned
SELECT format('cs_predict / SQL expression = %s (median %s ms vs %s ms, %s rows, jit %s): %s',
              round((c.median_ms / e.median_ms)::numeric, 3),
              round(c.median_ms::numeric, 1), round(e.median_ms::numeric, 1), :rows, c.jit,
              CASE WHEN c.median_ms <= e.median_ms
                   THEN 'PASS, cs_predict is no slower than the SQL expression (target <= 1.0)'
                   ELSE 'FAIL, cs_predict is slower than the SQL expression (target <= 1.0)' END)
       AS verdict
  FROM bench_result c JOIN bench_result e ON e.jit = c.jit AND e.form = 2
 WHERE c.form = 1
 ORDER BY c.jit DESC;

-- Drift: the two-sample Kolmogorov-Smirnov test (cs_ks_drift) against SciPy's ks_2samp, the
-- training profile stored with a model, and cs_drift_report (KS and PSI per feature and for
-- the score, performance against the run's test figures), checked against
-- test/reference/fairness_drift_reference.py: KS p-values to 1e-6, PSI to 1e-9.
CREATE OR REPLACE FUNCTION sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
\getenv abs_srcdir PG_ABS_SRCDIR
CREATE TABLE drift_reference (doc jsonb);
\set driftref :abs_srcdir '/test/reference/fairness_drift_reference.json'
INSERT INTO drift_reference SELECT pg_read_file(:'driftref')::jsonb;

-- The reference's KS samples, regenerated from their integer formula:
-- value = T(((i * a) mod m) / m) * scale (+ shift on the current side), floored to step.
CREATE FUNCTION drift_sample(c jsonb, cur boolean) RETURNS SETOF float8
LANGUAGE sql IMMUTABLE AS $$
SELECT CASE WHEN (c->>'step')::float8 > 0
            THEN floor(v / (c->>'step')::float8) * (c->>'step')::float8 ELSE v END
  FROM (SELECT x * (c->>'scale')::float8 + CASE WHEN cur THEN (c->>'shift')::float8 ELSE 0 END AS v
          FROM (SELECT CASE WHEN c->>'transform' = 'sqrt' THEN sqrt(u) ELSE u END AS x
                  FROM (SELECT ((i * (c->>CASE WHEN cur THEN 'a2' ELSE 'a1' END)::bigint)
                                % (c->>'m')::bigint)::float8 / (c->>'m')::float8 AS u
                          FROM generate_series(1, (c->>CASE WHEN cur THEN 'n2' ELSE 'n1' END)::int) i) s1) s2) s3
$$;
CREATE TABLE drift_ks_cases AS
SELECT ord, c->>'name' AS name, c
  FROM drift_reference, jsonb_array_elements(doc->'ks') WITH ORDINALITY AS t(c, ord);

-- cs_ks_drift(value, is_current): the reference sample is_current = false.  Every case
-- equals SciPy's: D exactly, the p-value to 1e-6 (absolute and relative), small samples
-- exact, large ones (max(n1, n2) > 10000) asymptotic, with ties.
CREATE TABLE drift_ks_got AS
SELECT k.ord, k.name, k.c, r.*
  FROM drift_ks_cases k,
       LATERAL (SELECT (cs_ks_drift(v, cur)).*
                  FROM (SELECT v, false AS cur FROM drift_sample(k.c, false) v
                        UNION ALL
                        SELECT v, true FROM drift_sample(k.c, true) v) s) r;
SELECT name, (c->>'n1')::int AS n1, (c->>'n2')::int AS n2, c->>'method' AS method,
       (c->>'distinct')::int < (c->>'n1')::int + (c->>'n2')::int AS ties,
       round(statistic::numeric, 6) AS statistic, to_char(p_value, '9.9999EEEE') AS p_value,
       drifted,
       statistic = (c->>'statistic')::float8 AS d_equal,
       abs(p_value - (c->>'p_value')::float8) <= 1e-6 AS p_abs_1e_6,
       abs(p_value - (c->>'p_value')::float8) <= 1e-6 * (c->>'p_value')::float8 AS p_rel_1e_6
  FROM drift_ks_got ORDER BY ord;

-- the statistic and the p-value as a composite; drifted is p < 0.05
SELECT cs_ks_drift(v, cur) FROM (VALUES (1.0, false), (2.0, false), (3.0, false),
                                        (2.5, true), (3.5, true), (4.5, true)) t(v, cur);

-- _partial and _merge (fan-out by hand), and a significance level on the merge
CREATE TABLE drift_ks_rows AS
SELECT v, false AS cur FROM drift_ks_cases k, drift_sample(k.c, false) v WHERE k.name = 'large_ties'
UNION ALL
SELECT v, true FROM drift_ks_cases k, drift_sample(k.c, true) v WHERE k.name = 'large_ties';
SELECT (SELECT cs_ks_drift_merge(p) FROM (SELECT cs_ks_drift_partial(v, cur) AS p
                                            FROM drift_ks_rows GROUP BY v::int % 5) s)
     = (SELECT cs_ks_drift(v, cur) FROM drift_ks_rows) AS merge_equal,
       (SELECT (cs_ks_drift_merge(p, 1e-10)).drifted
          FROM (SELECT cs_ks_drift_partial(v, cur) AS p FROM drift_ks_rows GROUP BY cur) s)
           AS drifted_at_1e_10;
-- a forced parallel plan combines the workers' states and gives the serial answer
ANALYZE drift_ks_rows;
CREATE TABLE drift_ks_serial AS SELECT (cs_ks_drift(v, cur)).* FROM drift_ks_rows;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT cs_ks_drift(v, cur) FROM drift_ks_rows;
CREATE TABLE drift_ks_parallel AS SELECT (cs_ks_drift(v, cur)).* FROM drift_ks_rows;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT p.statistic = s.statistic AND p.p_value = s.p_value AS parallel_equals_serial,
       round(p.statistic::numeric, 6) AS statistic
  FROM drift_ks_parallel p, drift_ks_serial s;

-- over two relations and a column (NULLs skipped), with a significance level
CREATE TABLE drift_old AS SELECT v AS x FROM drift_ks_rows WHERE NOT cur;
CREATE TABLE drift_new AS SELECT v AS x FROM drift_ks_rows WHERE cur UNION ALL SELECT NULL;
SELECT (r).statistic = (SELECT statistic FROM drift_ks_serial) AS same_statistic,
       (r).p_value = (SELECT p_value FROM drift_ks_serial) AS same_p_value, (r).drifted
  FROM (SELECT cs_ks_drift('drift_old', 'drift_new', 'x') AS r) s;
SELECT drifted FROM cs_ks_drift('drift_old', 'drift_new', 'x', alpha => 1e-12);

-- Bad input for the test: fewer than two values on a side, NaN, an all-NULL column, a missing
-- or non-numeric column, a significance level outside (0, 1); no values at all gives NULL
SELECT sqlstate_of($$SELECT cs_ks_drift(v, cur) FROM (VALUES (1.0, false), (2.0, false), (1.5, true)) t(v, cur)$$);
SELECT sqlstate_of($$SELECT cs_ks_drift(v, false) FROM generate_series(1, 10) v$$);
SELECT sqlstate_of($$SELECT cs_ks_drift(v, v > 1) FROM (VALUES (1.0), (2.0), ('NaN'), (3.0)) t(v)$$);
SELECT cs_ks_drift(NULL::float8, true) IS NULL AS all_null_is_null FROM generate_series(1, 3);
CREATE TABLE drift_nulls AS SELECT NULL::float8 AS x FROM generate_series(1, 5);
SELECT sqlstate_of($$SELECT cs_ks_drift('drift_old', 'drift_nulls', 'x')$$);
SELECT sqlstate_of($$SELECT cs_ks_drift('drift_old', 'drift_new', 'y')$$);
SELECT sqlstate_of($$SELECT cs_ks_drift('credit', 'credit', 'home')$$);
SELECT sqlstate_of($$SELECT cs_ks_drift('drift_old', 'drift_new', 'x', 1.5)$$);
SELECT sqlstate_of($$SELECT cs_ks_drift_merge('\x0102'::bytea)$$);

-- The training profile: training stores, with the model, the distribution of each feature
-- and of the score on the training split (README "Fairness and drift").  The model leaves
-- out id and marital, like the reference's.
SET client_min_messages = warning;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'drift_risk',
                exclude => ARRAY['id', 'marital']) > 0 AS trained;
RESET client_min_messages;
SELECT f->>'name' AS feature, f->>'kind' AS kind, (f->>'n')::int AS n,
       (f->>'missing')::int AS missing,
       coalesce(jsonb_array_length(f->'edges'), jsonb_array_length(f->'levels')) AS edges_or_levels,
       jsonb_array_length(f #> '{ecdf,points}') AS ecdf_points,
       f = (r.doc #> '{drift,profile,features}') -> (ord::int - 1) AS equals_reference
  FROM cs_models m, drift_reference r,
       jsonb_array_elements(m.profile->'features') WITH ORDINALITY AS t(f, ord)
 WHERE m.name = 'drift_risk';
-- one of them: the deciles of a feature with ten values collapse to four edges, and the
-- bin above the training maximum is empty
SELECT f - 'ecdf' AS time_profile, f->'ecdf' AS time_ecdf
  FROM cs_models, jsonb_array_elements(profile->'features') f
 WHERE name = 'drift_risk' AND f->>'name' = 'time';
-- the score's profile comes from scores that agree with scikit-learn's to ~1e-7: the same
-- bin counts and ECDF counts, edges and points within 1e-6
WITH s AS (SELECT m.profile->'score' AS got, r.doc #> '{drift,profile,score}' AS want
             FROM cs_models m, drift_reference r WHERE m.name = 'drift_risk')
SELECT (got->>'n')::int AS n, got->'counts' = want->'counts' AS counts_equal,
       got #> '{ecdf,cum}' = want #> '{ecdf,cum}' AS ecdf_counts_equal,
       jsonb_array_length(got #> '{ecdf,points}') AS ecdf_points,
       (SELECT max(abs(a.v::float8 - b.v::float8))
          FROM jsonb_array_elements(got->'edges') WITH ORDINALITY a(v, i)
          JOIN jsonb_array_elements(want->'edges') WITH ORDINALITY b(v, i) USING (i)) < 1e-6 AS edges_1e_6,
       (SELECT max(abs(a.v::float8 - b.v::float8))
          FROM jsonb_array_elements(got #> '{ecdf,points}') WITH ORDINALITY a(v, i)
          JOIN jsonb_array_elements(want #> '{ecdf,points}') WITH ORDINALITY b(v, i) USING (i)) < 1e-6 AS points_1e_6
  FROM s;

-- cs_drift_report on the training table itself: nothing has drifted
SELECT kind, name, n_reference, n_current, round(ks_statistic::numeric, 4) AS ks,
       round(p_value::numeric, 4) AS p_value, ks_drifted, round(psi::numeric, 4) AS psi,
       round(reference_value::numeric, 4) AS reference, round(current_value::numeric, 4) AS current,
       verdict
  FROM cs_drift_report('drift_risk', 'credit');

-- young applicants only (age < 30): the features, the score and the performance drift.
-- Categorical features get PSI only (KS is for ordered values).
CREATE VIEW drift_young AS SELECT * FROM credit WHERE age < 30;
CREATE TABLE drift_young_report AS SELECT * FROM cs_drift_report('drift_risk', 'drift_young');
SELECT kind, name, n_current, round(ks_statistic::numeric, 4) AS ks,
       to_char(p_value, '9.999EEEE') AS p_value, ks_drifted, round(psi::numeric, 4) AS psi,
       round(reference_value::numeric, 4) AS reference, round(current_value::numeric, 4) AS current,
       round(relative_change::numeric, 4) AS change, verdict
  FROM drift_young_report;
-- every feature's figures equal the reference's: D exactly, p to 1e-6 (absolute, and
-- relative above 1e-300, where doubles still have their full precision), PSI to 1e-9
CREATE FUNCTION drift_check(report text, kind text)
RETURNS TABLE (name text, d_equal boolean, p_1e_6 boolean, psi_1e_9 boolean, verdict_equal boolean)
LANGUAGE sql AS $$
SELECT g.name,
       g.ks_statistic IS NOT DISTINCT FROM (e->>'ks_statistic')::float8,
       coalesce(abs(g.p_value::numeric - (e->>'p_value')::numeric) <= 1e-6
                AND (abs(g.p_value::numeric - (e->>'p_value')::numeric)
                         <= 1e-6 * (e->>'p_value')::numeric
                     OR (e->>'p_value')::numeric < 1e-300),
                g.p_value IS NULL AND e->>'p_value' IS NULL),
       abs(g.psi - (e->>'psi')::float8) <= 1e-9,
       g.verdict = e->>'verdict'
  FROM cs_drift_reports g, drift_reference r,
       LATERAL (SELECT r.doc #> ARRAY['drift', 'reports', report, 'features', g.name] AS e) x
 WHERE g.report_id = (SELECT max(report_id) FROM cs_drift_reports
                       WHERE relation = CASE report WHEN 'credit' THEN 'credit' ELSE 'drift_young' END)
   AND g.kind = drift_check.kind
$$;
SELECT count(*) AS features, count(*) FILTER (WHERE d_equal AND p_1e_6 AND psi_1e_9 AND verdict_equal) AS match
  FROM drift_check('credit_young', 'feature');
SELECT count(*) AS features, count(*) FILTER (WHERE d_equal AND p_1e_6 AND psi_1e_9 AND verdict_equal) AS match
  FROM drift_check('credit', 'feature');
-- the prediction row and the performance rows are computed from scores (scikit-learn's
-- agree with the core's to ~1e-7): KS, p-value and PSI of the score to 1e-4, AUC,
-- accuracy, log loss and Brier to 1e-6
SELECT g.name, abs(g.ks_statistic - (e->>'ks_statistic')::float8) < 1e-4 AS ks_1e_4,
       abs(g.p_value - (e->>'p_value')::float8) < 1e-4 AS p_1e_4,
       abs(g.psi - (e->>'psi')::float8) < 1e-4 AS psi_1e_4, g.verdict = e->>'verdict' AS verdict_equal
  FROM drift_young_report g, drift_reference r,
       LATERAL (SELECT r.doc #> '{drift,reports,credit_young,prediction}' AS e) x
 WHERE g.kind = 'prediction';
SELECT g.name, abs(g.current_value - (r.doc #>> ARRAY['drift', 'reports', 'credit_young', 'performance', g.name])::float8) < 1e-6 AS current_1e_6,
       g.reference_value = (c.metrics #>> ARRAY['test', g.name])::float8 AS reference_is_test_figure
  FROM drift_young_report g, drift_reference r, cs_runs c JOIN cs_models m USING (run_id)
 WHERE g.kind = 'performance' AND m.name = 'drift_risk';

-- every report is kept, with its time, in cs_drift_reports (readable by everyone)
SELECT dense_rank() OVER (ORDER BY report_id) AS report, model_name, model_version, relation,
       count(*) AS rows, count(*) FILTER (WHERE kind = 'feature') AS features,
       bool_and(run_at IS NOT NULL) AS timed, bool_and(run_by = current_user) AS by_me
  FROM cs_drift_reports GROUP BY report_id, 2, 3, 4 ORDER BY report_id;
SELECT name, verdict, round(psi::numeric, 4) AS psi
  FROM cs_drift_reports
 WHERE relation = 'drift_young' AND verdict IN ('shifted', 'investigate', 'degraded')
 ORDER BY psi DESC NULLS LAST;
-- any role may run a report (it is recorded by the extension's owner) and read them all,
-- but not write the table itself
CREATE ROLE regress_drift_analyst;
GRANT SELECT ON credit TO regress_drift_analyst;
SET ROLE regress_drift_analyst;
SELECT count(*) AS rows, min(verdict) AS verdict FROM cs_drift_report('drift_risk', 'credit') WHERE kind = 'feature';
SELECT count(DISTINCT report_id) AS reports_visible FROM cs_drift_reports;
SELECT sqlstate_of($$DELETE FROM cs_drift_reports$$);
RESET ROLE;
SELECT run_by, relation, count(*) AS rows FROM cs_drift_reports
 WHERE report_id = (SELECT max(report_id) FROM cs_drift_reports) GROUP BY 1, 2;
DROP OWNED BY regress_drift_analyst;
DROP ROLE regress_drift_analyst;

-- Documented results: a feature NULL in every row gets no KS and a PSI that puts all its
-- mass in the missing bin; an unseen category falls in the unseen bin; a relation without
-- the target has no performance rows
CREATE VIEW drift_null_income AS
    SELECT id, status, seniority, home, time, age, marital, records, job, expenses,
           NULL::integer AS income, assets, debt, amount, price FROM credit;
SELECT g.name, g.ks_statistic, g.p_value, round(g.psi::numeric, 4) AS psi, g.verdict,
       abs(g.psi - (r.doc #>> '{drift,income_all_null,psi}')::float8) <= 1e-9 AS psi_1e_9
  FROM cs_drift_report('drift_risk', 'drift_null_income') g, drift_reference r
 WHERE g.name = 'income';
CREATE VIEW drift_castles AS
    SELECT id, status, seniority, CASE WHEN id % 10 = 0 THEN 'castle' ELSE home END AS home, time,
           age, marital, records, job, expenses, income, assets, debt, amount, price FROM credit;
SELECT g.name, round(g.psi::numeric, 4) AS psi, g.verdict,
       abs(g.psi - (r.doc #>> '{drift,unseen_home,psi}')::float8) <= 1e-9 AS psi_1e_9
  FROM cs_drift_report('drift_risk', 'drift_castles') g, drift_reference r
 WHERE g.name = 'home';
CREATE VIEW drift_unlabelled AS
    SELECT id, seniority, home, time, age, marital, records, job, expenses, income, assets, debt,
           amount, price FROM credit;
SELECT kind, count(*) AS rows FROM cs_drift_report('drift_risk', 'drift_unlabelled') GROUP BY kind ORDER BY kind;

-- Bad input: each a specific error that names the culprit
CREATE VIEW drift_lacking AS SELECT id, status, seniority, home, time, age FROM credit;
SELECT sqlstate_of($$SELECT * FROM cs_drift_report('drift_risk', 'drift_lacking')$$);
CREATE VIEW drift_text_income AS
    SELECT id, status, seniority, home, time, age, marital, records, job, expenses,
           income::text AS income, assets, debt, amount, price FROM credit;
SELECT sqlstate_of($$SELECT * FROM cs_drift_report('drift_risk', 'drift_text_income')$$);
CREATE VIEW drift_empty AS SELECT * FROM credit WHERE false;
SELECT sqlstate_of($$SELECT * FROM cs_drift_report('drift_risk', 'drift_empty')$$);
SELECT sqlstate_of($$SELECT * FROM cs_drift_report('drift_risk', 'credit', 0)$$);
SELECT sqlstate_of($$SELECT * FROM cs_drift_report('no_such_model', 'credit')$$);
-- a model registered without a profile (as before profiles existed), and one whose profile
-- was edited: both refused
INSERT INTO cs_models (name, version, run_id, model_type, blob)
    SELECT 'drift_old_model', 1, run_id, model_type, blob FROM cs_models WHERE name = 'drift_risk';
SELECT sqlstate_of($$SELECT * FROM cs_drift_report('drift_old_model', 'credit')$$);
INSERT INTO cs_models (name, version, run_id, model_type, blob, profile)
    SELECT 'drift_edited', 1, run_id, model_type, blob, profile #- '{features,0,counts,0}'
      FROM cs_models WHERE name = 'drift_risk';
SELECT sqlstate_of($$SELECT * FROM cs_drift_report('drift_edited', 'credit')$$);
UPDATE cs_models
   SET profile = jsonb_set((SELECT profile FROM cs_models WHERE name = 'drift_risk'),
                           '{features,2,name}', '"tenure"')
 WHERE name = 'drift_edited';
SELECT sqlstate_of($$SELECT * FROM cs_drift_report('drift_edited', 'credit')$$);
-- a failed report records nothing
SELECT count(*) AS reports_of_failures FROM cs_drift_reports
 WHERE model_name IN ('drift_old_model', 'drift_edited')
    OR relation IN ('drift_lacking', 'drift_text_income', 'drift_empty');

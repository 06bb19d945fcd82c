-- Fairness of approval decisions: cs_fairness as an aggregate (jsonb) and over a relation
-- (one row per group), checked against fairlearn's and AIF360's definitions as computed by
-- test/reference/fairness_drift_reference.py (to 1e-9).  Approval is the favourable
-- outcome; "did not default" is the truly good label.
CREATE OR REPLACE FUNCTION sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;
\getenv abs_srcdir PG_ABS_SRCDIR
CREATE TABLE fd_reference (doc jsonb);
\set fdref :abs_srcdir '/test/reference/fairness_drift_reference.json'
INSERT INTO fd_reference SELECT pg_read_file(:'fdref')::jsonb;

-- Every leaf of two jsonb documents, compared: numbers to tol, the rest exactly; a key on one
-- side only counts as a mismatch.
CREATE FUNCTION fd_leaves(doc jsonb) RETURNS TABLE (path text, value jsonb)
LANGUAGE sql IMMUTABLE AS $$
WITH RECURSIVE walk(path, value) AS (
    SELECT ''::text, doc
  UNION ALL
    SELECT w.path || '/' || c.k, c.v
      FROM walk w,
           LATERAL (SELECT key AS k, value AS v
                      FROM jsonb_each(CASE WHEN jsonb_typeof(w.value) = 'object'
                                           THEN w.value ELSE '{}' END)
                    UNION ALL
                    SELECT (ord - 1)::text, value
                      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(w.value) = 'array'
                                                     THEN w.value ELSE '[]' END)
                           WITH ORDINALITY AS a(value, ord)) c)
SELECT path, value FROM walk WHERE jsonb_typeof(value) NOT IN ('object', 'array')
$$;
CREATE FUNCTION fd_compare(actual jsonb, expected jsonb, tol float8)
RETURNS TABLE (leaves bigint, mismatched bigint, max_abs_diff float8)
LANGUAGE sql IMMUTABLE AS $$
SELECT count(*),
       count(*) FILTER (WHERE NOT coalesce(ok, false)),
       coalesce(max(d), 0)
  FROM (SELECT CASE WHEN jsonb_typeof(e.value) = 'number' AND jsonb_typeof(a.value) = 'number'
                    THEN abs(a.value::float8 - e.value::float8) END AS d,
               CASE WHEN jsonb_typeof(e.value) = 'number' AND jsonb_typeof(a.value) = 'number'
                    THEN abs(a.value::float8 - e.value::float8) <= tol
                    ELSE a.value = e.value END AS ok
          FROM fd_leaves(expected) e FULL JOIN fd_leaves(actual) a USING (path)) s
$$;

-- 1,000 fixed decisions in six intersectional groups (sex/age band), from the reference
CREATE TABLE fair_decisions AS
SELECT ord::int AS id, r->>0 AS grp, split_part(r->>0, '/', 1) AS sex,
       split_part(r->>0, '/', 2) AS age_band, (r->>1)::int = 1 AS approved,
       (r->>2)::int = 1 AS defaulted
  FROM fd_reference, jsonb_array_elements(doc #> '{fairness,synthetic,rows}') WITH ORDINALITY AS t(r, ord);
SELECT count(*) AS decisions, count(DISTINCT grp) AS groups,
       count(*) FILTER (WHERE approved) AS approved, count(*) FILTER (WHERE defaulted) AS defaulted
  FROM fair_decisions;

-- the aggregate: per group count, selection (approval) rate, TPR, FPR, precision
SELECT g->>'group' AS grp, (g->>'count')::int AS n, (g->>'approved')::int AS approved,
       round((g->>'selection_rate')::numeric, 4) AS selection_rate,
       round((g->>'true_positive_rate')::numeric, 4) AS tpr,
       round((g->>'false_positive_rate')::numeric, 4) AS fpr,
       round((g->>'precision')::numeric, 4) AS precision,
       round((g->>'impact_ratio')::numeric, 4) AS impact_ratio,
       g->'passes_four_fifths' AS four_fifths
  FROM (SELECT cs_fairness(grp, approved, defaulted) AS f FROM fair_decisions) s,
       jsonb_array_elements(f->'groups') g;
-- and fairlearn's between-groups summary (unsigned), the reference group (highest rate)
SELECT jsonb_pretty(cs_fairness(grp, approved, defaulted) - 'groups') AS summary FROM fair_decisions;
-- every figure equals the reference's, to 1e-9
SELECT c.* , c.max_abs_diff <= 1e-9 AS within_1e_9
  FROM fd_reference r,
       fd_compare((SELECT cs_fairness(grp, approved, defaulted) FROM fair_decisions),
                  r.doc #> '{fairness,synthetic,by_intersection}', 1e-9) c;

-- naming the privileged group adds AIF360's signed figures (unprivileged = every other row)
-- and compares every group with it
SELECT f->>'privileged_group' AS privileged,
       round((f->>'statistical_parity_difference')::numeric, 6) AS statistical_parity_difference,
       round((f->>'disparate_impact')::numeric, 6) AS disparate_impact,
       f->'four_fifths_rule' AS four_fifths_rule
  FROM (SELECT cs_fairness(grp, approved, defaulted, 'M/30-49') AS f FROM fair_decisions) s;
SELECT c.*, c.max_abs_diff <= 1e-9 AS within_1e_9
  FROM fd_reference r,
       fd_compare((SELECT cs_fairness(grp, approved, defaulted, 'M/30-49') FROM fair_decisions),
                  r.doc #> '{fairness,synthetic,by_intersection_privileged}', 1e-9) c;
SELECT c.*, c.max_abs_diff <= 1e-9 AS within_1e_9
  FROM fd_reference r,
       fd_compare((SELECT cs_fairness(sex, approved, defaulted, 'M') FROM fair_decisions),
                  r.doc #> '{fairness,synthetic,by_sex_privileged}', 1e-9) c;

-- per group with GROUP BY: one attribute within another
SELECT sex, cs_fairness(age_band, approved, defaulted)->>'demographic_parity_difference' AS dpd
  FROM fair_decisions GROUP BY sex ORDER BY sex;

-- _partial and _merge: fan-out by hand gives the same document
SELECT (SELECT cs_fairness_merge(p) FROM (SELECT cs_fairness_partial(grp, approved, defaulted) AS p
                                            FROM fair_decisions GROUP BY id % 7) s)
     = (SELECT cs_fairness(grp, approved, defaulted) FROM fair_decisions) AS merge_equal,
       (SELECT cs_fairness_merge(p, 'M/30-49')
          FROM (SELECT cs_fairness_partial(grp, approved, defaulted) AS p
                  FROM fair_decisions GROUP BY id % 7) s)
     = (SELECT cs_fairness(grp, approved, defaulted, 'M/30-49') FROM fair_decisions) AS merge_privileged_equal,
       (SELECT cs_fairness_merge(p) FROM (SELECT cs_fairness_partial(grp, approved, defaulted, 'M/30-49') AS p
                                            FROM fair_decisions GROUP BY id % 7) s)
     = (SELECT cs_fairness(grp, approved, defaulted, 'M/30-49') FROM fair_decisions) AS partial_privileged_equal;

-- a forced parallel plan combines partial states and gives the serial answer
CREATE TABLE fair_decisions_x20 AS SELECT d.* FROM fair_decisions d, generate_series(1, 20);
ANALYZE fair_decisions_x20;
CREATE TABLE fair_serial AS
    SELECT cs_fairness(grp, approved, defaulted, 'M/30-49') AS f FROM fair_decisions_x20;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT cs_fairness(grp, approved, defaulted, 'M/30-49') FROM fair_decisions_x20;
CREATE TABLE fair_parallel AS
    SELECT cs_fairness(grp, approved, defaulted, 'M/30-49') AS f FROM fair_decisions_x20;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT p.f = s.f AS parallel_equals_serial, p.f->'groups'->0->'count' AS first_group_count,
       p.f->'disparate_impact' = (SELECT cs_fairness(grp, approved, defaulted, 'M/30-49')
                                    FROM fair_decisions)->'disparate_impact' AS same_rates_as_x1
  FROM fair_parallel p, fair_serial s;

-- Over a relation, with a model: approved = cs_predict(model, row) < threshold.  The
-- sensitive attribute marital is left out of the model's features and still analysed.
SET client_min_messages = warning;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'no_marital',
                exclude => ARRAY['id', 'marital']) > 0 AS trained;
RESET client_min_messages;
SELECT count(*) FILTER (WHERE f->>'name' = 'marital') AS marital_in_model,
       count(*) AS features
  FROM jsonb_array_elements(cs_model_info('no_marital')->'features') f;
-- one row per group (NULL marital is a group of its own, listed last), the summary on each
SELECT group_name, is_reference, n, approved, good, bad,
       round(selection_rate::numeric, 4) AS selection_rate,
       round(true_positive_rate::numeric, 4) AS tpr,
       round(false_positive_rate::numeric, 4) AS fpr,
       round(precision::numeric, 4) AS precision,
       round(impact_ratio::numeric, 4) AS impact_ratio, passes_four_fifths
  FROM cs_fairness('no_marital', 'credit', ARRAY['marital']);
SELECT DISTINCT round(demographic_parity_difference::numeric, 6) AS dpd,
       round(demographic_parity_ratio::numeric, 6) AS dpr,
       round(equal_opportunity_difference::numeric, 6) AS eod,
       round(equalized_odds_difference::numeric, 6) AS eqodds, four_fifths_rule
  FROM cs_fairness('no_marital', 'credit', ARRAY['marital']);
-- the decisions are the reference's (no score within 1e-6 of the threshold), so every
-- figure matches to 1e-9: the aggregate, and the function's rows against the aggregate
SELECT (doc #>> '{fairness,credit,approval_margin}')::float8 > 1e-6 AS decisions_unambiguous
  FROM fd_reference;
SELECT c.*, c.max_abs_diff <= 1e-9 AS within_1e_9
  FROM fd_reference r,
       fd_compare((SELECT cs_fairness(marital, cs_predict('no_marital', c.*) < 0.5, status = 'bad')
                     FROM credit c),
                  r.doc #> '{fairness,credit,by_marital}', 1e-9) c;
SELECT c.*, c.max_abs_diff <= 1e-9 AS within_1e_9
  FROM fd_reference r,
       fd_compare((SELECT cs_fairness(marital, cs_predict('no_marital', c.*) < 0.5, status = 'bad',
                                      'married')
                     FROM credit c),
                  r.doc #> '{fairness,credit,by_marital_privileged}', 1e-9) c;
WITH agg AS (
    SELECT cs_fairness(marital, cs_predict('no_marital', c.*) < 0.5, status = 'bad', 'married') AS f
      FROM credit c),
groups AS (
    SELECT g->>'group' AS grp, g FROM agg, jsonb_array_elements(f->'groups') g)
SELECT count(*) AS rows,
       count(*) FILTER (WHERE (r.n, r.approved, r.good, r.bad, r.selection_rate,
                               r.true_positive_rate, r.false_positive_rate, r.precision,
                               r.impact_ratio, r.parity_difference, r.passes_four_fifths,
                               r.statistical_parity_difference, r.disparate_impact,
                               r.four_fifths_rule)
                          IS NOT DISTINCT FROM
                              ((g->>'count')::bigint, (g->>'approved')::bigint,
                               (g->>'good')::bigint, (g->>'bad')::bigint,
                               (g->>'selection_rate')::float8, (g->>'true_positive_rate')::float8,
                               (g->>'false_positive_rate')::float8, (g->>'precision')::float8,
                               (g->>'impact_ratio')::float8, (g->>'parity_difference')::float8,
                               (g->>'passes_four_fifths')::boolean,
                               (f->>'statistical_parity_difference')::float8,
                               (f->>'disparate_impact')::float8,
                               (f->>'four_fifths_rule')::boolean)) AS equal_to_aggregate
  FROM cs_fairness('no_marital', 'credit', ARRAY['marital'], 0.5, 'married') r
  JOIN groups ON grp IS NOT DISTINCT FROM r.group_name, agg;

-- intersectional groups: marital x age band (the label joins the values with '/', a NULL
-- value shows as NULL); the privileged group is an intersection too
CREATE VIEW fair_credit_bands AS
    SELECT c.*, CASE WHEN age < 30 THEN '<30' WHEN age < 50 THEN '30-49' ELSE '50+' END AS age_band
      FROM credit c;
SELECT group_name, n, round(selection_rate::numeric, 4) AS selection_rate,
       round(impact_ratio::numeric, 4) AS vs_married_30_49, passes_four_fifths
  FROM cs_fairness('no_marital', 'fair_credit_bands', ARRAY['marital', 'age_band'], 0.5, 'married/30-49')
 WHERE n >= 100;
SELECT c.*, c.max_abs_diff <= 1e-9 AS within_1e_9
  FROM fd_reference r,
       fd_compare((SELECT cs_fairness(concat_ws('/', coalesce(marital, 'NULL'), age_band),
                                      cs_predict('no_marital', c.*) < 0.5, status = 'bad',
                                      'married/30-49')
                     FROM fair_credit_bands c),
                  r.doc #> '{fairness,credit,by_marital_age_privileged}', 1e-9) c;
SELECT count(*) AS groups, bool_and(four_fifths_rule IS NOT NULL) AS verdict_everywhere,
       round(min(disparate_impact)::numeric, 6) AS disparate_impact
  FROM cs_fairness('no_marital', 'fair_credit_bands', ARRAY['marital', 'age_band'], 0.5, 'married/30-49');
-- a stricter cutoff approves fewer applicants
SELECT sum(approved) AS approved_at_0_3 FROM cs_fairness('no_marital', 'credit', ARRAY['marital'], 0.3);

-- Documented results: a NULL decision is not counted; a NULL outcome counts for the
-- selection rate only; a NULL group is a group; no decisions at all gives NULL
SELECT f->'groups' AS groups
  FROM (SELECT cs_fairness(g, a, d) AS f
          FROM (VALUES ('A', true, false), ('A', NULL, false), ('A', false, NULL),
                       (NULL, true, true)) v(g, a, d)) s;
SELECT cs_fairness(g, a, d) IS NULL AS no_decisions_is_null
  FROM (VALUES ('A', NULL::boolean, false)) v(g, a, d);
SELECT cs_fairness(grp, approved, defaulted) IS NULL AS empty_is_null FROM fair_decisions WHERE false;
-- a relation without the target: decisions only, the outcome figures are NULL
CREATE VIEW fair_no_outcome AS SELECT * FROM credit;
ALTER VIEW fair_no_outcome RENAME COLUMN status TO status_hidden;
SELECT group_name, n, good, bad, round(selection_rate::numeric, 4) AS selection_rate,
       true_positive_rate, precision
  FROM cs_fairness('no_marital', 'fair_no_outcome', ARRAY['records']);

-- Bad input: each a specific error
SELECT sqlstate_of($$SELECT cs_fairness(grp, approved, defaulted, 'X') FROM fair_decisions$$);
SELECT sqlstate_of($$SELECT cs_fairness(grp, approved, defaulted, sex) FROM fair_decisions$$);
SELECT sqlstate_of($$SELECT cs_fairness(grp, approved, defaulted, NULL) FROM fair_decisions$$);
SELECT sqlstate_of($$SELECT * FROM cs_fairness('no_marital', 'credit', ARRAY[]::text[])$$);
SELECT sqlstate_of($$SELECT * FROM cs_fairness('no_marital', 'credit', ARRAY['sex'])$$);
SELECT sqlstate_of($$SELECT * FROM cs_fairness('no_marital', 'credit', ARRAY['marital'], 1.5)$$);
SELECT sqlstate_of($$SELECT * FROM cs_fairness('no_marital', 'credit', ARRAY['marital'], 0.5, 'wed')$$);
SELECT sqlstate_of($$SELECT * FROM cs_fairness('no_such_model', 'credit', ARRAY['marital'])$$);
SELECT sqlstate_of($$SELECT cs_fairness_merge('\x00'::bytea)$$);
SELECT sqlstate_of($$SELECT cs_fairness_step('', 'A', true, false)$$);

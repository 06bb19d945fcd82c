-- Explanations: SHAP values in the model's margin units, summing exactly to
-- each row's margin (local accuracy), for every row of the credit data.
-- Logistic regression: exact linear SHAP against the training means.
SELECT feature, value, round(shap::numeric, 6) AS shap
  FROM cs_shap('credit_risk@1', (SELECT c FROM credit c WHERE id = 3));
-- local accuracy on every row: the values sum to the log-odds of cs_predict
SELECT count(*) AS rows,
       max(abs((SELECT sum(v) FROM unnest(cs_shap_values('credit_risk@1', c.*)) v)
               - ln(p / (1 - p)))) < 1e-9 AS sums_to_margin
  FROM (SELECT c, cs_predict('credit_risk@1', c.*) AS p FROM credit c) s, LATERAL (SELECT (s.c).*) c;
-- the layout of XGBoost's pred_contribs: one value per feature, the base value last
SELECT array_length(cs_shap_values('credit_risk@1', c.*), 1) AS length,
       round((cs_shap_values('credit_risk@1', c.*))[14]::numeric, 6) AS base_value
  FROM credit c WHERE id = 1;
-- the base value is the margin at the training means: intercept plus each
-- weight times its design column's training mean (from the stored profile)
SELECT round((cs_shap_values('credit_risk@1', c.*))[14]::numeric, 9)
     = round((SELECT (doc #>> '{datasets,credit,seeds,42,fits,l2_C1,intercept}')::numeric FROM reference)
             + (SELECT sum(coefficient * CASE
                       WHEN term LIKE '%=%' THEN
                           (SELECT (f->'counts'->>(array_position(ARRAY(SELECT jsonb_array_elements_text(f->'levels')),
                                                                 split_part(term, '=', 2)) - 1))::float8 / (f->>'n')::float8
                              FROM cs_models m, jsonb_array_elements(m.profile->'features') f
                             WHERE m.name = 'credit_risk' AND m.version = 1 AND f->>'name' = split_part(term, '=', 1))
                       WHEN term LIKE '%:missing' THEN
                           (SELECT (f->>'missing')::float8 / (f->>'n')::float8
                              FROM cs_models m, jsonb_array_elements(m.profile->'features') f
                             WHERE m.name = 'credit_risk' AND m.version = 1 AND f->>'name' = split_part(term, ':', 1))
                       ELSE 0 END)::numeric
                  FROM cs_coefficients('credit_risk@1') WHERE term <> '(intercept)'), 9) AS base_is_margin_at_means
  FROM credit c WHERE id = 1;
-- jsonb rows explain the same way
SELECT cs_shap_values('credit_risk@1', c.*) = cs_shap_values('credit_risk@1', to_jsonb(c)) AS same
  FROM credit c WHERE id = 7;

-- Tree models: exact path-dependent TreeSHAP.  On the model trained by
-- XGBoost in Python and imported (77_xgboost), every value equals XGBoost's
-- pred_contribs and pred_interactions to 1e-5 (test/reference/shap_reference.py)
\getenv abs_srcdir PG_ABS_SRCDIR
\set shapref :abs_srcdir '/test/reference/shap_reference.json'
CREATE TABLE shap_reference AS SELECT pg_read_file(:'shapref')::jsonb AS doc;
CREATE TABLE shap_contribs AS
SELECT r.i::int AS id, e.k::int AS k, e.v::float8 AS v
  FROM shap_reference s, jsonb_array_elements(s.doc->'pred_contribs') WITH ORDINALITY AS r(row, i),
       jsonb_array_elements_text(r.row) WITH ORDINALITY AS e(v, k);
CREATE TABLE shap_interactions AS
SELECT r.i::int AS id, (a.j - 1) * 10 + b.k AS k, b.v::float8 AS v
  FROM shap_reference s, jsonb_array_elements(s.doc->'pred_interactions') WITH ORDINALITY AS r(row, i),
       jsonb_array_elements(r.row) WITH ORDINALITY AS a(rw, j),
       jsonb_array_elements_text(a.rw) WITH ORDINALITY AS b(v, k);
SELECT count(DISTINCT c.id) AS rows, count(*) AS values,
       max(abs(v.ours - x.v)) < 1e-5 AS contribs_match_xgboost
  FROM credit c, unnest(cs_shap_values('python_xgb', c.*)) WITH ORDINALITY AS v(ours, k),
       shap_contribs x
 WHERE c.id <= 50 AND x.id = c.id AND x.k = v.k;
SELECT count(DISTINCT c.id) AS rows, count(*) AS values,
       max(abs(v.ours - x.v)) < 1e-5 AS interactions_match_xgboost
  FROM credit c, unnest(cs_shap_interactions('python_xgb', c.*)) WITH ORDINALITY AS v(ours, k),
       shap_interactions x
 WHERE c.id <= 50 AND x.id = c.id AND x.k = v.k;
-- each interaction row sums to the feature's SHAP value
SELECT max(abs(r.row_sum - sv.phi[r.i])) < 1e-9 AS rows_sum_to_shap
  FROM credit c,
       LATERAL (SELECT cs_shap_values('python_xgb', c.*) AS phi) sv,
       LATERAL (SELECT i, sum(m[i][j]) AS row_sum
                  FROM (SELECT cs_shap_interactions('python_xgb', c.*) AS m) x,
                       generate_series(1, 10) i, generate_series(1, 10) j
                 GROUP BY i) r
 WHERE c.id <= 20;
-- local accuracy on every row: boosting in log-odds (the score sums its leaves
-- in single precision, as XGBoost does, SHAP in double, hence the tolerance
-- relative to the margin), the forest in probability (deep trees: 300 rows)
SELECT count(*) AS rows,
       max(abs((SELECT sum(v) FROM unnest(cs_shap_values('xgb_default', c.*)) v) - m)
           / greatest(abs(m), 1)) < 1e-5 AS boosting_sums_to_margin
  FROM credit c,
       LATERAL (SELECT ln(cs_predict('xgb_default', c.*) / (1 - cs_predict('xgb_default', c.*))) AS m) mm;
SELECT count(*) AS rows,
       max(abs((SELECT sum(v) FROM unnest(cs_shap_values('rf_default', c.*)) v)
               - cs_predict('rf_default', c.*))) < 1e-9 AS forest_sums_to_probability
  FROM credit c WHERE id <= 300;
SELECT feature, value, round(shap::numeric, 4) AS shap
  FROM cs_shap('xgb_default', (SELECT c FROM credit c WHERE id = 3)) ORDER BY abs(shap) DESC LIMIT 5;
-- KernelSHAP samples out of range, and interactions of a linear model
SELECT sqlstate_of($$SELECT cs_shap_values('net', c.*, samples => 5) FROM credit c LIMIT 1$$);
SELECT sqlstate_of($$SELECT cs_shap_interactions('credit_risk@1', c.*) FROM credit c LIMIT 1$$);

-- global importance: mean |SHAP| per feature over any query, an aggregate that
-- a forced parallel plan computes the same way
CREATE TABLE shap_rows AS SELECT c.id, cs_shap_values('credit_risk@1', c.*) AS v FROM credit c;
SELECT array_length(cs_shap_importance(v), 1) AS length,
       (SELECT max(abs(i.m - x.m)) < 1e-12
          FROM unnest(cs_shap_importance(v)) WITH ORDINALITY AS i(m, k),
               (SELECT k, avg(abs(e)) AS m FROM shap_rows, unnest(v) WITH ORDINALITY AS u(e, k) GROUP BY k) x
         WHERE x.k = i.k) AS equals_mean_abs
  FROM shap_rows;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF) SELECT cs_shap_importance(v) FROM shap_rows;
CREATE TABLE shap_parallel AS SELECT cs_shap_importance(v) AS m FROM shap_rows;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT (SELECT max(abs(a - b)) FROM unnest(p.m, (SELECT cs_shap_importance(v) FROM shap_rows)) AS z(a, b))
       < 1e-12 AS parallel_equals_serial
  FROM shap_parallel p;
SELECT f.name AS feature, round(i.m::numeric, 4) AS mean_abs_shap
  FROM (SELECT cs_shap_importance(v) AS arr FROM shap_rows) s,
       unnest(s.arr) WITH ORDINALITY AS i(m, k)
       JOIN (SELECT f->>'name' AS name, n FROM jsonb_array_elements(cs_model_info('credit_risk@1')->'features')
             WITH ORDINALITY AS o(f, n)) f ON f.n = i.k
 ORDER BY i.m DESC LIMIT 5;

-- a SHAP summary as rows, for a beeswarm-like chart
SELECT feature, bucket, value_from, value_to, round(mean_shap::numeric, 3) AS mean_shap, rows
  FROM cs_shap_summary('credit_risk@1', 'credit', 4)
 WHERE feature IN ('income', 'records') ORDER BY feature, bucket NULLS LAST, value_from;
SELECT sqlstate_of($$SELECT * FROM cs_shap_summary('credit_risk@1', 'credit', 0)$$);

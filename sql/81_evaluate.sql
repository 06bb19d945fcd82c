-- cs_evaluate: a model's metrics on a relation as jsonb, with error analysis
-- and business metrics; the curves of a model on a relation.  The relation is
-- the credit test split, the 668 rows model credit_risk@1 never saw; the
-- reference (test/reference/metrics_reference.py, loaded by 80_metrics)
-- computed every figure with scikit-learn on the reference model's
-- probabilities, which agree with the C model's to ~1e-9 (20_scoring checks
-- 1e-7), so figures must agree to 1e-6 and counts exactly.
CREATE TABLE credit_test AS
SELECT c.* FROM credit c
  JOIN (SELECT value::int AS id
          FROM metric_reference, jsonb_array_elements_text(doc->'cases'->'credit_test'->'id')) t
 USING (id);
CREATE FUNCTION agrees_1e6(got float8, expected float8) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN got IS NULL OR expected IS NULL THEN got IS NULL AND expected IS NULL
                ELSE abs(got - expected) <= 1e-6 * greatest(1, abs(expected)) END $$;
SELECT count(*) AS rows, count(*) FILTER (WHERE status = 'bad') AS bad FROM credit_test;

-- every figure at once; cost_fn: approving a defaulter costs 5, cost_fp:
-- declining a good payer costs 1
CREATE TABLE eval_credit_test AS
SELECT cs_evaluate('credit_risk@1', 'credit_test', cost_fn => 5, cost_fp => 1) AS j;
SELECT k.key, CASE WHEN jsonb_typeof(k.value) = 'number' AND k.value::text ~ '[.e]'
                  THEN round((k.value #>> '{}')::numeric, 6)::text
                  ELSE k.value #>> '{}' END AS value
  FROM eval_credit_test, jsonb_each(j - 'business' - 'error_analysis' - 'auc_ci' - 'confusion') k
 ORDER BY k.key;
SELECT j->'confusion' AS confusion,
       round((j->'auc_ci'->>0)::numeric, 6) AS auc_ci_lo, round((j->'auc_ci'->>1)::numeric, 6) AS auc_ci_hi
  FROM eval_credit_test;
-- error analysis: errors at the threshold, split by confidence (|p - 0.5| >= 0.4 is high)
SELECT k.key AS band, k.value->>'n' AS n, k.value->>'errors' AS errors,
       round((k.value->>'error_rate')::numeric, 4) AS error_rate,
       round((k.value->>'share_of_errors')::numeric, 4) AS share_of_errors
  FROM eval_credit_test, jsonb_each(j->'error_analysis') k WHERE jsonb_typeof(k.value) = 'object'
 ORDER BY 1;
-- business: approve when p < threshold; the cost of that policy and of the best threshold
SELECT k.key, CASE WHEN k.value::text ~ '[.e]' THEN round((k.value #>> '{}')::numeric, 6)::text
                  ELSE k.value #>> '{}' END AS value
  FROM eval_credit_test, jsonb_each(j->'business') k WHERE jsonb_typeof(k.value) = 'number'
 ORDER BY k.key;

-- each number of the reference, at the same path in cs_evaluate's output
WITH RECURSIVE leaves(path, value) AS (
    SELECT ARRAY[k.key], k.value
      FROM metric_expected e,
           jsonb_each((e.doc->'metrics'->'0.5')
                      || jsonb_build_object('business', e.doc->'business'->'0.5'->'unit')) k
     WHERE e.name = 'credit_test'
    UNION ALL
    SELECT l.path || k.key, k.value
      FROM leaves l,
           LATERAL (SELECT o.key, o.value
                      FROM jsonb_each(CASE WHEN jsonb_typeof(l.value) = 'object' THEN l.value END) o
                    UNION ALL
                    SELECT (a.i - 1)::text, a.v
                      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(l.value) = 'array' THEN l.value END)
                           WITH ORDINALITY a(v, i)) k)
SELECT count(*) AS figures,
       count(*) FILTER (WHERE NOT agrees_1e6((j #>> path)::float8, (value #>> '{}')::float8)) AS disagreeing,
       count(*) FILTER (WHERE jsonb_typeof(value) = 'number' AND (value #>> '{}') !~ '[.e]'
                          AND (j #>> path) <> (value #>> '{}')) AS counts_differing
  FROM leaves, eval_credit_test WHERE jsonb_typeof(value) IN ('number', 'null');
-- costs weighted by the loan amount
SELECT round((b->>'total_cost')::numeric, 2) AS total_cost,
       round((b->>'optimal_threshold')::numeric, 6) AS optimal_threshold,
       round((b->>'optimal_total_cost')::numeric, 2) AS optimal_total_cost,
       b->>'amount_column' AS amount_column,
       agrees_1e6((b->>'total_cost')::float8, (r->>'total_cost')::float8)
       AND agrees_1e6((b->>'expected_cost')::float8, (r->>'expected_cost')::float8)
       AND agrees_1e6((b->>'optimal_threshold')::float8, (r->>'optimal_threshold')::float8)
       AND agrees_1e6((b->>'optimal_total_cost')::float8, (r->>'optimal_total_cost')::float8)
       AND agrees_1e6((b->>'optimal_approval_rate')::float8, (r->>'optimal_approval_rate')::float8)
           AS matches_reference
  FROM (SELECT cs_evaluate('credit_risk@1', 'credit_test', cost_fn => 5, cost_fp => 1,
                           amount_column => 'amount')->'business' AS b) e,
       (SELECT doc->'business'->'0.5'->'amount' AS r FROM metric_expected WHERE name = 'credit_test') x;

-- the same figures as the worker's evaluation of the test split (cs_runs.metrics)
SELECT agrees_1e6((e.j->>'auc')::float8, (r.metrics #>> '{test,auc}')::float8) AS auc,
       agrees_1e6((e.j->>'log_loss')::float8, (r.metrics #>> '{test,log_loss}')::float8) AS log_loss,
       agrees_1e6((e.j->>'brier')::float8, (r.metrics #>> '{test,brier}')::float8) AS brier,
       (e.j->>'accuracy')::float8 = (r.metrics #>> '{test,accuracy}')::float8 AS accuracy,
       (e.j->>'n')::int = (r.metrics #>> '{test,n}')::int AS n
  FROM eval_credit_test e, cs_models m JOIN cs_runs r USING (run_id)
 WHERE m.name = 'credit_risk' AND m.version = 1;
-- and the same as cs_metrics over cs_predict in plain SQL, bit for bit
SELECT (e.j - 'model' - 'version' - 'relation' - 'target' - 'positive' - 'n_skipped')
       #- '{business,amount_column}'
     = (SELECT cs_metrics(cs_scores_partial(cs_predict('credit_risk@1', c.*), c.status = 'bad'), 0.5, 5, 1)
          FROM credit_test c) AS same_as_cs_metrics
  FROM eval_credit_test e;

-- the threshold and the costs change the decision, not the ranking
SELECT t.threshold, e.j->'confusion' AS confusion,
       round((e.j->'business'->>'approval_rate')::numeric, 4) AS approval_rate,
       round((e.j->'business'->>'default_rate_approved')::numeric, 4) AS default_rate_approved,
       round((e.j->>'auc')::numeric, 6) AS auc
  FROM (VALUES (0.3), (0.5), (0.7)) t(threshold),
       LATERAL (SELECT cs_evaluate('credit_risk@1', 'credit_test', t.threshold) AS j) e
 ORDER BY 1;
-- (for a calibrated model the optimum lies near cost_fp / (cost_fn + cost_fp))
SELECT c.cost_fn, c.cost_fp, round(c.cost_fp / (c.cost_fn + c.cost_fp)::numeric, 4) AS bayes,
       round((b->>'optimal_threshold')::numeric, 4) AS optimal_threshold,
       round((b->>'optimal_approval_rate')::numeric, 4) AS optimal_approval_rate
  FROM (VALUES (1, 1), (5, 1), (10, 1), (1, 5)) c(cost_fn, cost_fp),
       LATERAL (SELECT cs_evaluate('credit_risk@1', 'credit_test', 0.5, c.cost_fn, c.cost_fp)->'business' AS b) e
 ORDER BY 1, 2;

-- a NULL target is skipped and counted
CREATE VIEW eval_some_unlabelled AS
SELECT id, CASE WHEN id % 10 = 0 THEN NULL ELSE status END AS status, seniority, home, time, age,
       marital, records, job, expenses, income, assets, debt, amount, price FROM credit_test;
SELECT j->>'n' AS n, j->>'n_skipped' AS n_skipped
  FROM (SELECT cs_evaluate('credit_risk@1', 'eval_some_unlabelled') AS j) e;

-- curves of a model on a relation, for BI tools; the same rows as from a state
SELECT decile, count, positives, round(rate::numeric, 4) AS rate, round(lift::numeric, 3) AS lift,
       round(cumulative_gain::numeric, 4) AS cumulative_gain
  FROM cs_lift('credit_risk@1', 'credit_test');
SELECT bin, count, round(mean_predicted::numeric, 4) AS mean_predicted,
       round(observed_rate::numeric, 4) AS observed_rate
  FROM cs_calibration('credit_risk@1', 'credit_test', 5);
CREATE TABLE eval_test_state AS
SELECT cs_scores_partial(cs_predict('credit_risk@1', c.*), c.status = 'bad') AS s FROM credit_test c;
SELECT (SELECT count(*) FROM cs_roc_curve('credit_risk@1', 'credit_test')) AS roc_points,
       (SELECT count(*) FROM (SELECT * FROM cs_roc_curve('credit_risk@1', 'credit_test')
                              EXCEPT SELECT * FROM cs_roc_curve((SELECT s FROM eval_test_state))) d) AS roc_differing,
       (SELECT count(*) FROM (SELECT * FROM cs_pr_curve('credit_risk@1', 'credit_test')
                              EXCEPT SELECT * FROM cs_pr_curve((SELECT s FROM eval_test_state))) d) AS pr_differing,
       (SELECT count(*) FROM (SELECT * FROM cs_calibration('credit_risk@1', 'credit_test')
                              EXCEPT SELECT * FROM cs_calibration((SELECT s FROM eval_test_state))) d) AS calibration_differing,
       (SELECT count(*) FROM (SELECT * FROM cs_lift('credit_risk@1', 'credit_test')
                              EXCEPT SELECT * FROM cs_lift((SELECT s FROM eval_test_state))) d) AS lift_differing;
-- and the reference's ROC points, to 1e-6
SELECT count(*) AS points,
       count(*) FILTER (WHERE NOT (agrees_1e6(r.fpr, (e.doc->'roc'->'fpr'->>(r.k::int - 1))::float8)
                                   AND agrees_1e6(r.tpr, (e.doc->'roc'->'tpr'->>(r.k::int - 1))::float8)
                                   AND CASE WHEN r.k = 1 THEN r.threshold = 'Infinity'
                                            ELSE agrees_1e6(r.threshold, (e.doc->'roc'->'threshold'->>(r.k::int - 1))::float8) END))
           AS disagreeing
  FROM metric_expected e, cs_roc_curve('credit_risk@1', 'credit_test') WITH ORDINALITY AS r(fpr, tpr, threshold, k)
 WHERE e.name = 'credit_test';

-- bad input: each a specific ERROR
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'credit_test', 1.5)$$);
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'credit_test', -0.5)$$);
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'credit_test', 0.5, -1, 1)$$);
SELECT cs_evaluate('credit_risk@1', 'credit_test', 0.5, 1, 'Infinity');
-- the relation must hold the model's target, with the model's two classes
CREATE VIEW eval_no_target AS SELECT id, seniority, home, time, age, marital, records, job, expenses,
       income, assets, debt, amount, price FROM credit_test;
SELECT cs_evaluate('credit_risk@1', 'eval_no_target');
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'eval_no_target')$$);
SELECT sqlstate_of($$SELECT * FROM cs_roc_curve('credit_risk@1', 'eval_no_target')$$);
CREATE VIEW eval_three_classes AS
SELECT id, CASE WHEN id % 7 = 0 THEN 'unknown' ELSE status END AS status, seniority, home, time, age,
       marital, records, job, expenses, income, assets, debt, amount, price FROM credit_test;
SELECT cs_evaluate('credit_risk@1', 'eval_three_classes');
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'eval_three_classes')$$);
CREATE VIEW eval_renamed_classes AS
SELECT id, upper(status) AS status, seniority, home, time, age, marital, records, job, expenses,
       income, assets, debt, amount, price FROM credit_test;
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'eval_renamed_classes')$$);
-- the amount column must exist, be a number, be present and not negative
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'credit_test', amount_column => 'loan')$$);
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'credit_test', amount_column => 'home')$$);
CREATE VIEW eval_odd_amounts AS SELECT c.*, CASE WHEN id % 5 = 0 THEN NULL ELSE amount END AS principal,
       amount - 1000 AS net FROM credit_test c;
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'eval_odd_amounts', amount_column => 'principal')$$);
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'eval_odd_amounts', amount_column => 'net')$$);
-- no rows to evaluate on; a relation lacking a feature; an unknown model
CREATE TABLE eval_no_applications AS SELECT * FROM credit_test WHERE false;
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'eval_no_applications')$$);
SELECT count(*) AS roc_points FROM cs_roc_curve('credit_risk@1', 'eval_no_applications');
CREATE TABLE eval_no_target_no_rows AS SELECT age, income FROM credit_test WHERE false;
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'eval_no_target_no_rows')$$);
CREATE VIEW eval_no_income AS SELECT id, status, seniority, home, time, age, marital, records, job,
       expenses, assets, debt, amount, price FROM credit_test;
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'eval_no_income')$$);
SELECT sqlstate_of($$SELECT cs_evaluate('no_such_model', 'credit_test')$$);
SELECT cs_evaluate(NULL, 'credit_test') IS NULL AS null_model_null_result;
-- the relation is read as the calling role
CREATE ROLE regress_cs_analyst;
SET ROLE regress_cs_analyst;
SELECT sqlstate_of($$SELECT cs_evaluate('credit_risk@1', 'credit_test')$$);
RESET ROLE;
DROP ROLE regress_cs_analyst;

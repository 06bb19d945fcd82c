-- LIME: cs_lime explains a row as lime's LimeTabularExplainer does with its defaults
-- (quartile bins from the training statistics stored with the model, kernel width
-- 0.75 sqrt(features), a weighted ridge surrogate on the binary representation), for every
-- model type, seeded.  No model is trained here: the suites before left credit_risk
-- (logistic regression), xgb_default, rf_default and net (dnn), all on credit.

-- the training statistics LIME samples from: lime's quartile bins of each numeric feature
-- (numpy.percentile, linear interpolation), each bin's count, mean, deviation and range
SELECT f->>'name' AS feature, f->>'kind' AS kind, f->'bins' AS quartiles, f->'counts' AS counts,
       (f->>'missing')::int AS missing
  FROM cs_models m, jsonb_array_elements(m.profile #> '{lime,features}') f
 WHERE m.name = 'credit_risk' AND m.version = 1 AND f->>'name' IN ('income', 'time', 'home');
-- the bins partition the training rows; the numeric ranges are lime's mins and maxs
SELECT bool_and(n = (SELECT (m.profile->>'n')::int)) AS counts_add_up,
       bool_and(ranges_ok) AS ranges_are_lime_s
  FROM cs_models m, jsonb_array_elements(m.profile #> '{lime,features}') f,
       LATERAL (SELECT (f->>'missing')::int + (SELECT sum(c::int) FROM jsonb_array_elements_text(f->'counts') c) AS n,
                       f->>'kind' = 'categorical'
                       OR (f->'mins'->1 = f->'bins'->0 AND f->'maxs'->0 = f->'bins'->0
                           AND jsonb_array_length(f->'means') = jsonb_array_length(f->'bins') + 1) AS ranges_ok) x
 WHERE m.name = 'credit_risk' AND m.version = 1;

-- Logistic regression: one row per feature by |weight| descending, lime's bin names
SELECT feature, value, condition, round(weight::numeric, 2) AS weight
  FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3))
 LIMIT 6;
-- the surrogate: its prediction for the row (binary all ones) is the intercept plus every
-- weight; R^2 in [0, 1]; prediction is the model's, as cs_predict gives it
SELECT count(*) AS features,
       abs(min(intercept) + sum(weight) - min(local_prediction)) < 1e-12 AS local_is_sum,
       min(score) BETWEEN 0 AND 1 AS r2_in_0_1,
       min(prediction) = (SELECT cs_predict('credit_risk@1', c.*) FROM credit c WHERE id = 3)
           AS prediction_is_the_model_s,
       abs(min(local_prediction) - min(prediction)) < 0.2 AS local_near_prediction
  FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3));

-- seeded: the same seed gives the same explanation, another seed another one
CREATE TABLE lime_seeds AS
SELECT s.run, s.seed, array_agg(l.weight ORDER BY l.feature) AS weights,
       min(l.intercept) AS intercept, min(l.score) AS score
  FROM (VALUES (1, 0), (2, 0), (3, 1)) AS s(run, seed),
       LATERAL cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3), seed => s.seed) l
 GROUP BY s.run, s.seed;
SELECT count(DISTINCT (weights, intercept, score)) FILTER (WHERE seed = 0) AS distinct_with_seed_0,
       count(DISTINCT (weights, intercept, score)) AS distinct_overall
  FROM lime_seeds;
-- two seeds agree on the weights to a few hundredths
SELECT max(abs(a.w - a.v)) < 0.05 AS seeds_agree
  FROM lime_seeds s1, lime_seeds s3, unnest(s1.weights, s3.weights) AS a(w, v)
 WHERE s1.run = 1 AND s3.run = 3;

-- a jsonb row explains the same way; lime's default width is 0.75 sqrt(13)
SELECT (SELECT array_agg(weight ORDER BY feature) FROM cs_lime('credit_risk@1', c.*))
     = (SELECT array_agg(weight ORDER BY feature) FROM cs_lime('credit_risk@1', to_jsonb(c))) AS jsonb_same,
       (SELECT array_agg(weight ORDER BY feature) FROM cs_lime('credit_risk@1', c.*))
     = (SELECT array_agg(weight ORDER BY feature)
          FROM cs_lime('credit_risk@1', c.*, kernel_width => 0.75 * sqrt(13))) AS default_width,
       (SELECT array_agg(weight ORDER BY feature) FROM cs_lime('credit_risk@1', c.*))
    <> (SELECT array_agg(weight ORDER BY feature)
          FROM cs_lime('credit_risk@1', c.*, kernel_width => 1)) AS width_matters
  FROM credit c WHERE id = 7;

-- a feature the model hardly depends on gets a small weight: the logistic regression's
-- least important feature by mean |SHAP| against its most important one, on ten rows
WITH imp AS (
    SELECT f.name, i.m
      FROM (SELECT cs_shap_importance(cs_shap_values('credit_risk@1', c.*)) AS arr FROM credit c) s,
           unnest(s.arr) WITH ORDINALITY AS i(m, k)
           JOIN (SELECT f->>'name' AS name, n
                   FROM jsonb_array_elements(cs_model_info('credit_risk@1')->'features')
                        WITH ORDINALITY AS o(f, n)) f ON f.n = i.k),
least AS (SELECT name FROM imp ORDER BY m LIMIT 1),
most AS (SELECT name FROM imp ORDER BY m DESC LIMIT 1)
SELECT (SELECT name FROM least) AS least_important, (SELECT name FROM most) AS most_important,
       max(abs(l.weight)) FILTER (WHERE l.feature = (SELECT name FROM least)) < 0.02 AS least_small,
       avg(abs(l.weight)) FILTER (WHERE l.feature = (SELECT name FROM most))
     > 5 * avg(abs(l.weight)) FILTER (WHERE l.feature = (SELECT name FROM least)) AS most_larger
  FROM credit c, LATERAL cs_lime('credit_risk@1', c.*) l
 WHERE c.id <= 10;

-- every model type: boosting, forest, network; the same identities
SELECT m.name, count(*) AS features,
       abs(min(l.intercept) + sum(l.weight) - min(l.local_prediction)) < 1e-12 AS local_is_sum,
       min(l.score) BETWEEN 0 AND 1 AS r2_in_0_1,
       min(l.prediction) = min(cs_predict(m.name, c.*)) AS prediction_is_the_model_s,
       count(DISTINCT l.condition) = 13 AS one_condition_each
  FROM (VALUES ('xgb_default'), ('rf_default'), ('net')) AS m(name),
       credit c, LATERAL cs_lime(m.name, c.*, samples => 2000) l
 WHERE c.id = 11
 GROUP BY m.name ORDER BY m.name;
SELECT (SELECT array_agg(weight ORDER BY feature) FROM cs_lime('xgb_default', c.*, seed => 5))
     = (SELECT array_agg(weight ORDER BY feature) FROM cs_lime('xgb_default', c.*, seed => 5)) AS boosting_seeded,
       (SELECT array_agg(weight ORDER BY feature) FROM cs_lime('net', c.*, seed => 5))
     = (SELECT array_agg(weight ORDER BY feature) FROM cs_lime('net', c.*, seed => 5)) AS network_seeded
  FROM credit c WHERE id = 11;
-- a NULL value is its own bin, named as SQL says it
SELECT feature, value, condition
  FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE income IS NULL ORDER BY id LIMIT 1))
 WHERE feature = 'income';
-- the fewest samples allowed; a NULL model or row gives no rows
SELECT count(*) AS features FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3), samples => 10);
SELECT count(*) AS null_model FROM cs_lime(NULL, (SELECT c FROM credit c WHERE id = 3));
SELECT count(*) AS null_row FROM cs_lime('credit_risk@1', NULL::jsonb);

-- bad input: each a specific error, with a hint
SELECT * FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3), samples => 9);
SELECT sqlstate_of($$SELECT * FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3), samples => 1000001)$$);
SELECT sqlstate_of($$SELECT * FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3), samples => NULL)$$);
SELECT sqlstate_of($$SELECT * FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3), seed => NULL)$$);
SELECT sqlstate_of($$SELECT * FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3), kernel_width => 0)$$);
SELECT sqlstate_of($$SELECT * FROM cs_lime('no_such_model', (SELECT c FROM credit c WHERE id = 3))$$);
-- a row missing features: a record without the column, a jsonb object without the key
SELECT sqlstate_of($$SELECT * FROM cs_lime('credit_risk@1', (SELECT x FROM (SELECT id, status, age FROM credit) x WHERE id = 3))$$);
SELECT sqlstate_of($$SELECT * FROM credit c, cs_lime('credit_risk@1', to_jsonb(c) - 'income') WHERE c.id = 3$$);
SELECT * FROM cs_lime('credit_risk@1', (SELECT to_jsonb(c) - 'income' FROM credit c WHERE id = 3));
-- a model without the training statistics: imported from XGBoost (no profile), or whose
-- profile predates them; and statistics that were edited
SELECT * FROM cs_lime('python_xgb', (SELECT c FROM credit c WHERE id = 3));
BEGIN;
UPDATE cs_models SET profile = profile - 'lime' WHERE name = 'credit_risk' AND version = 1;
SELECT * FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3));
ROLLBACK;
BEGIN;
UPDATE cs_models SET profile = jsonb_set(profile, '{lime,features,8,bins}', '[171, 125, 90]')
 WHERE name = 'credit_risk' AND version = 1;
SELECT * FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3));
ROLLBACK;
BEGIN;
UPDATE cs_models SET profile = jsonb_set(profile, '{lime,features,1,counts}', '[1, 2]')
 WHERE name = 'credit_risk' AND version = 1;
SELECT * FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3));
ROLLBACK;
-- and the model is whole again
SELECT count(*) AS features FROM cs_lime('credit_risk@1', (SELECT c FROM credit c WHERE id = 3), samples => 100);

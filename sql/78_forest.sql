-- Random forest: bootstrap, Gini, sqrt(features) per split, balanced class
-- weights, binned histograms, missing values routed by a learned default
-- direction, out-of-bag AUC on the run; quality as scikit-learn's
-- RandomForestClassifier on the same split (test/reference/trees_reference.py,
-- missing values fed to scikit-learn as -1, its figures averaged over seeds 0..9).
SET client_min_messages = warning;
CREATE TABLE rf_configs AS
SELECT c.key AS config,
       cs_train('credit', 'random_forest', 'status', 'bad', name => 'rf_' || c.key,
                exclude => ARRAY['id'],
                params => (c.value->'params') - 'max_depth' - 'class_weight' - 'bootstrap'
                          || jsonb_strip_nulls(jsonb_build_object(
                                 'max_depth', c.value->'params'->'max_depth',
                                 'class_weight', c.value->'params'->'class_weight'))) AS run_id
  FROM trees_reference t, jsonb_each(t.doc->'forest') AS c
 ORDER BY c.key;
RESET client_min_messages;
SELECT x.config, r.params->>'max_depth' AS max_depth, r.params->>'class_weight' AS class_weight,
       r.params->>'max_features' AS max_features,
       abs((r.metrics #>> '{test,auc}')::float8 - (c.value->>'test_auc_mean')::float8) < 0.005
           AS test_auc_within_0_005,
       abs((r.metrics->>'oob_auc')::float8 - (c.value->>'oob_auc_mean')::float8) < 0.01
           AS oob_auc_within_0_01
  FROM rf_configs x JOIN cs_runs r USING (run_id), trees_reference t,
       jsonb_each(t.doc->'forest') AS c
 WHERE c.key = x.config
 ORDER BY x.config;

-- mean decrease in impurity, normalised as scikit-learn's feature_importances_
SELECT round(sum(importance)::numeric, 9) AS total, count(*) AS features,
       bool_and(importance >= 0) AS non_negative
  FROM cs_feature_importance('rf_default');

-- the same seed gives the same forest, whatever the thread count
SET client_min_messages = warning;
SET credit_scoring.training_threads = 2;
SELECT cs_train('credit', 'random_forest', 'status', 'bad', name => 'rf_two_threads',
                exclude => ARRAY['id']) > 0 AS trained;
RESET credit_scoring.training_threads;
RESET client_min_messages;
SELECT (SELECT count(*) FROM credit c
         WHERE cs_predict('rf_default', c.*) <> cs_predict('rf_two_threads', c.*)) AS differing_scores,
       (SELECT threads FROM cs_runs r JOIN cs_models m USING (run_id) WHERE m.name = 'rf_two_threads')
           AS threads;

-- a forest's probability is its mean leaf probability; rows with NULLs are scored
SELECT count(*) FILTER (WHERE p >= 0 AND p <= 1) AS probabilities,
       count(*) FILTER (WHERE income IS NULL AND p IS NOT NULL) AS with_null_income
  FROM (SELECT c.income, cs_predict('rf_default', c.*) AS p FROM credit c) s;

-- bad input
SELECT sqlstate_of($$SELECT cs_train('credit', 'random_forest', 'status', 'bad', params => '{"max_features": "half"}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'random_forest', 'status', 'bad', params => '{"class_weight": "auto"}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'random_forest', 'status', 'bad', params => '{"min_samples_leaf": 0}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'random_forest', 'status', 'bad', params => '{"max_depth": 100}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'random_forest', 'status', 'bad', params => '{"learning_rate": 0.1}')$$);

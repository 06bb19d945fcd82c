-- XGBoost-style gradient boosting: the same trees as XGBoost 1.7 "hist" on the
-- same split and inputs (test/reference/trees_reference.py), and the import of
-- a model trained by XGBoost in Python (test/reference/xgboost_import_reference.py).
\getenv abs_srcdir PG_ABS_SRCDIR
\set ref :abs_srcdir '/test/reference/trees_credit.json'
CREATE TABLE trees_reference AS SELECT pg_read_file(:'ref')::jsonb AS doc;

-- train each reference configuration with XGBoost's own parameter names
SET client_min_messages = warning;
CREATE TABLE xgb_configs AS
SELECT c.key AS config,
       cs_train('credit', 'xgboost', 'status', 'bad', name => 'xgb_' || c.key,
                exclude => ARRAY['id'], params => c.value->'params') AS run_id
  FROM trees_reference t, jsonb_each(t.doc->'xgboost') AS c
 ORDER BY c.key;
RESET client_min_messages;

-- test-split AUC equals XGBoost's (the issue asks for 0.005), the same best iteration,
-- and every one of the first 20 rows' probabilities within 1e-6
SELECT x.config,
       round((r.metrics #>> '{test,auc}')::numeric, 6) AS test_auc,
       abs((r.metrics #>> '{test,auc}')::float8 - (c.value->>'test_auc')::float8) < 0.005 AS auc_within_0_005,
       (r.metrics->>'best_iteration')::int = (c.value->>'best_iteration')::int AS same_best_iteration,
       (SELECT max(abs(cs_predict('xgb_' || x.config, cr.*)
                       - (c.value->'first_rows_prob'->>(cr.id - 1))::float8)) < 1e-6
          FROM credit cr WHERE cr.id <= 20) AS first_rows_within_1e6
  FROM xgb_configs x JOIN cs_runs r USING (run_id),
       trees_reference t, jsonb_each(t.doc->'xgboost') AS c
 WHERE c.key = x.config
 ORDER BY x.config;

-- early stopping on the validation split kept the best iteration's trees
SELECT r.params->>'early_stopping_rounds' AS early_stopping_rounds,
       (r.metrics->>'rounds')::int > (r.metrics->>'best_iteration')::int AS stopped_after_best
  FROM xgb_configs x JOIN cs_runs r USING (run_id) WHERE x.config = 'early_stopping';

-- feature importance (gain and cover) is stored with the run, as rows for BI tools
SELECT feature, round(gain::numeric, 2) AS gain, round(cover::numeric, 2) AS cover
  FROM cs_feature_importance('xgb_default') ORDER BY gain DESC LIMIT 5;
SELECT count(*) AS features,
       bool_and(abs(i.gain - (r.metrics #>> ARRAY['importance', i.feature, 'gain'])::float8) < 1e-9)
           AS matches_run_record
  FROM cs_feature_importance('xgb_default') i, cs_runs r, xgb_configs x
 WHERE x.config = 'default' AND r.run_id = x.run_id;

-- monotone constraints: the run records that each constrained feature's
-- partial dependence is monotone, and varying income over its range on 300
-- rows gives non-increasing scores for every row
SELECT r.metrics->'monotone' AS monotone_check
  FROM xgb_configs x JOIN cs_runs r USING (run_id) WHERE x.config = 'monotone';
WITH grid AS (SELECT v FROM generate_series(0, 1000, 5) AS v),
scores AS (
    SELECT c.id, g.v,
           cs_predict('xgb_monotone', to_jsonb(c) || jsonb_build_object('income', g.v)) AS p
      FROM credit c, grid g WHERE c.id <= 300),
steps AS (
    SELECT id, p - lag(p) OVER (PARTITION BY id ORDER BY v) AS step FROM scores)
SELECT count(DISTINCT id) AS rows_checked, count(*) FILTER (WHERE step > 1e-12) AS increases
  FROM steps;

-- the blob of a boosted model is validated like any other
SELECT sqlstate_of(format('SELECT cs_predict(%L::bytea, ''{}''::jsonb)',
                   set_byte(blob, octet_length(blob) - 30, 255))) AS flipped
  FROM cs_models WHERE name = 'xgb_default';

-- importing a model trained by XGBoost in Python: its scores equal XGBoost's
-- predict on every row of the credit data
\set model :abs_srcdir '/test/reference/xgb_import_model.json'
\set preds :abs_srcdir '/test/reference/xgb_import_predictions.json'
SELECT cs_import_xgboost('python_xgb', pg_read_file(:'model')::jsonb) AS version;
CREATE TABLE xgb_import_reference AS SELECT pg_read_file(:'preds')::jsonb AS doc;
SELECT count(*) AS rows,
       max(abs(cs_predict('python_xgb', c.*) - (x.doc->'proba'->>(c.id - 1))::float8)) < 1e-6
           AS all_within_1e6
  FROM credit c, xgb_import_reference x;
SELECT model_type, relation, params->>'imported_from' AS imported_from, features
  FROM cs_runs WHERE run_id = (SELECT run_id FROM cs_models WHERE name = 'python_xgb');
-- mapping XGBoost's feature names onto other columns
CREATE TABLE renamed AS SELECT id, seniority AS years_at_job, time, age, expenses, income, assets,
       debt, amount, price FROM credit;
SELECT cs_import_xgboost('python_xgb_renamed', pg_read_file(:'model')::jsonb,
                         '{"seniority": "years_at_job"}') AS version;
SELECT count(*) FILTER (WHERE cs_predict('python_xgb_renamed', r.*) = cs_predict('python_xgb', c.*))
           AS equal_scores
  FROM renamed r JOIN credit c USING (id);
-- bad input
SELECT sqlstate_of($$SELECT cs_import_xgboost('bad', '{"learner": {}}')$$);
SELECT sqlstate_of($$SELECT cs_import_xgboost('bad', '[1, 2]')$$);
SELECT sqlstate_of(format('SELECT cs_import_xgboost(%L, %L::jsonb)', 'bad',
       jsonb_set(pg_read_file(:'model')::jsonb, '{learner,objective,name}', '"reg:squarederror"')));
SELECT sqlstate_of(format('SELECT cs_import_xgboost(%L, %L::jsonb)', 'bad',
       jsonb_set(pg_read_file(:'model')::jsonb,
                 '{learner,gradient_booster,model,trees,0,left_children,0}', '0')));

-- limits and bad hyperparameters: a blob larger than credit_scoring.max_model_size
SET credit_scoring.max_model_size = '1kB';
SELECT sqlstate_of($$SELECT cs_train('credit', 'xgboost', 'status', 'bad', exclude => ARRAY['id'])$$);
RESET credit_scoring.max_model_size;
SELECT sqlstate_of($$SELECT cs_train('credit', 'xgboost', 'status', 'bad', params => '{"max_depth": 0}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'xgboost', 'status', 'bad', params => '{"n_estimators": 0}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'xgboost', 'status', 'bad', params => '{"learning_rate": 2}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'xgboost', 'status', 'bad', params => '{"subsample": 0}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'xgboost', 'status', 'bad', params => '{"max_leaves": 8}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'xgboost', 'status', 'bad', exclude => ARRAY['id'],
                                     params => '{"monotone_constraints": {"salary": 1}}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'xgboost', 'status', 'bad', exclude => ARRAY['id'],
                                     params => '{"monotone_constraints": {"home": 1}}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'xgboost', 'status', 'bad', exclude => ARRAY['id'],
                                     params => '{"monotone_constraints": {"income": 2}}')$$);

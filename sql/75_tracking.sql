-- Tracking: tags, side-by-side comparison, stages with their history,
-- deletion that leaves no dangling version, and re-running a run.
SET client_min_messages = warning;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'tracked',
                exclude => ARRAY['id'], experiment => 'tracking') AS run_a \gset
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'tracked',
                exclude => ARRAY['id'], experiment => 'tracking', params => '{"C": 0.1}') AS run_b \gset
RESET client_min_messages;

-- tags
SELECT cs_tag_run(:run_a, 'owner', 'risk team');
SELECT cs_tag_run(:run_a, 'ticket', 'CR-1042');
SELECT cs_tag_run(:run_a, 'ticket', NULL);
SELECT sqlstate_of(format('SELECT cs_tag_run(%s, %L, %L)', 999999, 'k', 'v'));

-- runs side by side, one column per metric
SELECT run_id = :run_a AS is_a, model_type, status, params->>'C' AS c, tags,
       round(test_auc::numeric, 4) AS test_auc, round(validation_auc::numeric, 4) AS validation_auc,
       round(test_log_loss::numeric, 4) AS test_log_loss, n_train, data_fingerprint, models,
       seconds >= 0 AS timed
  FROM cs_compare_runs('tracking');
-- both runs read the same rows: the same fingerprint
SELECT count(DISTINCT data_fingerprint) AS fingerprints FROM cs_compare_runs('tracking');

-- stages: one production version per name, with its history
SELECT name, version, from_stage, to_stage, changed_by = session_user AS by_me, comment
  FROM cs_set_stage('tracked', 1, 'staging', 'validation passed');
SELECT name, version, from_stage, to_stage FROM cs_set_stage('tracked', 1, 'production');
SELECT name, version, from_stage, to_stage, comment FROM cs_set_stage('tracked', 2, 'production');
SELECT version, stage FROM cs_models WHERE name = 'tracked' ORDER BY version;
SELECT cs_predict('tracked', c.*) = cs_predict('tracked@2', c.*) AS production_is_used
  FROM credit c WHERE id = 1;
SELECT version, from_stage, to_stage FROM cs_stage_history WHERE name = 'tracked' ORDER BY change_id;
SELECT sqlstate_of($$SELECT cs_set_stage('tracked', 1, 'live')$$);
SELECT sqlstate_of($$SELECT cs_set_stage('tracked', 9, 'staging')$$);
SELECT sqlstate_of($$SELECT cs_set_stage('untracked', 1, 'staging')$$);
-- the unique index backs the rule even against a direct UPDATE
SELECT sqlstate_of($$UPDATE cs_models SET stage = 'production' WHERE name = 'tracked'$$);

-- an ordinary role may not change stages or delete unless granted
CREATE ROLE tracking_analyst;
SET SESSION AUTHORIZATION tracking_analyst;
SELECT sqlstate_of($$SELECT cs_set_stage('tracked', 1, 'archived')$$);
SELECT sqlstate_of($$SELECT cs_delete_model('tracked', 1)$$);
SELECT sqlstate_of(format('SELECT cs_tag_run(%s, %L, %L)', :run_a, 'k', 'v'));
RESET SESSION AUTHORIZATION;
DROP ROLE tracking_analyst;

-- re-running a run gives the same model, bit for bit
SET client_min_messages = warning;
SELECT cs_retrain(:run_b) AS run_c \gset
RESET client_min_messages;
SELECT (SELECT blob FROM cs_models WHERE run_id = :run_c)
     = (SELECT blob FROM cs_models WHERE run_id = :run_b) AS same_model,
       (SELECT params FROM cs_runs WHERE run_id = :run_c)
     = (SELECT params FROM cs_runs WHERE run_id = :run_b) AS same_params;
SELECT sqlstate_of($$SELECT cs_retrain(999999)$$);

-- deleting a version, then a run: no version is left pointing at a missing run
SELECT cs_delete_model('tracked', 3) AS deleted;
SELECT sqlstate_of($$SELECT cs_delete_model('tracked', 3)$$);
SELECT cs_delete_run(:run_b) AS deleted_runs;
SELECT version, stage FROM cs_models WHERE name = 'tracked' ORDER BY version;
SELECT count(*) AS dangling FROM cs_models m WHERE NOT EXISTS (SELECT 1 FROM cs_runs r WHERE r.run_id = m.run_id);
SELECT version, from_stage, to_stage, comment FROM cs_stage_history
 WHERE name = 'tracked' AND to_stage = 'deleted' ORDER BY change_id;
SELECT sqlstate_of(format('SELECT cs_delete_run(%s)', :run_b));
-- with the production version gone, the name resolves to its newest version
SELECT cs_predict('tracked', c.*) = cs_predict('tracked@1', c.*) AS newest_used
  FROM credit c WHERE id = 1;

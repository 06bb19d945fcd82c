-- Hyperparameter search: a list is a grid axis; every combination is scored
-- by stratified 5-fold cross-validation on the training split, the best by
-- mean fold AUC (ties to the first) is refitted on the whole training split.
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'searched',
                exclude => ARRAY['id'], experiment => 'search',
                params => '{"C": [0.001, 0.01, 1], "cv_folds": 5}') AS search_run \gset
-- the parent run names the winner; each combination is a child run
SELECT run_id = :search_run AS parent, parent_run = :search_run AS child, status,
       params->>'C' AS c,
       jsonb_array_length(metrics #> '{cv,folds}') AS folds,
       round((metrics #>> '{cv,mean}')::numeric, 4) AS mean_auc,
       round((metrics #>> '{cv,std}')::numeric, 4) AS sd_auc,
       metrics #>> '{cv,rank}' AS rank
  FROM cs_runs WHERE run_id = :search_run OR parent_run = :search_run ORDER BY run_id;
SELECT metrics #> '{search,winner,params}' AS winner_params,
       metrics #>> '{search,winner,combination}' AS winner,
       metrics #>> '{search,method}' AS method, metrics #>> '{search,combinations}' AS combinations
  FROM cs_runs WHERE run_id = :search_run;
-- every fold's AUC equals scikit-learn's on the same folds and encoding
-- (test/reference/search_reference.py), to 1e-6
\getenv abs_srcdir PG_ABS_SRCDIR
\set ref :abs_srcdir '/test/reference/search_credit.json'
CREATE TABLE search_reference AS SELECT pg_read_file(:'ref')::jsonb AS doc;
SELECT r.params->>'C' AS c, count(*) AS folds,
       max(abs((f.auc)::float8 - (g.auc)::float8)) < 1e-6 AS folds_match_sklearn
  FROM cs_runs r, search_reference s,
       jsonb_array_elements(s.doc->'combinations') AS ref_combo,
       jsonb_array_elements_text(r.metrics #> '{cv,folds}') WITH ORDINALITY AS f(auc, k),
       jsonb_array_elements_text(ref_combo->'folds') WITH ORDINALITY AS g(auc, k)
 WHERE r.parent_run = :search_run
   AND (ref_combo->>'C')::float8 = (r.params->>'C')::float8 AND f.k = g.k
 GROUP BY r.run_id, r.params->>'C' ORDER BY r.run_id;

-- the winner is the child ranked first
SELECT (SELECT params FROM cs_runs WHERE parent_run = :search_run AND metrics #>> '{cv,rank}' = '1')
     = (SELECT params FROM cs_runs WHERE run_id = :search_run) AS winner_is_rank_1;
-- the model is the winner refitted on the whole training split: the same as a plain fit
SET client_min_messages = warning;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'plain_winner',
                exclude => ARRAY['id'],
                params => (SELECT params FROM cs_runs WHERE run_id = :search_run)) > 0 AS trained;
RESET client_min_messages;
SELECT (SELECT blob FROM cs_models WHERE name = 'searched')
     = (SELECT blob FROM cs_models WHERE name = 'plain_winner') AS refitted_winner;

-- random search draws n_iter combinations, seeded; log loss ranks lowest first
SET client_min_messages = warning;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'random_search',
                exclude => ARRAY['id'],
                params => '{"C": [0.001, 0.01, 0.1, 1, 10], "search": "random", "n_iter": 3,
                            "cv_folds": 3, "metric": "log_loss"}') AS random_run \gset
RESET client_min_messages;
SELECT params->>'C' AS c, metrics #>> '{cv,rank}' AS rank,
       round((metrics #>> '{cv,mean}')::numeric, 4) AS mean_log_loss
  FROM cs_runs WHERE parent_run = :random_run ORDER BY run_id;
SELECT metrics #>> '{search,metric}' AS metric, metrics #>> '{search,combinations}' AS combinations
  FROM cs_runs WHERE run_id = :random_run;

-- deleting the search deletes its combinations and its model
SELECT cs_delete_run(:random_run) AS deleted_runs;
SELECT count(*) AS left_over FROM cs_runs WHERE parent_run = :random_run OR run_id = :random_run;

-- bad input
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     params => '{"C": []}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     params => '{"C": [1, -1]}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     params => '{"C": [1, 2], "metric": "f2"}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     params => '{"C": [1, 2], "cv_folds": 1}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     params => '{"seed": [1, 2]}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     params => '{"C": [1, 2], "search": "bayes"}')$$);
-- more folds than the training split has rows of the smaller class
CREATE TABLE few_bad AS SELECT status, age, income FROM credit
 WHERE status = 'good' OR id IN (SELECT id FROM credit WHERE status = 'bad' ORDER BY id LIMIT 20);
SELECT cs_train('few_bad', 'logistic_regression', 'status', 'bad',
                params => '{"C": [1, 2], "cv_folds": 20}');

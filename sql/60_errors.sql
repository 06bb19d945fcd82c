-- Bad input to cs_train gets a specific ERROR: SQLSTATE, a message naming
-- the culprit, a hint where it helps.  Nothing is registered.
SELECT count(*) AS models_before FROM cs_models \gset
SELECT sqlstate_of($$SELECT cs_train('no_such_table', 'logistic_regression', 'status', 'bad')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'no_such_column', 'bad')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     features => ARRAY['age', 'no_such_feature'])$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     exclude => ARRAY['no_such_column'])$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     features => ARRAY['age', 'status'])$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     features => ARRAY['age', 'age'])$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'random_walk', 'status', 'bad')$$);
SELECT cs_train('credit', 'random_walk', 'status', 'bad');
SELECT sqlstate_of($$SELECT cs_train('credit', NULL, 'status', 'bad')$$);

-- hyperparameters: unknown names and values out of range
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', params => '{"max_iters": 10}');
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', params => '{"C": 0}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', params => '{"C": "big"}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', params => '{"penalty": "l1"}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', params => '{"max_iter": 0}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', params => '{"max_iter": 2.5}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', params => '{"tol": 2}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', params => '{"seed": -1}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', params => '[1]')$$);
-- a model that cannot converge in the iterations allowed
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad',
                                     exclude => ARRAY['id'], params => '{"max_iter": 1}')$$);

-- the data: a target that is not binary, an empty table, an all-NULL feature,
-- a column type that cannot be a feature, too few rows of a class
SELECT cs_train('credit', 'logistic_regression', 'home', 'rent', exclude => ARRAY['id']);
CREATE TABLE empty_loans (bad boolean, income integer);
SELECT cs_train('empty_loans', 'logistic_regression', 'bad');
CREATE TABLE null_feature AS SELECT status, age, NULL::integer AS bonus FROM credit;
SELECT cs_train('null_feature', 'logistic_regression', 'status', 'bad');
CREATE TABLE dated AS SELECT status, age, now() AS applied_at FROM credit;
SELECT cs_train('dated', 'logistic_regression', 'status', 'bad');
CREATE TABLE tiny AS SELECT status, age FROM credit
 WHERE status = 'good' OR id IN (SELECT id FROM credit WHERE status = 'bad' ORDER BY id LIMIT 5);
SELECT sqlstate_of($$SELECT cs_train('tiny', 'logistic_regression', 'status', 'bad')$$);
CREATE TABLE infinite AS SELECT status, age::float8 AS age FROM credit;
UPDATE infinite SET age = 'Infinity' WHERE ctid = (SELECT min(ctid) FROM infinite);
SELECT sqlstate_of($$SELECT cs_train('infinite', 'logistic_regression', 'status', 'bad')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'a@b')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', experiment => '')$$);

-- every failure above left its run and job as failed, and no model
SELECT count(*) - :models_before AS new_models FROM cs_models;
SELECT status, count(*) FROM cs_jobs GROUP BY status ORDER BY status;
SELECT error FROM cs_runs WHERE status = 'failed' ORDER BY run_id;

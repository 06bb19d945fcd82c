-- A dense neural network (model_type => 'dnn') on OpenBLAS: architecture from
-- parameters, Adam, early stopping on the validation split keeping the best
-- epoch, the learning curve on the run, determinism, and bad input.
SET client_min_messages = warning;
SELECT cs_train('credit', 'dnn', 'status', 'bad', name => 'net', exclude => ARRAY['id'],
                params => '{"hidden_layers": [64, 32], "activation": "relu", "weight_decay": 0.0001,
                            "patience": 10, "seed": 3}') AS net_run \gset
RESET client_min_messages;
SELECT params->'hidden_layers' AS layers, params->>'activation' AS activation,
       params->>'early_stopping' AS early_stopping, params->>'batch_size' AS batch_size,
       (metrics->>'epochs')::int BETWEEN 11 AND 200 AS stopped_early_or_ran_out,
       (metrics->>'best_epoch')::int <= (metrics->>'epochs')::int AS best_epoch_kept,
       jsonb_array_length(metrics->'train_loss') = (metrics->>'epochs')::int AS curve_train,
       jsonb_array_length(metrics->'valid_loss') = (metrics->>'epochs')::int AS curve_valid,
       (metrics->'valid_loss'->>((metrics->>'best_epoch')::int - 1))::float8
           = (SELECT min(v::float8) FROM jsonb_array_elements_text(metrics->'valid_loss') v)
           AS best_is_lowest_validation_loss,
       (metrics #>> '{test,auc}')::float8 > 0.75 AS learns
  FROM cs_runs WHERE run_id = :net_run;

-- quality parity with scikit-learn's MLPClassifier(hidden_layer_sizes=(64, 32),
-- activation='relu', alpha=1e-4, adam, batch_size=200, max_iter=200,
-- early_stopping=False) on the same split (test/reference/mlp_reference.py): the
-- seed also fixes the split, so the network's seed is the default 42 and the
-- reference is scikit-learn's mean test AUC over random_state 0..29
\getenv abs_srcdir PG_ABS_SRCDIR
\set mlpref :abs_srcdir '/test/reference/mlp_credit.json'
SET client_min_messages = warning;
SELECT cs_train('credit', 'dnn', 'status', 'bad', name => 'net_parity', exclude => ARRAY['id'],
                params => '{"hidden_layers": [64, 32], "activation": "relu", "weight_decay": 0.0001,
                            "learning_rate": 0.001, "batch_size": 200, "epochs": 200,
                            "early_stopping": false}') AS parity_run \gset
RESET client_min_messages;
SELECT abs((r.metrics #>> '{test,auc}')::float8 - (ref.doc #>> '{spread,test_auc_mean}')::float8) < 0.01
           AS test_auc_within_0_01_of_sklearn
  FROM cs_runs r, (SELECT pg_read_file(:'mlpref')::jsonb AS doc) ref
 WHERE r.run_id = :parity_run;

-- the same seed and thread count give the same weights, bit for bit
SET client_min_messages = warning;
SELECT cs_train('credit', 'dnn', 'status', 'bad', name => 'net_again', exclude => ARRAY['id'],
                params => '{"hidden_layers": [64, 32], "activation": "relu", "weight_decay": 0.0001,
                            "patience": 10, "seed": 3}') > 0 AS trained;
-- tanh with batch norm and dropout trains too
SELECT cs_train('credit', 'dnn', 'status', 'bad', name => 'net_bn', exclude => ARRAY['id'],
                params => '{"hidden_layers": [16], "activation": "tanh", "batch_norm": true,
                            "dropout": 0.1, "epochs": 30}') > 0 AS trained;
RESET client_min_messages;
SELECT (SELECT blob FROM cs_models WHERE name = 'net') = (SELECT blob FROM cs_models WHERE name = 'net_again')
       AS identical_weights;
SELECT params->>'batch_norm' AS batch_norm, params->>'dropout' AS dropout,
       (metrics #>> '{test,auc}')::float8 > 0.7 AS learns
  FROM cs_runs r JOIN cs_models m USING (run_id) WHERE m.name = 'net_bn';

-- scoring a row, its jsonb and the blob agree; the scoring backend stays single-threaded
SELECT count(*) AS rows,
       count(*) FILTER (WHERE abs(cs_predict('net', c.*) - cs_predict('net', to_jsonb(c))) < 1e-12) AS jsonb_equal,
       count(*) FILTER (WHERE cs_predict('net', c.*) = cs_predict(m.blob, c.*)) AS blob_equal
  FROM credit c, cs_models m WHERE m.name = 'net';
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'Threads:\s+(\d+)'))[1] AS threads,
       pg_read_file('/proc/self/maps') ~ 'openblas' AS openblas_loaded;

-- a damaged network blob is rejected
SELECT sqlstate_of(format('SELECT cs_predict(%L::bytea, ''{}''::jsonb)',
                   set_byte(blob, octet_length(blob) - 100, get_byte(blob, octet_length(blob) - 100) # 4)))
  FROM cs_models WHERE name = 'net';

-- bad input
SELECT sqlstate_of($$SELECT cs_train('credit', 'dnn', 'status', 'bad', params => '{"hidden_layers": []}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'dnn', 'status', 'bad', params => '{"hidden_layers": [64, 0]}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'dnn', 'status', 'bad',
                                     params => '{"hidden_layers": [8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8,8]}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'dnn', 'status', 'bad', params => '{"hidden_layers": "64"}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'dnn', 'status', 'bad', params => '{"learning_rate": 0}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'dnn', 'status', 'bad', params => '{"dropout": 1}')$$);
SELECT sqlstate_of($$SELECT cs_train('credit', 'dnn', 'status', 'bad', params => '{"activation": "sigmoid"}')$$);
-- (a diverging loss, NaN or infinite, stops training with CS_ERR_NUMERIC and
-- "the loss diverged at epoch N: lower learning_rate": test/unit/test_mlp.c)

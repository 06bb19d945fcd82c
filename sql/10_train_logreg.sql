-- Train a logistic regression end to end and check it against scikit-learn
-- (test/reference/logreg_reference.py, newton-cholesky on the same design).
SET client_min_messages = notice;
SELECT cs_train(relation => 'credit', model_type => 'logistic_regression',
                target => 'status', positive => 'bad', name => 'credit_risk',
                exclude => ARRAY['id']) AS run_id;
RESET client_min_messages;

-- the run: row counts of the seeded stratified 70/15/15 split, parameters
SELECT run_id, model_type, status, relation, n_rows, n_skipped, n_train, n_valid, n_test,
       seed, threads, params, features
  FROM cs_runs;
SELECT name, version, stage, model_type, run_id, octet_length(blob) > 100 AS has_blob
  FROM cs_models;
SELECT job_id, run_id, status, phase, progress, message, error IS NULL AS no_error
  FROM cs_jobs;

-- split sizes equal the reference's (stratified per class)
SELECT r.n_train = (ref.doc #>> '{datasets,credit,seeds,42,split,counts,train,total}')::int AS train_ok,
       r.n_valid = (ref.doc #>> '{datasets,credit,seeds,42,split,counts,valid,total}')::int AS valid_ok,
       r.n_test = (ref.doc #>> '{datasets,credit,seeds,42,split,counts,test,total}')::int AS test_ok
  FROM cs_runs r, reference ref;

-- coefficients equal scikit-learn's to 1e-4 relative, term by term
WITH ref AS (
    SELECT doc #> '{datasets,credit,seeds,42}' AS s FROM reference),
terms AS (
    SELECT '(intercept)' AS term, (s #>> '{fits,l2_C1,intercept}')::float8 AS expected FROM ref
    UNION ALL
    SELECT c.term, (s #> '{fits,l2_C1,coef}' ->> (c.ord - 1)::int)::float8
      FROM ref, jsonb_array_elements_text(s->'design_columns') WITH ORDINALITY AS c(term, ord))
SELECT count(*) AS terms,
       count(*) FILTER (WHERE abs(o.coefficient - t.expected)
                              > 1e-4 * greatest(abs(t.expected), 1e-3)) AS mismatched,
       max(abs(o.coefficient - t.expected)) < 1e-5 AS max_abs_diff_below_1e5
  FROM terms t JOIN cs_coefficients('credit_risk') o USING (term);
SELECT term, round(coefficient::numeric, 4) AS coefficient
  FROM cs_coefficients('credit_risk') LIMIT 8;

-- validation and test metrics stored on the run match the reference
SELECT part,
       round((r.metrics #>> ARRAY[part, 'auc'])::numeric, 4) AS auc,
       abs((r.metrics #>> ARRAY[part, 'auc'])::float8
           - (ref.doc #>> ARRAY['datasets','credit','seeds','42','fits','l2_C1', refpart, 'auc'])::float8)
           < 0.002 AS auc_within_0_002,
       abs((r.metrics #>> ARRAY[part, 'log_loss'])::float8
           - (ref.doc #>> ARRAY['datasets','credit','seeds','42','fits','l2_C1', refpart, 'log_loss'])::float8)
           < 1e-6 AS log_loss_matches,
       (r.metrics #>> ARRAY[part, 'accuracy'])::float8
           = (ref.doc #>> ARRAY['datasets','credit','seeds','42','fits','l2_C1', refpart, 'accuracy'])::float8
           AS accuracy_matches
  FROM cs_runs r, reference ref,
       (VALUES ('validation', 'valid'), ('test', 'test')) AS p(part, refpart)
 ORDER BY part;

-- per-row probabilities of the first 20 applications equal scikit-learn's
SELECT count(*) AS rows_compared,
       max(abs(cs_predict('credit_risk', c.*)
               - (ref.doc #> '{datasets,credit,seeds,42,fits,l2_C1,first_rows_prob}' ->> (c.id - 1))::float8))
           < 1e-7 AS all_within_1e7
  FROM credit c, reference ref WHERE c.id <= 20;
SELECT id, status, round(cs_predict('credit_risk', c.*)::numeric, 6) AS p_bad
  FROM credit c WHERE id <= 5 ORDER BY id;

-- a stronger penalty (C = 0.1) is a second version of the same name
SET client_min_messages = warning;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'credit_risk',
                exclude => ARRAY['id'], params => '{"C": 0.1}') AS run_id;
RESET client_min_messages;
WITH ref AS (
    SELECT doc #> '{datasets,credit,seeds,42}' AS s FROM reference),
terms AS (
    SELECT '(intercept)' AS term, (s #>> '{fits,l2_C0.1,intercept}')::float8 AS expected FROM ref
    UNION ALL
    SELECT c.term, (s #> '{fits,l2_C0.1,coef}' ->> (c.ord - 1)::int)::float8
      FROM ref, jsonb_array_elements_text(s->'design_columns') WITH ORDINALITY AS c(term, ord))
SELECT count(*) AS terms,
       count(*) FILTER (WHERE abs(o.coefficient - t.expected)
                              > 1e-4 * greatest(abs(t.expected), 1e-3)) AS mismatched
  FROM terms t JOIN cs_coefficients('credit_risk@2') o USING (term);
SELECT name, version, (SELECT params->>'C' FROM cs_runs r WHERE r.run_id = m.run_id) AS c
  FROM cs_models m ORDER BY version;

-- without a penalty the credit data is separable through a missing-value
-- indicator (one training row): a clear error, and no model is registered
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'unpenalised',
                exclude => ARRAY['id'], params => '{"penalty": "none"}');
SELECT count(*) AS unpenalised_models FROM cs_models WHERE name = 'unpenalised';
SELECT status, error IS NOT NULL AS has_error FROM cs_runs WHERE model_type = 'logistic_regression' AND status <> 'succeeded';

-- on the numeric columns alone the unpenalised fit exists and matches
CREATE VIEW credit_numeric AS
    SELECT status, seniority, time, age, expenses, income, assets, debt, amount, price FROM credit;
SET client_min_messages = warning;
SELECT cs_train('credit_numeric', 'logistic_regression', 'status', 'bad',
                params => '{"penalty": "none"}') > 0 AS trained;
RESET client_min_messages;
WITH ref AS (
    SELECT doc #> '{datasets,credit_numeric,seeds,42}' AS s FROM reference),
terms AS (
    SELECT '(intercept)' AS term, (s #>> '{fits,none,intercept}')::float8 AS expected FROM ref
    UNION ALL
    SELECT c.term, (s #> '{fits,none,coef}' ->> (c.ord - 1)::int)::float8
      FROM ref, jsonb_array_elements_text(s->'design_columns') WITH ORDINALITY AS c(term, ord))
SELECT count(*) AS terms,
       count(*) FILTER (WHERE abs(o.coefficient - t.expected)
                              > 1e-4 * greatest(abs(t.expected), 1e-3)) AS mismatched
  FROM terms t JOIN cs_coefficients('credit_numeric') o USING (term);
SELECT abs((r.metrics #>> '{test,auc}')::float8
           - (ref.doc #>> '{datasets,credit_numeric,seeds,42,fits,none,test,auc}')::float8) < 0.002
           AS test_auc_within_0_002
  FROM cs_runs r, reference ref
 WHERE r.relation = 'public.credit_numeric';

-- the same seed gives the same split and the same model, bit for bit
SET client_min_messages = warning;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'again',
                exclude => ARRAY['id']) > 0 AS trained;
RESET client_min_messages;
SELECT (SELECT blob FROM cs_models WHERE name = 'again')
     = (SELECT blob FROM cs_models WHERE name = 'credit_risk' AND version = 1) AS identical_blob;

-- a different seed gives a different split, with the reference's figures
SET client_min_messages = warning;
SELECT cs_train('credit', 'logistic_regression', 'status', 'bad', name => 'seed7',
                exclude => ARRAY['id'], params => '{"seed": 7}') > 0 AS trained;
RESET client_min_messages;
SELECT abs((r.metrics #>> '{test,auc}')::float8
           - (ref.doc #>> '{datasets,credit,seeds,7,fits,l2_C1,test,auc}')::float8) < 0.002
           AS seed7_test_auc_matches,
       r.seed
  FROM cs_runs r JOIN cs_models m USING (run_id), reference ref
 WHERE m.name = 'seed7';

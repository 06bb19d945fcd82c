-- scripts/demo.sql: what scripts/demo.sh runs on its throwaway cluster.
-- Paths are relative to the directory psql runs in (the demo copies test/data there).

CREATE EXTENSION credit_scoring;

-- The credit data set: 4,454 loan applications, "status" is good or bad.
CREATE TABLE credit (
    status    text,
    seniority int,
    home      text,
    time      int,
    age       int,
    marital   text,
    records   text,
    job       text,
    expenses  int,
    income    int,
    assets    int,
    debt      int,
    amount    int,
    price     int
);
\copy credit FROM 'test/data/credit_data.csv' WITH (FORMAT csv, HEADER true)
SELECT count(*) AS loans, count(*) FILTER (WHERE status = 'bad') AS bad FROM credit;

-- Train a logistic regression that predicts "bad"; it returns the run id.
SELECT cs_train(relation => 'credit', model_type => 'logistic_regression',
                target => 'status', positive => 'bad', name => 'credit_risk');

-- The run: the seeded, stratified 70/15/15 split and its metrics on each part.
SELECT run_id, model_type, status, n_train, n_valid, n_test, params FROM cs_runs;
SELECT part, (metrics -> part ->> 'n')::int AS rows,
       round((metrics -> part ->> 'auc')::numeric, 4) AS auc,
       round((metrics -> part ->> 'accuracy')::numeric, 4) AS accuracy,
       round((metrics -> part ->> 'log_loss')::numeric, 4) AS log_loss,
       round((metrics -> part ->> 'brier')::numeric, 4) AS brier
  FROM cs_runs, unnest(ARRAY['train', 'validation', 'test']) AS part;
SELECT name, version, stage, model_type, octet_length(blob) AS blob_bytes FROM cs_models;

-- What drives the score: the largest weights on the standardised design
-- (x - mean) / sd, with a "name:missing" indicator where training saw NULLs.
SELECT term, round(coefficient::numeric, 3) AS weight
  FROM cs_coefficients('credit_risk')
 ORDER BY abs(coefficient) DESC
 LIMIT 8;

-- Score rows where they lie: the probability of "bad".
SELECT status, income, age, round(cs_predict('credit_risk', c.*)::numeric, 4) AS p_bad
FROM credit c
LIMIT 10;

-- A new applicant, as jsonb (an absent key is a missing value).
SELECT round(cs_predict('credit_risk', '{"seniority": 1, "home": "rent", "time": 60, "age": 23,
        "marital": "single", "records": "yes", "job": "partime", "expenses": 60,
        "income": 90, "amount": 1200, "price": 1300}'::jsonb)::numeric, 4) AS p_bad_new_applicant;

-- Why: the SHAP values of one applicant (log-odds; they add up to the score's log-odds).
SELECT feature, value, round(shap::numeric, 3) AS shap
  FROM cs_shap('credit_risk', (SELECT c FROM credit c WHERE status = 'bad' LIMIT 1))
 ORDER BY abs(shap) DESC
 LIMIT 6;

-- The principal reasons to decline the riskiest applicants, measured against
-- the applicants at the approval cutoff (0.5), as an adverse-action notice lists them.
SELECT a.applicant, round(r.score::numeric, 3) AS p_bad, r.rank, r.feature, r.value,
       round(r.contribution::numeric, 3) AS contribution
  FROM (SELECT row_number() OVER (ORDER BY cs_predict('credit_risk', c.*) DESC) AS applicant, c
          FROM credit c ORDER BY cs_predict('credit_risk', c.*) DESC LIMIT 2) a,
       LATERAL cs_reasons('credit_risk', a.c, n => 4, cutoff => 0.5) r
 ORDER BY a.applicant, r.rank;

-- LIME's local surrogate for the same kind of question (seeded: the same call, the same answer).
SELECT feature, condition, round(weight::numeric, 3) AS weight, round(score::numeric, 3) AS r2
  FROM cs_lime('credit_risk', (SELECT c FROM credit c WHERE status = 'bad' LIMIT 1), samples => 5000)
 LIMIT 5;

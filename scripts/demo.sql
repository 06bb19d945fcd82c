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

-- The run, with its metrics on the held-out split, and the registered model.
SELECT run_id, model_type, status, metrics FROM cs_runs;
SELECT name, version, stage, model_type FROM cs_models;

-- Score rows where they lie: the probability of "bad".
SELECT status, income, age, round(cs_predict('credit_risk', c.*)::numeric, 4) AS p_bad
FROM credit c
LIMIT 10;

-- The credit data every suite uses: 4,454 real applications with NULLs and
-- text categoricals (test/data/credit_data.csv); id keeps the file's order.
CREATE EXTENSION credit_scoring;
\getenv abs_srcdir PG_ABS_SRCDIR
CREATE TABLE credit (
    id serial PRIMARY KEY,
    status text, seniority integer, home text, time integer, age integer,
    marital text, records text, job text, expenses integer, income integer,
    assets integer, debt integer, amount integer, price integer);
\set csv :abs_srcdir '/test/data/credit_data.csv'
COPY credit (status, seniority, home, time, age, marital, records, job, expenses,
             income, assets, debt, amount, price)
    FROM :'csv' WITH (FORMAT csv, HEADER true);
SELECT count(*) AS applications, count(*) FILTER (WHERE status = 'bad') AS bad,
       count(*) - count(income) AS income_missing
  FROM credit;
-- the reference figures computed by test/reference/logreg_reference.py
CREATE TABLE reference (doc jsonb);
\set ref :abs_srcdir '/test/reference/logreg_credit.json'
INSERT INTO reference SELECT pg_read_file(:'ref')::jsonb;
SELECT doc->'data'->>'n_rows' AS reference_rows FROM reference;

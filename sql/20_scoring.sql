-- Scoring: a row, a jsonb object, a blob; versions; the parallel plan; and
-- the promise that a scoring backend never loads OpenBLAS.
CREATE FUNCTION sqlstate_of(query text) RETURNS text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE query;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    RETURN SQLSTATE || ': ' || SQLERRM;
END $$;

-- a row of the table, the same row as jsonb, and the blob give one score
SELECT count(*) AS rows,
       count(*) FILTER (WHERE cs_predict('credit_risk@1', c.*) = cs_predict('credit_risk@1', to_jsonb(c))) AS jsonb_equal,
       count(*) FILTER (WHERE cs_predict('credit_risk@1', c.*) = cs_predict(m.blob, c.*)) AS blob_equal,
       count(*) FILTER (WHERE cs_predict(m.blob, c.*) = cs_predict(m.blob, to_jsonb(c))) AS blob_jsonb_equal
  FROM credit c, cs_models m
 WHERE m.name = 'credit_risk' AND m.version = 1;

-- every score is a probability; rows with NULLs are scored too
SELECT count(*) FILTER (WHERE p > 0 AND p < 1) AS probabilities,
       count(*) FILTER (WHERE income IS NULL AND p IS NOT NULL) AS scored_with_null_income
  FROM (SELECT c.income, cs_predict('credit_risk@1', c.*) AS p FROM credit c) s;

-- a name resolves to its production version, else its newest
SELECT cs_predict('credit_risk', c.*) = cs_predict('credit_risk@2', c.*) AS newest_by_default
  FROM credit c WHERE id = 1;
UPDATE cs_models SET stage = 'production' WHERE name = 'credit_risk' AND version = 1;
SELECT cs_predict('credit_risk', c.*) = cs_predict('credit_risk@1', c.*) AS production_wins
  FROM credit c WHERE id = 1;
UPDATE cs_models SET stage = 'none' WHERE name = 'credit_risk';

-- jsonb: an absent key is a missing value, like NULL; extra keys are ignored
SELECT cs_predict('credit_risk@1', '{"seniority": 9, "home": "rent", "time": 60, "age": 30,
        "marital": "married", "records": "no", "job": "freelance", "expenses": 73,
        "assets": 0, "debt": 0, "amount": 800, "price": 846, "nickname": "x"}'::jsonb)
     = cs_predict('credit_risk@1', '{"seniority": 9, "home": "rent", "time": 60, "age": 30,
        "marital": "married", "records": "no", "job": "freelance", "expenses": 73,
        "income": null, "assets": 0, "debt": 0, "amount": 800, "price": 846}'::jsonb)
       AS absent_equals_null;
-- numbers given as JSON strings are read as numbers
SELECT round(cs_predict('credit_risk@1', '{"seniority": "9", "age": 30}'::jsonb)::numeric, 6)
     = round(cs_predict('credit_risk@1', '{"seniority": 9, "age": 30}'::jsonb)::numeric, 6) AS string_numbers;
SELECT round(cs_predict('credit_risk@1', '{"seniority": 9, "home": "rent", "time": 60, "age": 30,
        "marital": "married", "records": "no", "job": "freelance", "expenses": 73, "income": 129,
        "assets": 0, "debt": 0, "amount": 800, "price": 846}'::jsonb)::numeric, 6) AS first_applicant;

-- a row type with extra columns maps by name; one lacking a feature is an error
CREATE TABLE applicants AS SELECT id, 'web' AS channel, seniority, home, time, age, marital,
       records, job, expenses, income, assets, debt, amount, price FROM credit WHERE id <= 3;
SELECT a.id, round(cs_predict('credit_risk@1', a.*)::numeric, 6) AS p_bad FROM applicants a ORDER BY id;
ALTER TABLE applicants DROP COLUMN income;
SELECT cs_predict('credit_risk@1', a.*) FROM applicants a;
SELECT sqlstate_of($$SELECT cs_predict('credit_risk@1', a.*) FROM applicants a$$);
ALTER TABLE applicants ADD COLUMN income text;
SELECT sqlstate_of($$SELECT cs_predict('credit_risk@1', a.*) FROM applicants a$$);
SELECT sqlstate_of($$SELECT cs_predict('credit_risk@1', '{"age": "old"}'::jsonb)$$);
SELECT sqlstate_of($$SELECT cs_predict('credit_risk@1', '[1, 2]'::jsonb)$$);
SELECT sqlstate_of($$SELECT cs_predict('credit_risk@1', '{"age": [30]}'::jsonb)$$);

-- unknown models and versions
SELECT cs_predict('no_such_model', c.*) FROM credit c LIMIT 1;
SELECT cs_predict('credit_risk@7', c.*) FROM credit c LIMIT 1;
SELECT sqlstate_of($$SELECT cs_predict('credit_risk@seven', '{}'::jsonb)$$);
SELECT sqlstate_of($$SELECT cs_predict('credit_risk@0', '{}'::jsonb)$$);
SELECT cs_predict(NULL::text, '{}'::jsonb) IS NULL AS null_in_null_out;

-- a forced parallel plan gives the same scores as a serial one
CREATE TABLE serial_scores AS
    SELECT id, cs_predict('credit_risk@1', c.*) AS p FROM credit c;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
EXPLAIN (COSTS OFF)
    SELECT sum(cs_predict('credit_risk@1', c.*)) FROM credit c;
CREATE TABLE parallel_sums AS
    SELECT sum(cs_predict('credit_risk@1', c.*)) AS s, count(*) AS n FROM credit c;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
SELECT abs(p.s - (SELECT sum(p) FROM serial_scores)) < 1e-9 AS same_sum, p.n
  FROM parallel_sums p;
SELECT count(*) AS differing_rows
  FROM serial_scores s JOIN credit c USING (id)
 WHERE s.p <> cs_predict('credit_risk@1', c.*);

-- this backend scored thousands of rows: it has one thread and never mapped OpenBLAS
SELECT (regexp_match(pg_read_file('/proc/self/status'), 'Threads:\s+(\d+)'))[1] AS threads,
       pg_read_file('/proc/self/maps') ~ 'openblas' AS openblas_loaded;

-- what the model is made of
SELECT jsonb_pretty(cs_model_info('credit_risk@1') - 'features') AS info;
SELECT f->>'name' AS feature, f->>'kind' AS kind, f->>'has_missing' AS has_missing,
       round((f->>'mean')::numeric, 3) AS mean, f->'levels' AS levels
  FROM jsonb_array_elements(cs_model_info('credit_risk@1')->'features') f;

-- cs_predict(model, t.*) on a table is planned as cs_predict_columns over
-- t's columns, without building the composite t.*; the scores are the same
EXPLAIN (VERBOSE, COSTS OFF) SELECT cs_predict('credit_risk@1', c.*) FROM credit c;
EXPLAIN (VERBOSE, COSTS OFF)
SELECT cs_predict(m.blob, c.*) FROM credit c, cs_models m WHERE m.name = 'credit_risk' AND m.version = 1;
SELECT count(*) AS differing_rows
  FROM credit c, cs_models m
 WHERE m.name = 'credit_risk' AND m.version = 1
   AND (cs_predict('credit_risk@1', c.*) <> cs_predict('credit_risk@1', to_jsonb(c))
        OR cs_predict(m.blob, c.*) <> cs_predict('credit_risk@1', to_jsonb(c)));
-- a null-extended row still scores NULL, as the strict cs_predict does
SELECT count(*) AS rows, count(cs_predict('credit_risk@1', c.*)) AS scored
  FROM generate_series(1, 3) g LEFT JOIN credit c ON c.id = -g;
-- a partitioned table, a partition with dropped columns and its columns in another order
CREATE TABLE credit_parts (LIKE credit) PARTITION BY RANGE (id);
CREATE TABLE credit_part1 PARTITION OF credit_parts FOR VALUES FROM (MINVALUE) TO (2000);
CREATE TABLE credit_part2 (LIKE credit);
ALTER TABLE credit_part2 DROP COLUMN price, DROP COLUMN amount;
ALTER TABLE credit_part2 ADD COLUMN price int, ADD COLUMN amount int;
ALTER TABLE credit_parts ATTACH PARTITION credit_part2 FOR VALUES FROM (2000) TO (MAXVALUE);
INSERT INTO credit_parts SELECT * FROM credit;
SELECT count(*) AS differing_rows
  FROM credit_parts p JOIN credit c USING (id)
 WHERE cs_predict('credit_risk@1', p.*) <> cs_predict('credit_risk@1', c.*);
-- a view's row: the planner pulls the view up into ROW(...); rewritten too,
-- computed columns included; on the nullable side of an outer join it is left
-- as it is (NULL rows score NULL)
CREATE VIEW credit_view AS
SELECT id, status, seniority, home, time, age, marital, records, job, expenses,
       income * 1 AS income, assets, debt, amount, price FROM credit;
EXPLAIN (VERBOSE, COSTS OFF) SELECT cs_predict('credit_risk@1', v.*) FROM credit_view v;
SELECT count(*) AS differing_rows
  FROM credit c JOIN credit_view v USING (id)
 WHERE cs_predict('credit_risk@1', v.*) <> cs_predict('credit_risk@1', c.*);
SELECT count(*) AS rows, count(cs_predict('credit_risk@1', v.*)) AS scored
  FROM generate_series(1, 3) g LEFT JOIN credit_view v ON v.id = -g;
-- a row that lacks a feature is still an error naming it
CREATE TABLE credit_short AS SELECT id, status, seniority FROM credit;
SELECT sqlstate_of($$SELECT cs_predict('credit_risk@1', s.*) FROM credit_short s$$);
DROP VIEW credit_view;
DROP TABLE credit_parts, credit_short;

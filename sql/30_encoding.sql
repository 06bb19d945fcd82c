-- Encoding: numeric, boolean and categorical (text, varchar, enum) columns,
-- NULLs, a category unseen in training, and targets of several types.
CREATE TYPE housing AS ENUM ('rent', 'owner', 'parents', 'other');
CREATE TABLE loans (
    id integer, defaulted boolean, income numeric(12, 2), age smallint,
    debt_ratio real, housing housing, region varchar(20), has_phone boolean, score_band char(1));
INSERT INTO loans
SELECT i,
       (i % 7 = 0) OR (i % 11 = 0 AND i % 2 = 0),
       CASE WHEN i % 13 = 0 THEN NULL ELSE 1000 + (i * 37) % 900 END,
       20 + i % 45,
       ((i * 17) % 100) / 100.0,
       (ARRAY['rent', 'owner', 'parents', 'other'])[1 + i % 4]::housing,
       CASE WHEN i % 17 = 0 THEN NULL ELSE (ARRAY['north', 'south', 'east'])[1 + i % 3] END,
       i % 3 = 0,
       (ARRAY['A', 'B', 'C'])[1 + (i * 7) % 3]
  FROM generate_series(1, 600) i;

-- a boolean target's positive class defaults to true
SET client_min_messages = warning;
SELECT cs_train('loans', 'logistic_regression', 'defaulted', name => 'loans_lr',
                exclude => ARRAY['id']) > 0 AS trained;
RESET client_min_messages;
SELECT positive, target, features, n_rows, n_train + n_valid + n_test AS split_total
  FROM cs_runs WHERE run_id = (SELECT run_id FROM cs_models WHERE name = 'loans_lr');
SELECT f->>'name' AS feature, f->>'kind' AS kind, f->>'has_missing' AS has_missing, f->'levels' AS levels
  FROM jsonb_array_elements(cs_model_info('loans_lr')->'features') f;
SELECT term FROM cs_coefficients('loans_lr');

-- a category unseen in training scores as the most frequent (reference) level
SELECT cs_predict('loans_lr', '{"income": 1500, "age": 30, "debt_ratio": 0.2, "housing": "rent",
                  "region": "atlantis", "has_phone": true, "score_band": "A"}'::jsonb)
     = cs_predict('loans_lr', ('{"income": 1500, "age": 30, "debt_ratio": 0.2, "housing": "rent",
                  "region": "' || (cs_model_info('loans_lr') #>> '{features,4,levels,0}') || '",
                  "has_phone": true, "score_band": "A"}')::jsonb) AS unseen_is_reference;
-- a missing category is not the reference: it has its own indicator
SELECT cs_predict('loans_lr', '{"region": null}'::jsonb)
    <> cs_predict('loans_lr', ('{"region": "' || (cs_model_info('loans_lr') #>> '{features,4,levels,0}') || '"}')::jsonb)
       AS missing_has_own_weight;
-- booleans in jsonb and enum values in rows; a real column is read as the
-- float4 it holds, its jsonb text as the decimal it prints, hence the tolerance
SELECT count(*) AS rows,
       count(*) FILTER (WHERE abs(cs_predict('loans_lr', l.*) - cs_predict('loans_lr', to_jsonb(l))) < 1e-6)
           AS row_equals_jsonb,
       count(*) FILTER (WHERE cs_predict('loans_lr', l.*) <> cs_predict('loans_lr', l2.*)) AS differ_without_real
  FROM loans l, LATERAL (SELECT l.income, l.age, l.debt_ratio, l.housing, l.region, l.has_phone,
                                l.score_band) l2;

-- an integer target's positive class defaults to 1; a text target needs one
CREATE TABLE loans_int AS SELECT defaulted::int AS bad, income, age FROM loans;
SET client_min_messages = warning;
SELECT cs_train('loans_int', 'logistic_regression', 'bad', name => 'loans_int') > 0 AS trained;
RESET client_min_messages;
SELECT positive FROM cs_runs r JOIN cs_models m USING (run_id) WHERE m.name = 'loans_int';
CREATE TABLE loans_text AS SELECT CASE WHEN defaulted THEN 'bad' ELSE 'good' END AS status, income, age FROM loans;
SELECT cs_train('loans_text', 'logistic_regression', 'status');
SELECT cs_train('loans_text', 'logistic_regression', 'status', positive => 'Bad');

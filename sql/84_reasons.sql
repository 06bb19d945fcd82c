-- KernelSHAP for the network, and reason codes (cs_reasons, the trigger's
-- reasons column) for every model family.  The models are the earlier
-- suites': credit_risk (logistic regression), xgb_default, rf_default, net
-- (dnn), and the imported python_xgb, which keeps no reference sample.

-- the network's SHAP values: KernelSHAP against the reference sample, in
-- log-odds, summing to the margin; the same call gives the same values
CREATE TABLE net_shap AS
SELECT c.id, cs_shap_values('net', c.*) AS v, cs_predict('net', c.*) AS p
  FROM credit c WHERE id % 600 = 1;
SELECT count(*) AS rows,
       max(abs((SELECT sum(x) FROM unnest(v) x) - ln(p / (1 - p)))) < 1e-9 AS sums_to_margin,
       bool_and(array_length(v, 1) = 14) AS length,
       count(DISTINCT round(v[14]::numeric, 12)) AS base_values
  FROM net_shap;
SELECT bool_and(cs_shap_values('net', c.*) = s.v) AS reproducible
  FROM net_shap s JOIN credit c USING (id) WHERE id < 1000;
-- local accuracy on every row of credit_data (100 coalitions a row, to keep it quick:
-- the values sum to the margin whatever the sample count)
SELECT count(*) AS rows,
       max(abs((SELECT sum(x) FROM unnest(cs_shap_values('net', c.*, samples => 100)) x)
               - ln(p / (1 - p)))) < 1e-9 AS every_row_sums_to_margin
  FROM (SELECT c, cs_predict('net', c.*) AS p FROM credit c) s, LATERAL (SELECT (s.c).*) c;
-- fewer samples: other values, still summing to the margin
SELECT cs_shap_values('net', c.*, samples => 100) <> cs_shap_values('net', c.*) AS sampled,
       abs((SELECT sum(v) FROM unnest(cs_shap_values('net', c.*, samples => 100)) v)
           - ln(cs_predict('net', c.*) / (1 - cs_predict('net', c.*)))) < 1e-9 AS sums
  FROM credit c WHERE id = 7;
SELECT feature, value, round(shap::numeric, 2) AS shap
  FROM cs_shap('net', (SELECT c FROM credit c WHERE id = 3)) ORDER BY abs(shap) DESC LIMIT 3;
-- a long KernelSHAP call (all 8,190 coalitions x 100 background rows) can be cancelled
SET statement_timeout = '100ms';
SELECT cs_shap_values('net', c.*, samples => 100000) FROM credit c WHERE id = 1;
RESET statement_timeout;
SELECT sqlstate_of($$SELECT cs_shap_values('net', c.*, samples => 100001) FROM credit c LIMIT 1$$);
SELECT sqlstate_of($$SELECT cs_shap_values('net', c.*, samples => -1) FROM credit c LIMIT 1$$);
SELECT sqlstate_of($$SELECT cs_shap_values('net', '{"age": 30}'::jsonb)$$);

-- reason codes: at most n features, positive contributions, largest first,
-- against the training rows scored nearest the cutoff, weighted to score it
CREATE TABLE declined AS
SELECT c.id FROM credit c WHERE cs_predict('credit_risk@1', c.*) >= 0.5 ORDER BY c.id LIMIT 40;
SELECT m AS model,
       count(DISTINCT d.id) AS applicants,
       max(r.rank) <= 4 AS at_most_four,
       bool_and(r.contribution > 0) AS positive,
       bool_and(abs(r.reference_score - 0.5) < 1e-9) AS reference_at_cutoff
  FROM unnest(ARRAY['credit_risk@1', 'xgb_default', 'rf_default', 'net']) m,
       declined d JOIN credit c USING (id),
       LATERAL cs_reasons(m, c.*) r
 GROUP BY m ORDER BY m;
-- ranks are dense and contributions descending
SELECT bool_and(r.rank = r.rn AND r.contribution <= coalesce(r.prev, 'Infinity')) AS ordered
  FROM (SELECT d.id, r.rank, r.contribution,
               row_number() OVER w AS rn, lag(r.contribution) OVER w AS prev
          FROM declined d JOIN credit c USING (id), LATERAL cs_reasons('xgb_default', c.*, 4) r
        WINDOW w AS (PARTITION BY d.id ORDER BY r.rank)) r;
-- one applicant: a previous default record is the first reason
SELECT rank, feature, value, round(contribution::numeric, 3) AS contribution, code, reason,
       round(score::numeric, 4) AS score
  FROM cs_reasons('credit_risk@1', (SELECT c FROM credit c WHERE id = 15), n => 3);
-- all contributions sum to margin - logit(cutoff) (0 at cutoff 0.5), so the
-- positive ones alone reach at least the applicant's margin
SELECT sum(contribution) >= ln(max(score) / (1 - max(score))) AS positives_cover_distance
  FROM cs_reasons('credit_risk@1', (SELECT c FROM credit c WHERE id = 15), n => 100);
-- against the cutoff, not the mean: a stricter cutoff moves the reference
SELECT round(reference_score::numeric, 9) AS reference_score
  FROM cs_reasons('credit_risk@1', (SELECT c FROM credit c WHERE id = 15), n => 1, cutoff => 0.2);
-- the same from jsonb
SELECT array_agg(feature ORDER BY rank) =
       (SELECT array_agg(feature ORDER BY rank)
          FROM cs_reasons('xgb_default', (SELECT to_jsonb(c) FROM credit c WHERE id = 15))) AS same
  FROM cs_reasons('xgb_default', (SELECT c FROM credit c WHERE id = 15));

-- reason texts from a table: feature -> reason, code; a feature it lacks keeps its name
CREATE TABLE reason_texts (feature text PRIMARY KEY, code text, reason text);
INSERT INTO reason_texts VALUES
  ('records', 'R01', 'Previous credit records show a default'),
  ('job', 'R02', 'Type of employment'),
  ('income', 'R03', 'Income insufficient for the amount requested'),
  ('amount', 'R04', 'Amount requested too high'),
  ('seniority', 'R05', 'Length of employment');
SELECT rank, feature, code, reason
  FROM cs_reasons('credit_risk@1', (SELECT c FROM credit c WHERE id = 15), 3, 0.5, 'reason_texts');
SELECT count(*) FILTER (WHERE r.code IS NULL) = count(*) FILTER (WHERE r.reason = r.feature)
       AS unmapped_keep_their_name
  FROM declined d JOIN credit c USING (id),
       LATERAL cs_reasons('credit_risk@1', c.*, 4, 0.5, 'reason_texts') r;

-- bad input
SELECT sqlstate_of($$SELECT * FROM cs_reasons('credit_risk@1', (SELECT c FROM credit c WHERE id = 15), n => 0)$$);
SELECT sqlstate_of($$SELECT * FROM cs_reasons('credit_risk@1', (SELECT c FROM credit c WHERE id = 15), cutoff => 1)$$);
SELECT sqlstate_of($$SELECT * FROM cs_reasons('python_xgb', (SELECT c FROM credit c WHERE id = 15))$$);
SELECT sqlstate_of($$SELECT * FROM cs_reasons('no_such_model', (SELECT c FROM credit c WHERE id = 15))$$);
SELECT sqlstate_of($$SELECT * FROM cs_reasons('credit_risk@1', '{"age": 30}'::jsonb)$$);
CREATE TABLE texts_without_reason (feature text, words text);
SELECT sqlstate_of($$SELECT * FROM cs_reasons('credit_risk@1', (SELECT c FROM credit c WHERE id = 15), 4, 0.5, 'texts_without_reason')$$);
INSERT INTO texts_without_reason VALUES ('records', 'x');
CREATE TABLE texts_twice (feature text, reason text);
INSERT INTO texts_twice VALUES ('records', 'a'), ('records', 'b');
SELECT sqlstate_of($$SELECT * FROM cs_reasons('credit_risk@1', (SELECT c FROM credit c WHERE id = 15), 4, 0.5, 'texts_twice')$$);
SELECT count(*) AS no_rows FROM cs_reasons('credit_risk@1', NULL::credit);
SELECT count(*) AS no_rows FROM cs_reasons('credit_risk@1', (SELECT c FROM credit c WHERE id = 15), NULL);

-- the trigger fills the reasons of declined applicants, NULL for approved ones
CREATE TABLE reason_applications (LIKE credit);
ALTER TABLE reason_applications ADD COLUMN score float8, ADD COLUMN reasons text[];
CREATE TRIGGER score BEFORE INSERT ON reason_applications
    FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('xgb_default', 'score', 'reasons', '3', '0.5', 'reason_texts');
INSERT INTO reason_applications SELECT c.*, NULL, NULL FROM credit c WHERE id <= 300;
SELECT count(*) AS rows,
       bool_and((reasons IS NULL) = (score < 0.5)) AS reasons_iff_declined,
       bool_and(cardinality(reasons) BETWEEN 1 AND 3) AS one_to_three,
       bool_and(reasons = (SELECT array_agg(r.reason ORDER BY r.rank)
                             FROM cs_reasons('xgb_default', (SELECT c FROM credit c WHERE c.id = a.id),
                                             3, 0.5, 'reason_texts') r)
                OR reasons IS NULL) AS same_as_cs_reasons
  FROM reason_applications a;
CREATE TABLE bad_reason_applications (LIKE credit);
ALTER TABLE bad_reason_applications ADD COLUMN score float8, ADD COLUMN reasons text;
CREATE TRIGGER score BEFORE INSERT ON bad_reason_applications
    FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('xgb_default', 'score', 'reasons');
SELECT sqlstate_of($$INSERT INTO bad_reason_applications SELECT c.*, NULL, NULL FROM credit c WHERE id = 1$$);
DROP TRIGGER score ON bad_reason_applications;
ALTER TABLE bad_reason_applications ALTER COLUMN reasons TYPE text[] USING NULL;
CREATE TRIGGER score BEFORE INSERT ON bad_reason_applications
    FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('xgb_default', 'score', 'reasons', 'four');
SELECT sqlstate_of($$INSERT INTO bad_reason_applications SELECT c.*, NULL, NULL FROM credit c WHERE id = 1$$);
DROP TRIGGER score ON bad_reason_applications;
CREATE TRIGGER score BEFORE INSERT ON bad_reason_applications
    FOR EACH ROW EXECUTE FUNCTION cs_score_trigger('xgb_default', 'score', 'reasons', '4', '1.5');
SELECT sqlstate_of($$INSERT INTO bad_reason_applications SELECT c.*, NULL, NULL FROM credit c WHERE id = 1$$);
DROP TABLE net_shap, bad_reason_applications, reason_applications, texts_twice, texts_without_reason, reason_texts, declined;

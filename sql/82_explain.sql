-- Explanations: SHAP values in the model's margin units, summing exactly to
-- each row's margin (local accuracy), for every row of the credit data.
-- Logistic regression: exact linear SHAP against the training means.
SELECT feature, value, round(shap::numeric, 6) AS shap
  FROM cs_shap('credit_risk@1', (SELECT c FROM credit c WHERE id = 3));
-- local accuracy on every row: the values sum to the log-odds of cs_predict
SELECT count(*) AS rows,
       max(abs((SELECT sum(v) FROM unnest(cs_shap_values('credit_risk@1', c.*)) v)
               - ln(p / (1 - p)))) < 1e-9 AS sums_to_margin
  FROM (SELECT c, cs_predict('credit_risk@1', c.*) AS p FROM credit c) s, LATERAL (SELECT (s.c).*) c;
-- the layout of XGBoost's pred_contribs: one value per feature, the base value last
SELECT array_length(cs_shap_values('credit_risk@1', c.*), 1) AS length,
       round((cs_shap_values('credit_risk@1', c.*))[14]::numeric, 6) AS base_value
  FROM credit c WHERE id = 1;
-- the base value is the margin at the training means: intercept plus each
-- weight times its design column's training mean (from the stored profile)
SELECT round((cs_shap_values('credit_risk@1', c.*))[14]::numeric, 9)
     = round((SELECT (doc #>> '{datasets,credit,seeds,42,fits,l2_C1,intercept}')::numeric FROM reference)
             + (SELECT sum(coefficient * CASE
                       WHEN term LIKE '%=%' THEN
                           (SELECT (f->'counts'->>(array_position(ARRAY(SELECT jsonb_array_elements_text(f->'levels')),
                                                                 split_part(term, '=', 2)) - 1))::float8 / (f->>'n')::float8
                              FROM cs_models m, jsonb_array_elements(m.profile->'features') f
                             WHERE m.name = 'credit_risk' AND m.version = 1 AND f->>'name' = split_part(term, '=', 1))
                       WHEN term LIKE '%:missing' THEN
                           (SELECT (f->>'missing')::float8 / (f->>'n')::float8
                              FROM cs_models m, jsonb_array_elements(m.profile->'features') f
                             WHERE m.name = 'credit_risk' AND m.version = 1 AND f->>'name' = split_part(term, ':', 1))
                       ELSE 0 END)::numeric
                  FROM cs_coefficients('credit_risk@1') WHERE term <> '(intercept)'), 9) AS base_is_margin_at_means
  FROM credit c WHERE id = 1;
-- jsonb rows explain the same way
SELECT cs_shap_values('credit_risk@1', c.*) = cs_shap_values('credit_risk@1', to_jsonb(c)) AS same
  FROM credit c WHERE id = 7;

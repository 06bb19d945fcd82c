-- ------------------------------------------------------------------- explain

CREATE FUNCTION @extschema@.cs_shap_values(model text, input record, samples integer DEFAULT 0)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'cs_shap_values_record'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_shap_values(text, record, integer) IS
    'SHAP values of a row in the model''s margin units: one per feature in model order, the base value last (XGBoost''s pred_contribs layout).  Exact for linear and tree models; KernelSHAP for a network, with samples coalitions (0: 2 * features + 2048) against the reference sample kept at training.';

CREATE FUNCTION @extschema@.cs_shap_values(model text, input jsonb, samples integer DEFAULT 0)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'cs_shap_values_jsonb'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_shap_values(text, jsonb, integer) IS
    'SHAP values of a jsonb row: one per feature in model order, the base value last.';

CREATE FUNCTION @extschema@.cs_shap(model text, input record, samples integer DEFAULT 0,
                                     OUT feature text, OUT value text, OUT shap float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_shap_record'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_shap(text, record, integer) IS
    'SHAP values of a row as rows (feature, value, shap), then the base value; they sum to the row''s margin.';

CREATE FUNCTION @extschema@.cs_shap(model text, input jsonb, samples integer DEFAULT 0,
                                     OUT feature text, OUT value text, OUT shap float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_shap_jsonb'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_shap(text, jsonb, integer) IS
    'SHAP values of a jsonb row as rows (feature, value, shap), then the base value.';

CREATE FUNCTION @extschema@.cs_shap_interactions(model text, input record)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'cs_shap_interactions_record'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_shap_interactions(text, record) IS
    'SHAP interaction values of a row for a tree model: (features + 1) x (features + 1), XGBoost''s pred_interactions layout; each row sums to the feature''s SHAP value.';

-- reason codes: the features that pushed an applicant most toward decline
CREATE FUNCTION @extschema@.cs_reasons(model text, input record, n integer DEFAULT 4,
                                       cutoff float8 DEFAULT 0.5, reason_texts regclass DEFAULT NULL,
                                       OUT rank integer, OUT feature text, OUT value text,
                                       OUT contribution float8, OUT code text, OUT reason text,
                                       OUT score float8, OUT reference_score float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_reasons_record'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_reasons(text, record, integer, float8, regclass) IS
    'The principal reasons for a decline: at most n features with a positive contribution toward default, largest first, measured (Shapley values, model margin units) against the training rows scored nearest the approval cutoff, weighted so that their mean score is the cutoff (an applicant is declined when score >= cutoff): the contributions of all features sum to the distance of the applicant''s margin from the cutoff''s.  reason_texts: a table with columns feature and reason (and optionally code) giving each feature''s reason text; without one, or for a feature it lacks, the reason is the feature''s name.';

CREATE FUNCTION @extschema@.cs_reasons(model text, input jsonb, n integer DEFAULT 4,
                                       cutoff float8 DEFAULT 0.5, reason_texts regclass DEFAULT NULL,
                                       OUT rank integer, OUT feature text, OUT value text,
                                       OUT contribution float8, OUT code text, OUT reason text,
                                       OUT score float8, OUT reference_score float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_reasons_jsonb'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_reasons(text, jsonb, integer, float8, regclass) IS
    'The principal reasons for declining a jsonb row (see cs_reasons(text, record, ...)).';

-- global importance: mean |SHAP| per feature over any query
CREATE FUNCTION @extschema@.cs_shap_importance_trans(bytea, float8[])
    RETURNS bytea AS 'MODULE_PATHNAME', 'cs_shap_importance_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cs_shap_importance_combine(bytea, bytea)
    RETURNS bytea AS 'MODULE_PATHNAME', 'cs_shap_importance_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE FUNCTION @extschema@.cs_shap_importance_final(bytea)
    RETURNS float8[] AS 'MODULE_PATHNAME', 'cs_shap_importance_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
CREATE AGGREGATE @extschema@.cs_shap_importance(shap float8[]) (
    SFUNC = @extschema@.cs_shap_importance_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_shap_importance_final,
    COMBINEFUNC = @extschema@.cs_shap_importance_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_shap_importance(float8[]) IS
    'Global importance: the mean |SHAP value| per position of cs_shap_values arrays (features in model order, the base value last).';

CREATE FUNCTION @extschema@.cs_shap_summary(model text, relation regclass, buckets integer DEFAULT 10)
    RETURNS TABLE (feature text, bucket integer, value_from text, value_to text,
                   mean_shap float8, rows bigint)
    LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
    SET search_path = @extschema@, pg_catalog, pg_temp
AS $$
BEGIN
    IF buckets IS NULL OR buckets < 1 OR buckets > 1000 THEN
        RAISE EXCEPTION 'buckets must be between 1 and 1000' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- numeric features in equal-count buckets of their values, categorical
    -- ones by category, missing values apart: what a beeswarm-like chart draws
    RETURN QUERY EXECUTE format($q$
        WITH s AS (
            SELECT x.feature, x.value, x.shap
              FROM %s r, LATERAL cs_shap(%L, r.*) x
             WHERE x.feature <> '(base value)'),
        k AS (
            SELECT f->>'name' AS feature, f->>'kind' AS kind, o.n AS position
              FROM jsonb_array_elements(cs_model_info(%L)->'features') WITH ORDINALITY AS o(f, n)),
        b AS (
            SELECT s.*, k.kind, k.position,
                   CASE WHEN k.kind = 'numeric' AND s.value IS NOT NULL
                        THEN ntile(%s) OVER (PARTITION BY s.feature, s.value IS NULL
                                             ORDER BY CASE WHEN k.kind = 'numeric'
                                                           THEN s.value::float8 END) END AS nb
              FROM s JOIN k USING (feature))
        SELECT feature, nb::integer,
               coalesce(min(CASE WHEN kind = 'numeric' THEN value::float8 END)::text, min(value)),
               coalesce(max(CASE WHEN kind = 'numeric' THEN value::float8 END)::text, max(value)),
               avg(shap), count(*)
          FROM b
         GROUP BY feature, position, kind, nb, CASE WHEN kind = 'categorical' THEN value END,
                  value IS NULL
         ORDER BY position, nb NULLS LAST, 3$q$, relation, model, model, buckets);
END $$;
COMMENT ON FUNCTION @extschema@.cs_shap_summary(text, regclass, integer) IS
    'A SHAP summary as rows (feature, value bucket, mean SHAP, rows) over a relation, for a beeswarm-like chart.';

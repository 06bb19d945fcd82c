-- ------------------------------------------------------------------- explain

CREATE FUNCTION @extschema@.cs_shap_values(model text, input record)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'cs_shap_values_record'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_shap_values(text, record) IS
    'SHAP values of a row in the model''s margin units: one per feature in model order, the base value last (XGBoost''s pred_contribs layout).';

CREATE FUNCTION @extschema@.cs_shap_values(model text, input jsonb)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'cs_shap_values_jsonb'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_shap_values(text, jsonb) IS
    'SHAP values of a jsonb row: one per feature in model order, the base value last.';

CREATE FUNCTION @extschema@.cs_shap(model text, input record,
                                     OUT feature text, OUT value text, OUT shap float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_shap_record'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_shap(text, record) IS
    'SHAP values of a row as rows (feature, value, shap), then the base value; they sum to the row''s margin.';

CREATE FUNCTION @extschema@.cs_shap(model text, input jsonb,
                                     OUT feature text, OUT value text, OUT shap float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_shap_jsonb'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_shap(text, jsonb) IS
    'SHAP values of a jsonb row as rows (feature, value, shap), then the base value.';

CREATE FUNCTION @extschema@.cs_shap_interactions(model text, input record)
    RETURNS float8[]
    AS 'MODULE_PATHNAME', 'cs_shap_interactions_record'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_shap_interactions(text, record) IS
    'SHAP interaction values of a row for a tree model: (features + 1) x (features + 1), XGBoost''s pred_interactions layout; each row sums to the feature''s SHAP value.';

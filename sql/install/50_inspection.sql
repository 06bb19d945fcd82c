-- --------------------------------------------------------------- inspection

CREATE FUNCTION @extschema@.cs_model_info(model text)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'cs_model_info'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_model_info(text) IS
    'A model''s feature schema (kinds, means, levels) and training metadata.';

CREATE FUNCTION @extschema@.cs_coefficients(model text, OUT term text, OUT coefficient float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_coefficients'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_coefficients(text) IS
    'The terms of a logistic regression on its standardised design (intercept first).';

CREATE FUNCTION @extschema@.cs_feature_importance(model text, OUT feature text,
                                                   OUT importance float8, OUT gain float8,
                                                   OUT cover float8, OUT splits bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_feature_importance'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_feature_importance(text) IS
    'Feature importance as rows: gain and cover of the splits (tree models; the forest''s gain is the mean decrease in impurity), importance = gain normalised to sum to 1; for logistic regression the summed |weight| of the standardised design columns.';

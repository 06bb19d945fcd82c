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


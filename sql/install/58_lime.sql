-- ---------------------------------------------------------------------- LIME

-- Not STRICT: kernel_width defaults to NULL (lime's default width).  A NULL
-- model or row gives no rows, as a STRICT function would; a NULL samples or
-- seed is an error.
CREATE FUNCTION @extschema@.cs_lime(model text, input record,
                                     samples integer DEFAULT 5000, seed integer DEFAULT 0,
                                     kernel_width float8 DEFAULT NULL)
    RETURNS TABLE (feature text, value text, condition text, weight float8,
                   intercept float8, score float8, local_prediction float8, prediction float8)
    AS 'MODULE_PATHNAME', 'cs_lime_record'
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_lime(text, record, integer, integer, float8) IS
    'LIME explanation of a row as lime''s LimeTabularExplainer computes it (quartile bins, kernel width 0.75 sqrt(features), weighted ridge surrogate), from the training statistics stored with the model; one row per feature by |weight| descending, each with the surrogate''s intercept, weighted R^2 (score), local_prediction and the model''s prediction; seeded.';

CREATE FUNCTION @extschema@.cs_lime(model text, input jsonb,
                                     samples integer DEFAULT 5000, seed integer DEFAULT 0,
                                     kernel_width float8 DEFAULT NULL)
    RETURNS TABLE (feature text, value text, condition text, weight float8,
                   intercept float8, score float8, local_prediction float8, prediction float8)
    AS 'MODULE_PATHNAME', 'cs_lime_jsonb'
    LANGUAGE C STABLE CALLED ON NULL INPUT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_lime(text, jsonb, integer, integer, float8) IS
    'LIME explanation of a jsonb row (every feature a key, null for missing); see cs_lime(text, record, ...).';

-- ------------------------------------------------------------------- scoring

-- planner support of cs_predict(model, t.*): passes t's columns instead of the
-- composite value the executor would build (src/predict_columns.c)
CREATE FUNCTION @extschema@.cs_predict_support(internal)
    RETURNS internal
    AS 'MODULE_PATHNAME', 'cs_predict_support'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_predict_support(internal) IS
    'Planner support of cs_predict(model, t.*): rewrites the call on a table''s whole row into cs_predict_columns.';

CREATE FUNCTION @extschema@.cs_predict_columns(model text, names text[], VARIADIC "any")
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_predict_columns_name'
    LANGUAGE C STABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_predict_columns(text, text[], "any") IS
    'What the planner turns cs_predict(model, t.*) into for a table t: the row''s ctid, then its columns, named by names.  NULL when the ctid is (a null-extended row).';

CREATE FUNCTION @extschema@.cs_predict_columns(model bytea, names text[], VARIADIC "any")
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_predict_columns_blob'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_predict_columns(bytea, text[], "any") IS
    'What the planner turns cs_predict(blob, t.*) into for a table t (see cs_predict_columns(text, text[], "any")).';

CREATE FUNCTION @extschema@.cs_predict(model text, input record)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_predict_name_record'
    LANGUAGE C STABLE STRICT PARALLEL SAFE
    SUPPORT @extschema@.cs_predict_support;
COMMENT ON FUNCTION @extschema@.cs_predict(text, record) IS
    'Probability of the positive class for a row, with the named model (name, or name@version).';

CREATE FUNCTION @extschema@.cs_predict(model text, input jsonb)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_predict_name_jsonb'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_predict(text, jsonb) IS
    'Probability of the positive class for a jsonb object of features (absent key = missing).';

CREATE FUNCTION @extschema@.cs_predict(model bytea, input record)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_predict_blob_record'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    SUPPORT @extschema@.cs_predict_support;
COMMENT ON FUNCTION @extschema@.cs_predict(bytea, record) IS
    'Probability of the positive class for a row, with a model blob (e.g. cs_models.blob).';

CREATE FUNCTION @extschema@.cs_predict(model bytea, input jsonb)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_predict_blob_jsonb'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_predict(bytea, jsonb) IS
    'Probability of the positive class for a jsonb object, with a model blob.';

CREATE FUNCTION @extschema@.cs_score_trigger()
    RETURNS trigger
    AS 'MODULE_PATHNAME', 'cs_score_trigger'
    LANGUAGE C;
COMMENT ON FUNCTION @extschema@.cs_score_trigger() IS
    'BEFORE INSERT OR UPDATE row trigger: cs_score_trigger(model, score_column) fills the score column.';


-- ------------------------------------------------------------------- scoring

CREATE FUNCTION @extschema@.cs_predict(model text, input record)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_predict_name_record'
    LANGUAGE C STABLE STRICT PARALLEL SAFE;
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
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
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


-- -------------------------------------------------------------------- import

CREATE FUNCTION @extschema@.cs_import_xgboost(name text, model jsonb, features jsonb DEFAULT NULL,
                                               experiment text DEFAULT 'default')
    RETURNS integer
    AS 'MODULE_PATHNAME', 'cs_import_xgboost'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cs_import_xgboost(text, jsonb, jsonb, text) IS
    'Registers an XGBoost JSON model (save_model, binary:logistic) as a new version of name; features maps XGBoost feature names to columns. Returns the version.';

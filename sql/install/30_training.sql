-- ------------------------------------------------------------------ training

CREATE FUNCTION @extschema@.cs_train(
    relation   regclass,
    model_type text,
    target     text,
    positive   text DEFAULT NULL,
    name       text DEFAULT NULL,
    features   text[] DEFAULT NULL,
    exclude    text[] DEFAULT NULL,
    params     jsonb DEFAULT '{}',
    experiment text DEFAULT 'default',
    wait       boolean DEFAULT true)
    RETURNS bigint
    AS 'MODULE_PATHNAME', 'cs_train'
    LANGUAGE C VOLATILE PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cs_train(regclass, text, text, text, text, text[], text[], jsonb, text, boolean) IS
    'Trains a model in a background worker and registers it; returns the run id.';

CREATE FUNCTION @extschema@.cs_cancel(job bigint)
    RETURNS boolean
    AS 'MODULE_PATHNAME', 'cs_cancel'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cs_cancel(bigint) IS
    'Asks a running training job to stop; it is recorded as cancelled. False if it is not running.';


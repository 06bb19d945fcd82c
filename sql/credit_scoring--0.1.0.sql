/* credit_scoring 0.1.0: the registry, training, scoring and the trigger. */
\echo Use "CREATE EXTENSION credit_scoring" to load this file. \quit

-- ------------------------------------------------------------------ registry

CREATE TABLE @extschema@.cs_experiments (
    experiment_id bigserial PRIMARY KEY,
    name          text NOT NULL UNIQUE CHECK (name <> ''),
    created_at    timestamptz NOT NULL DEFAULT now(),
    created_by    name NOT NULL DEFAULT current_user
);
COMMENT ON TABLE @extschema@.cs_experiments IS 'Experiments group training runs (MLflow-style).';

-- run ids are reserved by the training worker before it reads any data
CREATE SEQUENCE @extschema@.cs_runs_run_id_seq;

CREATE TABLE @extschema@.cs_runs (
    run_id        bigint PRIMARY KEY,
    experiment_id bigint NOT NULL REFERENCES @extschema@.cs_experiments,
    parent_run    bigint REFERENCES @extschema@.cs_runs,
    job_id        bigint,
    model_type    text NOT NULL,
    status        text NOT NULL CHECK (status IN ('succeeded', 'failed', 'cancelled')),
    relation      text NOT NULL,
    target        text,
    positive      text,
    features      text[] NOT NULL,
    params        jsonb NOT NULL,
    metrics       jsonb,
    tags          jsonb NOT NULL DEFAULT '{}',
    seed          bigint NOT NULL,
    threads       integer NOT NULL,
    n_rows        bigint,
    n_skipped     bigint,
    n_train       bigint,
    n_valid       bigint,
    n_test        bigint,
    started_at    timestamptz NOT NULL,
    ended_at      timestamptz,
    timings       jsonb,
    error         text,
    created_by    name NOT NULL,
    request       jsonb NOT NULL
);
ALTER SEQUENCE @extschema@.cs_runs_run_id_seq OWNED BY @extschema@.cs_runs.run_id;
COMMENT ON TABLE @extschema@.cs_runs IS
    'Training runs: parameters, metrics (train/validation/test), row counts, seed, timings.';

CREATE TABLE @extschema@.cs_models (
    model_id    bigserial PRIMARY KEY,
    name        text NOT NULL CHECK (name <> '' AND strpos(name, '@') = 0),
    version     integer NOT NULL CHECK (version > 0),
    run_id      bigint REFERENCES @extschema@.cs_runs,
    model_type  text NOT NULL,
    stage       text NOT NULL DEFAULT 'none'
                CHECK (stage IN ('none', 'staging', 'production', 'archived')),
    blob        bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    created_by  name NOT NULL DEFAULT current_user,
    UNIQUE (name, version)
);
CREATE UNIQUE INDEX cs_models_one_production ON @extschema@.cs_models (name)
    WHERE stage = 'production';
COMMENT ON TABLE @extschema@.cs_models IS
    'Model versions (blob = the versioned, checksummed model); a name resolves to its production version, else its newest.';

CREATE TABLE @extschema@.cs_job_state (
    job_id      bigserial PRIMARY KEY,
    run_id      bigint NOT NULL,
    status      text NOT NULL CHECK (status IN ('running', 'succeeded', 'failed', 'cancelled')),
    phase       text NOT NULL,
    progress    float8 NOT NULL DEFAULT 0 CHECK (progress >= 0 AND progress <= 1),
    message     text,
    error       text,
    pid         integer,
    role        name NOT NULL,
    relation    text,
    model_type  text,
    model_name  text,
    started_at  timestamptz NOT NULL DEFAULT now(),
    ended_at    timestamptz
);
COMMENT ON TABLE @extschema@.cs_job_state IS
    'What training jobs recorded; read cs_jobs, which adds the live state of running jobs.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_experiments', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_experiments_experiment_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_runs', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_runs_run_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_models', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_models_model_id_seq', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_job_state', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_job_state_job_id_seq', '');

-- ---------------------------------------------------------------------- jobs

CREATE FUNCTION @extschema@.cs_job_live(job bigint, OUT alive boolean, OUT pid integer,
                                         OUT status text, OUT phase text, OUT progress float8,
                                         OUT message text, OUT error text)
    RETURNS record
    AS 'MODULE_PATHNAME', 'cs_job_live_sql'
    LANGUAGE C VOLATILE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cs_job_live(bigint) IS
    'Current state of a job: from its live worker, else from the latest committed row (failed if the worker died).';

-- a job the reader's snapshot shows as running is looked up live
CREATE VIEW @extschema@.cs_jobs AS
SELECT j.job_id, j.run_id, j.model_name, j.model_type, j.relation,
       coalesce(l.status, j.status) AS status,
       coalesce(l.phase, j.phase) AS phase,
       coalesce(l.progress, j.progress) AS progress,
       CASE WHEN l.status IS NULL THEN j.message ELSE l.message END AS message,
       CASE WHEN l.status IS NULL THEN j.error ELSE l.error END AS error,
       j.pid, j.role, j.started_at, j.ended_at
  FROM @extschema@.cs_job_state j
  LEFT JOIN LATERAL (SELECT * FROM @extschema@.cs_job_live(j.job_id)
                      WHERE j.status = 'running') l ON true;
COMMENT ON VIEW @extschema@.cs_jobs IS
    'Training jobs: status, phase, progress fraction, message, error, pid; a job whose worker died reads failed.';

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

-- ---------------------------------------------------------------- privileges

-- everyone may read the registry and score; only training jobs (as the
-- extension owner) and the owner write it
REVOKE ALL ON @extschema@.cs_experiments, @extschema@.cs_runs, @extschema@.cs_models,
              @extschema@.cs_job_state FROM PUBLIC;
GRANT SELECT ON @extschema@.cs_experiments, @extschema@.cs_runs, @extschema@.cs_models,
                @extschema@.cs_job_state, @extschema@.cs_jobs TO PUBLIC;

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

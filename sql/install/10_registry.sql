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
    parent_run    bigint REFERENCES @extschema@.cs_runs ON DELETE CASCADE,
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
    data_fingerprint text,  -- row count and an order-independent hash of the rows read
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
    run_id      bigint REFERENCES @extschema@.cs_runs ON DELETE CASCADE,
    model_type  text NOT NULL,
    stage       text NOT NULL DEFAULT 'none'
                CHECK (stage IN ('none', 'staging', 'production', 'archived')),
    blob        bytea NOT NULL,
    profile     jsonb,  -- training-time distributions for drift monitoring
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


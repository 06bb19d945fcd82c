
-- --------------------------------------------------------------------- drift

-- The two-sample Kolmogorov-Smirnov test (src/drift.c, src/core/ks.c): the
-- p-value is SciPy's ks_2samp(method='auto').  The aggregate's state is a
-- flat bytea holding both samples.
CREATE TYPE @extschema@.cs_ks_result AS (
    statistic float8,   -- D = max |F_reference - F_current|
    p_value   float8,
    drifted   boolean   -- p_value < alpha (0.05 unless given)
);
COMMENT ON TYPE @extschema@.cs_ks_result IS
    'A two-sample Kolmogorov-Smirnov test: statistic D, p-value, and whether p < alpha.';

CREATE FUNCTION @extschema@.cs_ks_drift_step(state bytea, value float8, is_current boolean)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_ks_drift_step'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_ks_drift_step(bytea, float8, boolean) IS
    'Transition function of cs_ks_drift: adds a value to the reference or the current sample.';

CREATE FUNCTION @extschema@.cs_ks_drift_combine(state bytea, other bytea)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_ks_drift_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_ks_drift_combine(bytea, bytea) IS
    'Combine function of cs_ks_drift: joins the samples of two states.';

CREATE FUNCTION @extschema@.cs_ks_drift_merge_step(state bytea, partial bytea, alpha float8)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_ks_drift_merge_step'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_ks_drift_merge_step(bytea, bytea, float8) IS
    'Transition function of cs_ks_drift_merge with a significance level.';

CREATE FUNCTION @extschema@.cs_ks_drift_state(state bytea)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_ks_drift_state'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_ks_drift_state(bytea) IS
    'Final function of cs_ks_drift_partial: the state, compacted.';

CREATE FUNCTION @extschema@.cs_ks_drift_final(state bytea)
    RETURNS @extschema@.cs_ks_result
    AS 'MODULE_PATHNAME', 'cs_ks_drift_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_ks_drift_final(bytea) IS
    'Final function of cs_ks_drift: tests the two samples (sorting copies of them).';

CREATE AGGREGATE @extschema@.cs_ks_drift(value float8, is_current boolean) (
    SFUNC = @extschema@.cs_ks_drift_step,
    STYPE = bytea,
    INITCOND = '',
    FINALFUNC = @extschema@.cs_ks_drift_final,
    COMBINEFUNC = @extschema@.cs_ks_drift_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_ks_drift(float8, boolean) IS
    'Two-sample Kolmogorov-Smirnov test of the reference values (is_current false) against the current ones (true), as scipy.stats.ks_2samp; drifted when p < 0.05.';

CREATE AGGREGATE @extschema@.cs_ks_drift_partial(value float8, is_current boolean) (
    SFUNC = @extschema@.cs_ks_drift_step,
    STYPE = bytea,
    INITCOND = '',
    FINALFUNC = @extschema@.cs_ks_drift_state,
    COMBINEFUNC = @extschema@.cs_ks_drift_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_ks_drift_partial(float8, boolean) IS
    'The state of cs_ks_drift as bytea, for cs_ks_drift_merge (fan-out by hand).';

CREATE AGGREGATE @extschema@.cs_ks_drift_merge(partial bytea) (
    SFUNC = @extschema@.cs_ks_drift_combine,
    STYPE = bytea,
    INITCOND = '',
    FINALFUNC = @extschema@.cs_ks_drift_final,
    COMBINEFUNC = @extschema@.cs_ks_drift_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_ks_drift_merge(bytea) IS
    'cs_ks_drift over states from cs_ks_drift_partial.';

CREATE AGGREGATE @extschema@.cs_ks_drift_merge(partial bytea, alpha float8) (
    SFUNC = @extschema@.cs_ks_drift_merge_step,
    STYPE = bytea,
    INITCOND = '',
    FINALFUNC = @extschema@.cs_ks_drift_final,
    COMBINEFUNC = @extschema@.cs_ks_drift_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_ks_drift_merge(bytea, float8) IS
    'cs_ks_drift over states from cs_ks_drift_partial; drifted when p < alpha.';

CREATE FUNCTION @extschema@.cs_ks_drift(reference   regclass,
                                         current     regclass,
                                         column_name text,
                                         alpha       float8 DEFAULT 0.05)
    RETURNS @extschema@.cs_ks_result
    AS 'MODULE_PATHNAME', 'cs_ks_drift_relations'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cs_ks_drift(regclass, regclass, text, float8) IS
    'Two-sample Kolmogorov-Smirnov test of a numeric column of two relations (NULLs skipped); drifted when p < alpha.';

-- Every drift report, kept so that drift can be charted over time.  Written
-- by cs_drift_report as the extension's owner; readable by everyone.
CREATE SEQUENCE @extschema@.cs_drift_reports_report_id_seq;

CREATE TABLE @extschema@.cs_drift_reports (
    report_id       bigint NOT NULL,
    model_id        bigint NOT NULL,
    model_name      text NOT NULL,
    model_version   integer NOT NULL,
    relation        text NOT NULL,
    run_at          timestamptz NOT NULL DEFAULT now(),
    run_by          name NOT NULL,
    kind            text NOT NULL CHECK (kind IN ('feature', 'prediction', 'performance')),
    name            text NOT NULL,
    n_reference     bigint,
    n_current       bigint,
    ks_statistic    float8,
    p_value         float8,
    ks_drifted      boolean,
    psi             float8,
    reference_value float8,
    current_value   float8,
    relative_change float8,
    verdict         text CHECK (verdict IN ('stable', 'investigate', 'shifted', 'degraded')),
    PRIMARY KEY (report_id, kind, name)
);
CREATE INDEX cs_drift_reports_model ON @extschema@.cs_drift_reports (model_name, run_at);
ALTER SEQUENCE @extschema@.cs_drift_reports_report_id_seq
    OWNED BY @extschema@.cs_drift_reports.report_id;
COMMENT ON TABLE @extschema@.cs_drift_reports IS
    'Drift reports (cs_drift_report): per feature, the prediction and the performance of a model on a relation, with KS, PSI and verdicts.';

SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_drift_reports', '');
SELECT pg_catalog.pg_extension_config_dump('@extschema@.cs_drift_reports_report_id_seq', '');

REVOKE ALL ON @extschema@.cs_drift_reports FROM PUBLIC;
GRANT SELECT ON @extschema@.cs_drift_reports TO PUBLIC;

CREATE FUNCTION @extschema@.cs_drift_report(model    text,
                                             relation regclass,
                                             alpha    float8 DEFAULT 0.05)
    RETURNS TABLE (report_id       bigint,
                   kind            text,
                   name            text,
                   n_reference     bigint,
                   n_current       bigint,
                   ks_statistic    float8,
                   p_value         float8,
                   ks_drifted      boolean,
                   psi             float8,
                   reference_value float8,
                   current_value   float8,
                   relative_change float8,
                   verdict         text)
    AS 'MODULE_PATHNAME', 'cs_drift_report'
    LANGUAGE C VOLATILE STRICT PARALLEL UNSAFE;
COMMENT ON FUNCTION @extschema@.cs_drift_report(text, regclass, float8) IS
    'Drift of a relation against the profile the model stored at training time: per feature KS and PSI, the prediction''s KS and PSI, and, when the relation has the target, AUC, accuracy, log loss and Brier against the run''s test figures; recorded in cs_drift_reports.';

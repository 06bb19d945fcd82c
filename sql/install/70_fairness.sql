
-- ------------------------------------------------------------------ fairness

-- Group fairness of approval decisions (src/fairness.c, src/core/fairness.c):
-- the favourable outcome is approval, the truly good label "did not default".
-- The aggregate's state is a flat bytea: per group its counts.

CREATE FUNCTION @extschema@.cs_fairness_step(state bytea, grp text, approved boolean,
                                              defaulted boolean)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_fairness_step'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_fairness_step(bytea, text, boolean, boolean) IS
    'Transition function of cs_fairness: counts one decision (a NULL decision is skipped).';

CREATE FUNCTION @extschema@.cs_fairness_step(state bytea, grp text, approved boolean,
                                              defaulted boolean, privileged text)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_fairness_step_privileged'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_fairness_step(bytea, text, boolean, boolean, text) IS
    'Transition function of cs_fairness with a privileged group.';

CREATE FUNCTION @extschema@.cs_fairness_combine(state bytea, other bytea)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_fairness_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_fairness_combine(bytea, bytea) IS
    'Combine function of cs_fairness: adds the group counts of two states.';

CREATE FUNCTION @extschema@.cs_fairness_merge_step(state bytea, partial bytea, privileged text)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_fairness_merge_step'
    LANGUAGE C IMMUTABLE PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_fairness_merge_step(bytea, bytea, text) IS
    'Transition function of cs_fairness_merge with a privileged group.';

CREATE FUNCTION @extschema@.cs_fairness_state(state bytea)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_fairness_state'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_fairness_state(bytea) IS
    'Final function of cs_fairness_partial: the state, compacted.';

CREATE FUNCTION @extschema@.cs_fairness_final(state bytea)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'cs_fairness_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_fairness_final(bytea) IS
    'Final function of cs_fairness: the per-group figures and the summary as jsonb.';

CREATE AGGREGATE @extschema@.cs_fairness(grp text, approved boolean, defaulted boolean) (
    SFUNC = @extschema@.cs_fairness_step,
    STYPE = bytea,
    INITCOND = '',
    FINALFUNC = @extschema@.cs_fairness_final,
    COMBINEFUNC = @extschema@.cs_fairness_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_fairness(text, boolean, boolean) IS
    'Fairness of approval decisions by group: per group count, selection rate, TPR, FPR, precision; fairlearn''s demographic parity difference and ratio, equal opportunity and equalized odds differences; the four-fifths rule.';

CREATE AGGREGATE @extschema@.cs_fairness(grp text, approved boolean, defaulted boolean,
                                         privileged text) (
    SFUNC = @extschema@.cs_fairness_step,
    STYPE = bytea,
    INITCOND = '',
    FINALFUNC = @extschema@.cs_fairness_final,
    COMBINEFUNC = @extschema@.cs_fairness_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_fairness(text, boolean, boolean, text) IS
    'cs_fairness with a privileged group: adds AIF360''s statistical parity difference and disparate impact (unprivileged vs privileged) and compares every group with the privileged one.';

CREATE AGGREGATE @extschema@.cs_fairness_partial(grp text, approved boolean, defaulted boolean) (
    SFUNC = @extschema@.cs_fairness_step,
    STYPE = bytea,
    INITCOND = '',
    FINALFUNC = @extschema@.cs_fairness_state,
    COMBINEFUNC = @extschema@.cs_fairness_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_fairness_partial(text, boolean, boolean) IS
    'The state of cs_fairness as bytea, for cs_fairness_merge (fan-out by hand).';

CREATE AGGREGATE @extschema@.cs_fairness_partial(grp text, approved boolean, defaulted boolean,
                                                 privileged text) (
    SFUNC = @extschema@.cs_fairness_step,
    STYPE = bytea,
    INITCOND = '',
    FINALFUNC = @extschema@.cs_fairness_state,
    COMBINEFUNC = @extschema@.cs_fairness_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_fairness_partial(text, boolean, boolean, text) IS
    'The state of cs_fairness with a privileged group as bytea, for cs_fairness_merge.';

CREATE AGGREGATE @extschema@.cs_fairness_merge(partial bytea) (
    SFUNC = @extschema@.cs_fairness_combine,
    STYPE = bytea,
    INITCOND = '',
    FINALFUNC = @extschema@.cs_fairness_final,
    COMBINEFUNC = @extschema@.cs_fairness_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_fairness_merge(bytea) IS
    'cs_fairness over states from cs_fairness_partial.';

CREATE AGGREGATE @extschema@.cs_fairness_merge(partial bytea, privileged text) (
    SFUNC = @extschema@.cs_fairness_merge_step,
    STYPE = bytea,
    INITCOND = '',
    FINALFUNC = @extschema@.cs_fairness_final,
    COMBINEFUNC = @extschema@.cs_fairness_combine,
    PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_fairness_merge(bytea, text) IS
    'cs_fairness with a privileged group over states from cs_fairness_partial.';

CREATE FUNCTION @extschema@.cs_fairness(model      text,
                                         relation   regclass,
                                         sensitive  text[],
                                         threshold  float8 DEFAULT 0.5,
                                         privileged text DEFAULT NULL)
    RETURNS TABLE (group_name                    text,
                   is_reference                  boolean,
                   n                             bigint,
                   approved                      bigint,
                   good                          bigint,
                   bad                           bigint,
                   selection_rate                float8,
                   true_positive_rate            float8,
                   false_positive_rate           float8,
                   "precision"                   float8,
                   impact_ratio                  float8,
                   parity_difference             float8,
                   passes_four_fifths            boolean,
                   demographic_parity_difference float8,
                   demographic_parity_ratio      float8,
                   equal_opportunity_difference  float8,
                   equalized_odds_difference     float8,
                   statistical_parity_difference float8,
                   disparate_impact              float8,
                   four_fifths_rule              boolean)
    AS 'MODULE_PATHNAME', 'cs_fairness_relation'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cs_fairness(text, regclass, text[], float8, text) IS
    'Fairness of a model''s decisions (approved: predicted probability of default below threshold) on a relation, one row per group of the sensitive columns (their intersection), with the summary on every row.';

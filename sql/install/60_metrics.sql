
-- ---------------------------------------------------------------- evaluation

-- Metric aggregates over (score, label).  Every state is a flat bytea (DESIGN.md, "Aggregates"):
-- PostgreSQL's parallel query and Citus compute them partially and combine the parts.  The
-- transition functions are strict (a row with a NULL score or label is skipped) and start from
-- the empty bytea; over no rows every aggregate returns NULL, like sum().

CREATE FUNCTION @extschema@.cs_scores_trans(state bytea, score float8, label boolean)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_scores_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_scores_trans(bytea, float8, boolean) IS
    'Transition of cs_auc, cs_ks and cs_scores_partial: appends (score, label) to the state.';

CREATE FUNCTION @extschema@.cs_scores_combine(state bytea, other bytea)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_scores_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_scores_combine(bytea, bytea) IS
    'Combines two scores states (the rows of both).';

CREATE FUNCTION @extschema@.cs_partial_final(state bytea)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_partial_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_partial_final(bytea) IS
    'Final function of the _partial aggregates: the state without spare room; NULL without rows.';

CREATE FUNCTION @extschema@.cs_auc_final(state bytea)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_auc_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_auc_final(bytea) IS
    'ROC AUC of a scores state (ties count one half); NULL without rows or without both classes.';

CREATE FUNCTION @extschema@.cs_ks_final(state bytea)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_ks_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_ks_final(bytea) IS
    'KS statistic max |TPR - FPR| of a scores state; NULL without rows or without both classes.';

CREATE AGGREGATE @extschema@.cs_auc(score float8, label boolean) (
    SFUNC = @extschema@.cs_scores_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_auc_final,
    COMBINEFUNC = @extschema@.cs_scores_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_auc(float8, boolean) IS
    'ROC AUC of scores against labels (true = positive), ties counting one half; exact: keeps every row (9 bytes each).';

CREATE AGGREGATE @extschema@.cs_ks(score float8, label boolean) (
    SFUNC = @extschema@.cs_scores_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_ks_final,
    COMBINEFUNC = @extschema@.cs_scores_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_ks(float8, boolean) IS
    'Kolmogorov-Smirnov statistic: max |TPR - FPR| over all thresholds (SciPy''s ks_2samp of the positive and negative scores).';

CREATE AGGREGATE @extschema@.cs_scores_partial(score float8, label boolean) (
    SFUNC = @extschema@.cs_scores_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_partial_final,
    COMBINEFUNC = @extschema@.cs_scores_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_scores_partial(float8, boolean) IS
    'The (score, label) rows as a bytea state: for cs_auc_merge, cs_ks_merge, cs_scores_merge, cs_metrics and the curve functions.';

CREATE AGGREGATE @extschema@.cs_auc_partial(score float8, label boolean) (
    SFUNC = @extschema@.cs_scores_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_partial_final,
    COMBINEFUNC = @extschema@.cs_scores_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_auc_partial(float8, boolean) IS
    'Partial state of cs_auc, for fan-out by hand: merge the parts with cs_auc_merge (the same state as cs_scores_partial).';

CREATE AGGREGATE @extschema@.cs_ks_partial(score float8, label boolean) (
    SFUNC = @extschema@.cs_scores_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_partial_final,
    COMBINEFUNC = @extschema@.cs_scores_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_ks_partial(float8, boolean) IS
    'Partial state of cs_ks, for fan-out by hand: merge the parts with cs_ks_merge (the same state as cs_scores_partial).';

CREATE AGGREGATE @extschema@.cs_auc_merge(state bytea) (
    SFUNC = @extschema@.cs_scores_combine, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_auc_final,
    COMBINEFUNC = @extschema@.cs_scores_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_auc_merge(bytea) IS
    'ROC AUC of the rows of several partial states (cs_auc_partial, cs_ks_partial, cs_scores_partial).';

CREATE AGGREGATE @extschema@.cs_ks_merge(state bytea) (
    SFUNC = @extschema@.cs_scores_combine, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_ks_final,
    COMBINEFUNC = @extschema@.cs_scores_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_ks_merge(bytea) IS
    'KS statistic of the rows of several partial states (cs_auc_partial, cs_ks_partial, cs_scores_partial).';

CREATE AGGREGATE @extschema@.cs_scores_merge(state bytea) (
    SFUNC = @extschema@.cs_scores_combine, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_partial_final,
    COMBINEFUNC = @extschema@.cs_scores_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_scores_merge(bytea) IS
    'One scores state holding the rows of several (for cs_metrics and the curve functions).';

-- log loss and Brier: a compensated sum and a count

CREATE FUNCTION @extschema@.cs_log_loss_trans(state bytea, score float8, label boolean)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_log_loss_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_log_loss_trans(bytea, float8, boolean) IS
    'Transition of cs_log_loss.';

CREATE FUNCTION @extschema@.cs_log_loss_combine(state bytea, other bytea)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_log_loss_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_log_loss_combine(bytea, bytea) IS
    'Combines two cs_log_loss states.';

CREATE FUNCTION @extschema@.cs_log_loss_final(state bytea)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_log_loss_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_log_loss_final(bytea) IS
    'Mean log loss of a cs_log_loss state; NULL without rows.';

CREATE AGGREGATE @extschema@.cs_log_loss(score float8, label boolean) (
    SFUNC = @extschema@.cs_log_loss_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_log_loss_final,
    COMBINEFUNC = @extschema@.cs_log_loss_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_log_loss(float8, boolean) IS
    'Mean log loss of probabilities against labels, probabilities clipped to [1e-15, 1 - 1e-15].';

CREATE AGGREGATE @extschema@.cs_log_loss_partial(score float8, label boolean) (
    SFUNC = @extschema@.cs_log_loss_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_partial_final,
    COMBINEFUNC = @extschema@.cs_log_loss_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_log_loss_partial(float8, boolean) IS
    'Partial state of cs_log_loss, for fan-out by hand: merge the parts with cs_log_loss_merge.';

CREATE AGGREGATE @extschema@.cs_log_loss_merge(state bytea) (
    SFUNC = @extschema@.cs_log_loss_combine, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_log_loss_final,
    COMBINEFUNC = @extschema@.cs_log_loss_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_log_loss_merge(bytea) IS
    'Mean log loss of several cs_log_loss_partial states.';

CREATE FUNCTION @extschema@.cs_brier_trans(state bytea, score float8, label boolean)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_brier_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_brier_trans(bytea, float8, boolean) IS
    'Transition of cs_brier.';

CREATE FUNCTION @extschema@.cs_brier_combine(state bytea, other bytea)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_brier_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_brier_combine(bytea, bytea) IS
    'Combines two cs_brier states.';

CREATE FUNCTION @extschema@.cs_brier_final(state bytea)
    RETURNS float8
    AS 'MODULE_PATHNAME', 'cs_brier_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_brier_final(bytea) IS
    'Brier score of a cs_brier state; NULL without rows.';

CREATE AGGREGATE @extschema@.cs_brier(score float8, label boolean) (
    SFUNC = @extschema@.cs_brier_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_brier_final,
    COMBINEFUNC = @extschema@.cs_brier_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_brier(float8, boolean) IS
    'Brier score: the mean of (probability - label)^2.';

CREATE AGGREGATE @extschema@.cs_brier_partial(score float8, label boolean) (
    SFUNC = @extschema@.cs_brier_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_partial_final,
    COMBINEFUNC = @extschema@.cs_brier_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_brier_partial(float8, boolean) IS
    'Partial state of cs_brier, for fan-out by hand: merge the parts with cs_brier_merge.';

CREATE AGGREGATE @extschema@.cs_brier_merge(state bytea) (
    SFUNC = @extschema@.cs_brier_combine, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_brier_final,
    COMBINEFUNC = @extschema@.cs_brier_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_brier_merge(bytea) IS
    'Brier score of several cs_brier_partial states.';

-- the confusion matrix at a threshold: score >= threshold predicts positive

CREATE FUNCTION @extschema@.cs_confusion_trans(state bytea, score float8, label boolean,
                                                threshold float8)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_confusion_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_confusion_trans(bytea, float8, boolean, float8) IS
    'Transition of cs_confusion.';

CREATE FUNCTION @extschema@.cs_confusion_trans(state bytea, score float8, label boolean)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_confusion_trans'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_confusion_trans(bytea, float8, boolean) IS
    'Transition of cs_confusion at threshold 0.5.';

CREATE FUNCTION @extschema@.cs_confusion_combine(state bytea, other bytea)
    RETURNS bytea
    AS 'MODULE_PATHNAME', 'cs_confusion_combine'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_confusion_combine(bytea, bytea) IS
    'Combines two cs_confusion states (of one threshold).';

CREATE FUNCTION @extschema@.cs_confusion_final(state bytea)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'cs_confusion_final'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_confusion_final(bytea) IS
    'The confusion matrix and threshold metrics of a cs_confusion state; NULL without rows.';

CREATE AGGREGATE @extschema@.cs_confusion(score float8, label boolean, threshold float8) (
    SFUNC = @extschema@.cs_confusion_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_confusion_final,
    COMBINEFUNC = @extschema@.cs_confusion_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_confusion(float8, boolean, float8) IS
    'Confusion matrix at a threshold (score >= threshold predicts positive) as jsonb: threshold, n, tp, fp, tn, fn, accuracy, precision, recall, specificity, f1.';

CREATE AGGREGATE @extschema@.cs_confusion(score float8, label boolean) (
    SFUNC = @extschema@.cs_confusion_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_confusion_final,
    COMBINEFUNC = @extschema@.cs_confusion_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_confusion(float8, boolean) IS
    'Confusion matrix at threshold 0.5 as jsonb (see cs_confusion(score, label, threshold)).';

CREATE AGGREGATE @extschema@.cs_confusion_partial(score float8, label boolean, threshold float8) (
    SFUNC = @extschema@.cs_confusion_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_partial_final,
    COMBINEFUNC = @extschema@.cs_confusion_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_confusion_partial(float8, boolean, float8) IS
    'Partial state of cs_confusion, for fan-out by hand: merge the parts with cs_confusion_merge.';

CREATE AGGREGATE @extschema@.cs_confusion_partial(score float8, label boolean) (
    SFUNC = @extschema@.cs_confusion_trans, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_partial_final,
    COMBINEFUNC = @extschema@.cs_confusion_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_confusion_partial(float8, boolean) IS
    'Partial state of cs_confusion at threshold 0.5.';

CREATE AGGREGATE @extschema@.cs_confusion_merge(state bytea) (
    SFUNC = @extschema@.cs_confusion_combine, STYPE = bytea, INITCOND = '',
    FINALFUNC = @extschema@.cs_confusion_final,
    COMBINEFUNC = @extschema@.cs_confusion_combine, PARALLEL = SAFE);
COMMENT ON AGGREGATE @extschema@.cs_confusion_merge(bytea) IS
    'Confusion matrix of several cs_confusion_partial states (of one threshold).';

-- every metric at once

CREATE FUNCTION @extschema@.cs_metrics(scores bytea, threshold float8 DEFAULT 0.5,
                                        cost_fn float8 DEFAULT 1, cost_fp float8 DEFAULT 1)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'cs_metrics'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_metrics(bytea, float8, float8, float8) IS
    'Every metric of cs_evaluate for the rows of a cs_scores_partial state (every row weighs 1 in the cost).';

CREATE FUNCTION @extschema@.cs_evaluate(model text, relation regclass,
                                         threshold float8 DEFAULT 0.5,
                                         cost_fn float8 DEFAULT 1, cost_fp float8 DEFAULT 1,
                                         amount_column text DEFAULT NULL)
    RETURNS jsonb
    AS 'MODULE_PATHNAME', 'cs_evaluate'
    LANGUAGE C STABLE PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cs_evaluate(text, regclass, float8, float8, float8, text) IS
    'Scores a relation with a model and returns every metric as jsonb (label: the model''s target and positive class). cost_fn is the cost of approving an applicant who defaults (a false negative), cost_fp of declining one who would have repaid (a false positive); with amount_column each row''s cost is multiplied by its amount. An applicant is approved when the score is below the threshold.';

-- curves, as rows a BI tool plots; each from (model, relation) or from a cs_scores_partial state

CREATE FUNCTION @extschema@.cs_roc_curve(model text, relation regclass,
                                          OUT fpr float8, OUT tpr float8, OUT threshold float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_roc_curve_relation'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cs_roc_curve(text, regclass) IS
    'ROC curve of a model on a relation: one row per distinct score (descending), after (0, 0) at threshold Infinity.';

CREATE FUNCTION @extschema@.cs_roc_curve(scores bytea,
                                          OUT fpr float8, OUT tpr float8, OUT threshold float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_roc_curve_scores'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_roc_curve(bytea) IS
    'ROC curve of the rows of a cs_scores_partial state.';

CREATE FUNCTION @extschema@.cs_pr_curve(model text, relation regclass,
                                         OUT recall float8, OUT "precision" float8,
                                         OUT threshold float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_pr_curve_relation'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cs_pr_curve(text, regclass) IS
    'Precision-recall curve of a model on a relation: one row per distinct score (descending), after recall 0, precision 1 at threshold Infinity.';

CREATE FUNCTION @extschema@.cs_pr_curve(scores bytea,
                                         OUT recall float8, OUT "precision" float8,
                                         OUT threshold float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_pr_curve_scores'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_pr_curve(bytea) IS
    'Precision-recall curve of the rows of a cs_scores_partial state.';

CREATE FUNCTION @extschema@.cs_calibration(model text, relation regclass, bins integer DEFAULT 10,
                                            OUT bin integer, OUT lower float8, OUT upper float8,
                                            OUT mean_predicted float8, OUT observed_rate float8,
                                            OUT count bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_calibration_relation'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cs_calibration(text, regclass, integer) IS
    'Reliability diagram of a model on a relation: equal-width bins of [0, 1] (lower < p <= upper; the first holds 0), each with its mean predicted probability and observed positive rate.';

CREATE FUNCTION @extschema@.cs_calibration(scores bytea, bins integer DEFAULT 10,
                                            OUT bin integer, OUT lower float8, OUT upper float8,
                                            OUT mean_predicted float8, OUT observed_rate float8,
                                            OUT count bigint)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_calibration_scores'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_calibration(bytea, integer) IS
    'Reliability diagram of the rows of a cs_scores_partial state.';

CREATE FUNCTION @extschema@.cs_lift(model text, relation regclass,
                                     OUT decile integer, OUT count bigint, OUT positives bigint,
                                     OUT rate float8, OUT lift float8, OUT cumulative_gain float8,
                                     OUT min_score float8, OUT max_score float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_lift_relation'
    LANGUAGE C STABLE STRICT PARALLEL RESTRICTED;
COMMENT ON FUNCTION @extschema@.cs_lift(text, regclass) IS
    'Lift and gains by decile of descending score (as ntile(10); tied scores stay in one decile): positive rate, lift over the overall rate, cumulative share of positives.';

CREATE FUNCTION @extschema@.cs_lift(scores bytea,
                                     OUT decile integer, OUT count bigint, OUT positives bigint,
                                     OUT rate float8, OUT lift float8, OUT cumulative_gain float8,
                                     OUT min_score float8, OUT max_score float8)
    RETURNS SETOF record
    AS 'MODULE_PATHNAME', 'cs_lift_scores'
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE;
COMMENT ON FUNCTION @extschema@.cs_lift(bytea) IS
    'Lift and gains by decile of the rows of a cs_scores_partial state.';

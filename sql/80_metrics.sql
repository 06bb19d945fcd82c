-- Metric aggregates over (score, label) for BI tools and ad-hoc SQL, checked
-- against scikit-learn and SciPy: test/reference/metrics_reference.py wrote
-- the figures of four fixed inputs (metrics_reference.json), which this file
-- loads; every figure must agree to 1e-9 (relative to max(1, |figure|)).
\getenv abs_srcdir PG_ABS_SRCDIR
CREATE TABLE metric_reference (doc jsonb);
\set mref :abs_srcdir '/test/reference/metrics_reference.json'
INSERT INTO metric_reference SELECT pg_read_file(:'mref')::jsonb;
-- agreement to 1e-9, relative to max(1, |expected|); NULL only matches NULL
CREATE FUNCTION agrees(got float8, expected float8) RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
    SELECT CASE WHEN got IS NULL OR expected IS NULL THEN got IS NULL AND expected IS NULL
                ELSE abs(got - expected) <= 1e-9 * greatest(1, abs(expected)) END $$;

-- the inputs, one row per case and position: hand-made ties, extreme
-- scores (0, 1, 0.1, 0.9, 0.5), 3,000 generated rows, the credit test split
CREATE TABLE metric_cases AS
SELECT c.key AS name, s.i::int AS i, s.score::float8 AS score,
       (c.value->'label'->>(s.i::int - 1))::int = 1 AS label,
       (c.value->'amount'->>(s.i::int - 1))::float8 AS amount
  FROM metric_reference, jsonb_each(doc->'cases') c,
       jsonb_array_elements_text(c.value->'score') WITH ORDINALITY AS s(score, i);
CREATE TABLE metric_expected AS
SELECT c.key AS name, c.value->'metrics'->'0.5' AS m, c.value AS doc
  FROM metric_reference, jsonb_each(doc->'cases') c;
SELECT name, count(*) AS rows, count(*) FILTER (WHERE label) AS positives,
       count(DISTINCT score) AS distinct_scores
  FROM metric_cases GROUP BY name ORDER BY name;

-- the aggregates, one group per case
CREATE TABLE metric_got AS
SELECT name, cs_auc(score, label) AS auc, cs_ks(score, label) AS ks,
       cs_log_loss(score, label) AS log_loss, cs_brier(score, label) AS brier,
       cs_confusion(score, label) AS confusion
  FROM metric_cases GROUP BY name;
SELECT name, round(auc::numeric, 6) AS auc, round(ks::numeric, 6) AS ks,
       round(log_loss::numeric, 6) AS log_loss, round(brier::numeric, 6) AS brier
  FROM metric_got ORDER BY name;
SELECT g.name,
       agrees(g.auc, (e.m->>'auc')::float8) AS auc_ok,
       agrees(g.ks, (e.m->>'ks')::float8) AS ks_ok,
       agrees(g.log_loss, (e.m->>'log_loss')::float8) AS log_loss_ok,
       agrees(g.brier, (e.m->>'brier')::float8) AS brier_ok,
       g.confusion - 'threshold' - 'n' - 'accuracy' - 'precision' - 'recall' - 'specificity' - 'f1'
           = e.m->'confusion' AS confusion_ok
  FROM metric_got g JOIN metric_expected e USING (name) ORDER BY name;

-- cs_confusion: the counts and the threshold metrics, at 0.5 and at a tied score (0.35)
SELECT jsonb_pretty(cs_confusion(score, label, 0.35)) AS at_0_35 FROM metric_cases WHERE name = 'hand_ties';
SELECT t.name, t.threshold,
       agrees((conf->>'accuracy')::float8, (ref->>'accuracy')::float8)
       AND agrees((conf->>'precision')::float8, (ref->>'precision')::float8)
       AND agrees((conf->>'recall')::float8, (ref->>'recall')::float8)
       AND agrees((conf->>'specificity')::float8, (ref->>'specificity')::float8)
       AND agrees((conf->>'f1')::float8, (ref->>'f1')::float8) AS rates_ok,
       conf->'tp' = ref->'confusion'->'tp' AND conf->'fp' = ref->'confusion'->'fp'
       AND conf->'tn' = ref->'confusion'->'tn' AND conf->'fn' = ref->'confusion'->'fn' AS counts_ok
  FROM (VALUES ('hand_ties', 0.5), ('hand_ties', 0.35), ('generated', 0.5), ('generated', 0.3),
               ('hand_extremes', 0.5), ('credit_test', 0.5)) AS t(name, threshold)
  CROSS JOIN LATERAL (SELECT cs_confusion(score, label, t.threshold) AS conf
                        FROM metric_cases c WHERE c.name = t.name) agg
  JOIN metric_expected e ON e.name = t.name
  CROSS JOIN LATERAL (SELECT e.doc->'metrics'->(t.threshold::text) AS ref) r
 ORDER BY 1, 2;

-- cs_metrics: every figure of cs_evaluate from a cs_scores_partial state
-- (costs 5 for approving a defaulter, 1 for declining a good payer)
CREATE TABLE metric_all AS
SELECT c.name, t.threshold, cs_metrics(cs_scores_partial(score, label), t.threshold, 5, 1) AS j
  FROM metric_cases c JOIN (VALUES ('hand_ties', 0.5), ('hand_ties', 0.35), ('hand_extremes', 0.5),
                            ('generated', 0.5), ('generated', 0.3), ('credit_test', 0.5))
                    AS t(name, threshold) USING (name)
 GROUP BY c.name, t.threshold;
SELECT jsonb_pretty(j) AS hand_ties FROM metric_all WHERE name = 'hand_ties' AND threshold = 0.5;
-- each number of the reference (metrics, error analysis, business at unit
-- weights), looked up at the same path in cs_metrics' output
WITH RECURSIVE leaves(name, threshold, path, value) AS (
    SELECT a.name, a.threshold, ARRAY[k.key], k.value
      FROM metric_all a JOIN metric_expected e USING (name),
           jsonb_each((e.doc->'metrics'->(a.threshold::text))
                      || jsonb_build_object('business',
                             e.doc->'business'->(a.threshold::text)->'unit')) k
    UNION ALL
    SELECT l.name, l.threshold, l.path || k.key, k.value
      FROM leaves l,
           LATERAL (SELECT o.key, o.value
                      FROM jsonb_each(CASE WHEN jsonb_typeof(l.value) = 'object' THEN l.value END) o
                    UNION ALL
                    SELECT (a.i - 1)::text, a.v
                      FROM jsonb_array_elements(CASE WHEN jsonb_typeof(l.value) = 'array' THEN l.value END)
                           WITH ORDINALITY a(v, i)) k)
SELECT l.name, l.threshold, count(*) AS figures,
       count(*) FILTER (WHERE NOT agrees((a.j #>> l.path)::float8, (l.value #>> '{}')::float8))
           AS disagreeing,
       string_agg(array_to_string(l.path, '.'), ', ' ORDER BY l.path)
           FILTER (WHERE NOT agrees((a.j #>> l.path)::float8, (l.value #>> '{}')::float8)) AS which
  FROM leaves l JOIN metric_all a USING (name, threshold)
 WHERE jsonb_typeof(l.value) IN ('number', 'null')
 GROUP BY 1, 2 ORDER BY 1, 2;
-- the figures above include the DeLong variance and 95% interval:
SELECT name, round((j->>'auc')::numeric, 4) AS auc, round((j->>'auc_var')::numeric, 8) AS auc_var,
       round((j->'auc_ci'->>0)::numeric, 4) AS ci_lo, round((j->'auc_ci'->>1)::numeric, 4) AS ci_hi,
       round((j->'business'->>'optimal_threshold')::numeric, 4) AS optimal_threshold
  FROM metric_all WHERE threshold = 0.5 ORDER BY name;

-- curves from a scores state: every point of scikit-learn's roc_curve
-- (drop_intermediate=False) and precision_recall_curve
CREATE TABLE metric_states AS SELECT name, cs_scores_partial(score, label) AS s FROM metric_cases GROUP BY name;
SELECT * FROM cs_roc_curve((SELECT s FROM metric_states WHERE name = 'hand_ties'));
SELECT * FROM cs_pr_curve((SELECT s FROM metric_states WHERE name = 'hand_ties')) LIMIT 4;
-- (the reference's points as rows, a NULL threshold standing for Infinity)
CREATE TABLE metric_reference_roc AS
SELECT e.name, r.k, r.fpr::float8 AS fpr, r.tpr::float8 AS tpr,
       coalesce(r.threshold::float8, 'Infinity') AS threshold
  FROM metric_expected e,
       ROWS FROM (jsonb_array_elements_text(e.doc->'roc'->'fpr'),
                  jsonb_array_elements_text(e.doc->'roc'->'tpr'),
                  jsonb_array_elements_text(e.doc->'roc'->'threshold'))
           WITH ORDINALITY AS r(fpr, tpr, threshold, k);
CREATE TABLE metric_reference_pr AS
SELECT e.name, r.k, r.recall::float8 AS recall, r.precision::float8 AS precision,
       coalesce(r.threshold::float8, 'Infinity') AS threshold
  FROM metric_expected e,
       ROWS FROM (jsonb_array_elements_text(e.doc->'pr'->'recall'),
                  jsonb_array_elements_text(e.doc->'pr'->'precision'),
                  jsonb_array_elements_text(e.doc->'pr'->'threshold'))
           WITH ORDINALITY AS r(recall, precision, threshold, k);
SELECT name, count(g.k) AS points, count(x.k) AS reference_points,
       count(*) FILTER (WHERE NOT coalesce(agrees(g.fpr, x.fpr) AND agrees(g.tpr, x.tpr)
                                           AND (g.threshold = x.threshold OR agrees(g.threshold, x.threshold)),
                                           false)) AS roc_disagreeing
  FROM (SELECT st.name, r.* FROM metric_states st, cs_roc_curve(st.s) WITH ORDINALITY AS r(fpr, tpr, threshold, k)) g
  FULL JOIN metric_reference_roc x USING (name, k)
 GROUP BY 1 ORDER BY 1;
SELECT name, count(g.k) AS points, count(x.k) AS reference_points,
       count(*) FILTER (WHERE NOT coalesce(agrees(g.recall, x.recall) AND agrees(g.precision, x.precision)
                                           AND (g.threshold = x.threshold OR agrees(g.threshold, x.threshold)),
                                           false)) AS pr_disagreeing
  FROM (SELECT st.name, r.* FROM metric_states st, cs_pr_curve(st.s) WITH ORDINALITY AS r(recall, precision, threshold, k)) g
  FULL JOIN metric_reference_pr x USING (name, k)
 GROUP BY 1 ORDER BY 1;

-- calibration: scikit-learn's equal-width bins (a score on an edge, 0.1 or
-- 0.9, belongs to the lower bin); empty bins are listed with NULL means
SELECT bin, round(lower::numeric, 2) AS lower, round(upper::numeric, 2) AS upper, round(mean_predicted::numeric, 4) AS mean_predicted,
       round(observed_rate::numeric, 4) AS observed_rate, count
  FROM cs_calibration((SELECT s FROM metric_states WHERE name = 'hand_extremes'));
SELECT st.name, count(*) AS bins,
       count(*) FILTER (WHERE NOT (agrees(c.lower, (b->>'lower')::float8) AND agrees(c.upper, (b->>'upper')::float8)
                                   AND agrees(c.mean_predicted, (b->>'mean_predicted')::float8)
                                   AND agrees(c.observed_rate, (b->>'observed_rate')::float8)
                                   AND c.count = (b->>'count')::bigint)) AS disagreeing
  FROM metric_states st JOIN metric_expected e USING (name), cs_calibration(st.s) c
  JOIN LATERAL (SELECT e.doc->'calibration'->(c.bin - 1) AS b) x ON true
 GROUP BY st.name ORDER BY 1;
SELECT count(*) AS bins_of_20 FROM cs_calibration((SELECT s FROM metric_states WHERE name = 'generated'), 20);

-- lift by decile (ntile(10) order; a run of tied scores stays in one decile)
SELECT decile, count, positives, round(rate::numeric, 4) AS rate, round(lift::numeric, 4) AS lift,
       round(cumulative_gain::numeric, 4) AS cumulative_gain, min_score, max_score
  FROM cs_lift((SELECT s FROM metric_states WHERE name = 'hand_ties'));
SELECT st.name, count(*) AS deciles,
       count(*) FILTER (WHERE NOT (l.count = (d->>'count')::bigint AND l.positives = (d->>'positives')::bigint
                                   AND agrees(l.rate, (d->>'rate')::float8) AND agrees(l.lift, (d->>'lift')::float8)
                                   AND agrees(l.cumulative_gain, (d->>'cumulative_gain')::float8)
                                   AND agrees(l.min_score, (d->>'min_score')::float8)
                                   AND agrees(l.max_score, (d->>'max_score')::float8))) AS disagreeing
  FROM metric_states st JOIN metric_expected e USING (name), cs_lift(st.s) l
  JOIN LATERAL (SELECT e.doc->'lift'->(l.decile - 1) AS d) x ON true
 GROUP BY st.name ORDER BY 1;
-- without ties the deciles are SQL's ntile(10)
SELECT count(*) AS deciles_equal_to_ntile
  FROM cs_lift((SELECT s FROM metric_states WHERE name = 'credit_test')) l
  JOIN (SELECT decile, count(*) AS n, count(*) FILTER (WHERE label) AS positives
          FROM (SELECT label, ntile(10) OVER (ORDER BY score DESC) AS decile
                  FROM metric_cases WHERE name = 'credit_test') t GROUP BY decile) n USING (decile)
 WHERE l.count = n.n AND l.positives = n.positives;

-- a forced parallel plan gives what a serial one gives: the generated case
-- repeated 40 times (120,000 rows; AUC, KS and the means are unchanged)
CREATE TABLE metric_big AS
SELECT c.score, c.label, r AS copy FROM metric_cases c, generate_series(1, 40) r WHERE c.name = 'generated';
ANALYZE metric_big;
CREATE TABLE metric_serial AS
SELECT cs_auc(score, label) AS auc, cs_ks(score, label) AS ks, cs_log_loss(score, label) AS log_loss,
       cs_brier(score, label) AS brier, cs_confusion(score, label) AS confusion,
       cs_metrics(cs_scores_partial(score, label)) AS metrics FROM metric_big;
SET parallel_setup_cost = 0;
SET parallel_tuple_cost = 0;
SET min_parallel_table_scan_size = 0;
SET max_parallel_workers_per_gather = 2;
SET parallel_leader_participation = off;
EXPLAIN (COSTS OFF)
SELECT cs_auc(score, label), cs_ks(score, label), cs_log_loss(score, label),
       cs_brier(score, label), cs_confusion(score, label) FROM metric_big;
-- (the workers ran the Partial Aggregate: the leader only combined)
CREATE FUNCTION workers_launched(query text) RETURNS int LANGUAGE plpgsql AS $$
DECLARE
    plan json;
BEGIN
    EXECUTE 'EXPLAIN (ANALYZE, FORMAT JSON) ' || query INTO plan;
    RETURN (plan->0->'Plan'->'Plans'->0->>'Workers Launched')::int;
END $$;
SELECT workers_launched('SELECT cs_auc(score, label), cs_log_loss(score, label) FROM metric_big') > 0
       AS ran_in_workers;
CREATE TABLE metric_parallel AS
SELECT cs_auc(score, label) AS auc, cs_ks(score, label) AS ks, cs_log_loss(score, label) AS log_loss,
       cs_brier(score, label) AS brier, cs_confusion(score, label) AS confusion,
       cs_metrics(cs_scores_partial(score, label)) AS metrics FROM metric_big;
RESET parallel_setup_cost;
RESET parallel_tuple_cost;
RESET min_parallel_table_scan_size;
RESET max_parallel_workers_per_gather;
RESET parallel_leader_participation;
SELECT p.auc = s.auc AS same_auc, p.ks = s.ks AS same_ks,
       abs(p.log_loss - s.log_loss) <= 1e-15 AS same_log_loss,
       abs(p.brier - s.brier) <= 1e-15 AS same_brier,
       p.confusion = s.confusion AS same_confusion, p.metrics = s.metrics AS same_metrics,
       agrees(p.auc, (e.m->>'auc')::float8) AS auc_is_reference,
       agrees(p.log_loss, (e.m->>'log_loss')::float8) AS log_loss_is_reference,
       p.confusion->>'n' AS n
  FROM metric_parallel p, metric_serial s, metric_expected e WHERE e.name = 'generated';

-- fan-out by hand: partial states per part, merged later (or elsewhere)
CREATE TABLE metric_parts AS
SELECT copy % 3 AS part, cs_auc_partial(score, label) AS auc, cs_ks_partial(score, label) AS ks,
       cs_log_loss_partial(score, label) AS log_loss, cs_brier_partial(score, label) AS brier,
       cs_confusion_partial(score, label) AS confusion, cs_scores_partial(score, label) AS scores
  FROM metric_big GROUP BY copy % 3;
SELECT part, octet_length(auc) AS auc_state_bytes, octet_length(log_loss) AS log_loss_state_bytes
  FROM metric_parts ORDER BY part;
SELECT cs_auc_merge(p.auc) = s.auc AS auc_merged, cs_ks_merge(p.ks) = s.ks AS ks_merged,
       abs(cs_log_loss_merge(p.log_loss) - s.log_loss) <= 1e-15 AS log_loss_merged,
       abs(cs_brier_merge(p.brier) - s.brier) <= 1e-15 AS brier_merged,
       cs_confusion_merge(p.confusion) = s.confusion AS confusion_merged,
       cs_metrics(cs_scores_merge(p.scores)) = s.metrics AS metrics_merged,
       cs_auc_merge(p.scores) = s.auc AS any_scores_state_merges
  FROM metric_parts p, metric_serial s GROUP BY s.auc, s.ks, s.log_loss, s.brier, s.confusion, s.metrics;

-- as window functions: a running AUC, and one per partition
SELECT i, label, score, round(cs_auc(score, label) OVER (ORDER BY i)::numeric, 4) AS running_auc
  FROM metric_cases WHERE name = 'hand_ties' ORDER BY i LIMIT 6;
SELECT DISTINCT name, cs_auc(score, label) OVER (PARTITION BY name) = g.auc AS same_as_group
  FROM metric_cases JOIN metric_got g USING (name) ORDER BY name;

-- NULL scores or labels are skipped; no rows (or only NULLs) give NULL, like sum()
SELECT cs_auc(score, label) = (SELECT auc FROM metric_got WHERE name = 'hand_ties') AS nulls_skipped
  FROM (SELECT score, label FROM metric_cases WHERE name = 'hand_ties'
        UNION ALL VALUES (NULL, true), (0.3, NULL)) t;
SELECT cs_auc(score, label) AS auc, cs_ks(score, label) AS ks, cs_log_loss(score, label) AS log_loss,
       cs_brier(score, label) AS brier, cs_confusion(score, label) AS confusion,
       cs_auc_partial(score, label) AS partial, cs_metrics(cs_scores_partial(score, label)) AS metrics
  FROM metric_cases WHERE false;
SELECT cs_auc(score, label) AS auc, cs_log_loss(score, label) IS NOT NULL AS log_loss
  FROM (VALUES (NULL::float8, true), (0.4, NULL)) t(score, label);
SELECT cs_auc_merge(s) AS auc FROM (VALUES (NULL::bytea)) t(s);
-- a single class: AUC and KS are undefined (NULL); the rest is not
SELECT cs_auc(score, label) AS auc, cs_ks(score, label) AS ks,
       round(cs_log_loss(score, label)::numeric, 6) AS log_loss,
       cs_confusion(score, label)->>'accuracy' AS accuracy
  FROM metric_cases WHERE name = 'hand_ties' AND NOT label;

-- bad input: each a specific ERROR
SELECT sqlstate_of($$SELECT cs_confusion(score, label, 1.5) FROM metric_cases$$);
SELECT sqlstate_of($$SELECT cs_confusion(score, label, -0.1) FROM metric_cases$$);
SELECT sqlstate_of($$SELECT cs_confusion(score, label, i / 10.0) FROM metric_cases WHERE name = 'hand_ties'$$);
SELECT sqlstate_of($$SELECT cs_confusion_merge(c) FROM (SELECT cs_confusion_partial(score, label, 0.5) c FROM metric_cases
                     UNION ALL SELECT cs_confusion_partial(score, label, 0.4) FROM metric_cases) t$$);
SELECT sqlstate_of($$SELECT cs_metrics(s, 1.5) FROM metric_states$$);
SELECT sqlstate_of($$SELECT cs_metrics(s, 0.5, -1, 1) FROM metric_states$$);
SELECT sqlstate_of($$SELECT cs_auc(score, label) FROM (VALUES ('NaN'::float8, true)) t(score, label)$$);
SELECT cs_auc(score, label) FROM (VALUES ('NaN'::float8, true)) t(score, label);
SELECT sqlstate_of($$SELECT cs_calibration(s, 0) FROM metric_states$$);
SELECT sqlstate_of($$SELECT cs_calibration(cs_scores_partial(score * 2, label)) FROM metric_cases$$);
-- a bytea that is not the right state (too short, another metric's, cut
-- short, a label byte of 7, all zeros): rejected, never read out of bounds
SELECT cs_auc_merge('\x0102'::bytea);
SELECT sqlstate_of($$SELECT cs_auc_merge(log_loss) FROM metric_parts$$);
SELECT cs_auc_merge(log_loss) FROM metric_parts;
SELECT sqlstate_of($$SELECT cs_auc_merge(substring(scores FROM 1 FOR 100)) FROM metric_parts$$);
SELECT sqlstate_of($$SELECT cs_log_loss_merge(substring(log_loss FROM 1 FOR 30)) FROM metric_parts$$);
SELECT cs_auc_merge(overlay(scores PLACING '\x07'::bytea FROM 29)) FROM metric_parts;
SELECT sqlstate_of($$SELECT * FROM cs_roc_curve('\x00000000000000000000000000000000000000000000'::bytea)$$);
-- an aggregate of one's own over these functions is checked the same way
CREATE AGGREGATE rogue_auc(float8, boolean) (SFUNC = cs_scores_trans, STYPE = bytea,
                                             INITCOND = '\x0102', FINALFUNC = cs_auc_final);
SELECT rogue_auc(score, label) FROM metric_cases;
DROP AGGREGATE rogue_auc(float8, boolean);
-- the transition functions belong to their aggregates
SELECT sqlstate_of($$SELECT cs_scores_trans('', 0.5, true)$$);
SELECT cs_scores_trans('', 0.5, true);

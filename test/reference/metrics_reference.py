"""Reference figures for credit_scoring's evaluation metrics, curves and business metrics.

Reproduces, with scikit-learn, SciPy and numpy, the definitions that src/core/evaluate.c and
src/core/curve.c implement and src/core/README.md ("Evaluation") documents:

  * threshold metrics (p >= threshold predicts positive): accuracy_score, precision_score,
    recall_score, f1_score (zero_division=0), specificity = recall of the negative class,
    confusion_matrix;
  * ranking metrics: roc_auc_score (ties count one half), Gini = 2 AUC - 1, KS = SciPy's
    ks_2samp statistic between the positive and the negative scores (cross-checked against
    max |TPR - FPR| over roc_curve's points);
  * log_loss (eps = 1e-15), brier_score_loss, RMSE and MAE of the probability;
  * the DeLong variance of the AUC, in numpy by the midrank algorithm of Sun & Xu (2014),
    cross-checked against a brute-force O(m n) structural-components computation, and the
    95% interval AUC -+ z sqrt(var), z = scipy.stats.norm.ppf(0.975), clipped to [0, 1];
  * error analysis (errors at the threshold, high-confidence when p <= 0.1 or p >= 0.9);
  * business metrics (approve when p < threshold; cost = cost_fn per approved defaulter +
    cost_fp per declined good payer, optionally times the row's amount) and the cost-minimising
    threshold, found by brute force over every candidate cut point;
  * curves: roc_curve and precision_recall_curve (all points), calibration_curve's uniform bins
    (all bins listed; the non-empty ones cross-checked against scikit-learn), lift by decile
    (ntile order, ties kept together; cross-checked on tie-free scores against numpy's
    array_split).

Inputs (all in the JSON, so the regression tests load them without Python):

  * hand_ties      15 hand-made rows with ties inside and across classes;
  * hand_extremes  12 rows with scores 0 and 1 (log-loss clipping), 0.1 and 0.9 (the confidence
                   boundaries) and 0.5 (the threshold itself);
  * generated      3,000 rows drawn from a seeded numpy generator, scores rounded to 3 decimals
                   (many ties), amounts 100..5000;
  * credit_test    the 668 test-split rows of credit_data.csv and the probabilities of the
                   reference logistic regression of test/reference/logreg_credit.json (seed 42,
                   L2, C = 1), i.e. what model credit_risk@1 scores them; their ids are the
                   table's (CSV row + 1) and their amount the table's `amount`.

Writes test/reference/metrics_reference.json (committed; the tests read it without Python).
Regenerate from the repository root with:

    /usr/bin/python3 test/reference/metrics_reference.py

(Debian's python3 with numpy 1.24, scikit-learn 1.2.1, scipy 1.10; the output is deterministic.)
"""

import json
import os
import sys

import numpy as np
import scipy
import scipy.stats
import sklearn
from sklearn.calibration import calibration_curve
from sklearn.metrics import (accuracy_score, brier_score_loss, confusion_matrix, f1_score,
                             log_loss, mean_absolute_error, mean_squared_error,
                             precision_recall_curve, precision_score, recall_score,
                             roc_auc_score, roc_curve)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT_PATH = os.path.join(HERE, "metrics_reference.json")
LOGREG_JSON = os.path.join(HERE, "logreg_credit.json")

sys.dont_write_bytecode = True      # no __pycache__ in the tree
sys.path.insert(0, HERE)
import logreg_reference as lr  # noqa: E402  (the split, schema and design definitions)

THRESHOLD = 0.5
COST_FN = 5.0        # approving a defaulter costs five times ...
COST_FP = 1.0        # ... what declining a good payer costs
LOW, HIGH = 0.1, 0.9  # high-confidence predictions: p <= 0.1 or p >= 0.9
Z95 = float(scipy.stats.norm.ppf(0.975))
N_BINS = 10
N_GROUPS = 10
EXACT = 1e-12        # how closely the cross-checks must agree

# ------------------------------------------------------------------- inputs


def hand_ties():
    score = [0.1, 0.1, 0.2, 0.35, 0.35, 0.35, 0.5, 0.5, 0.8, 0.9, 0.9, 0.95, 0.05, 0.6, 0.6]
    label = [0, 1, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1]
    amount = [1000, 2500, 800, 1200, 4000, 1500, 900, 3000, 2000, 700, 5000, 1100, 600, 2200,
              1800]
    return score, label, amount


def hand_extremes():
    score = [0.0, 1.0, 0.0, 1.0, 0.1, 0.9, 0.1, 0.9, 0.5, 0.5, 0.49, 0.75]
    label = [0, 1, 1, 0, 0, 1, 1, 0, 1, 0, 0, 1]
    amount = [100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1100, 1200]
    return score, label, amount


def generated():
    rng = np.random.default_rng(20240501)
    n = 3000
    label = (rng.random(n) < 0.28).astype(int)
    margin = -1.2 + 1.6 * label + rng.normal(0.0, 1.1, n)
    score = np.round(1.0 / (1.0 + np.exp(-margin)), 3)
    amount = rng.integers(100, 5001, n)
    return ([float(s) for s in score], [int(v) for v in label], [int(a) for a in amount])


def credit_test():
    """The test split of credit_data.csv (seed 42) and the reference model's P(bad)."""
    rows, labels = lr.load_csv(lr.CSV_PATH)
    features = [name for name, _ in lr.COLUMNS]
    kinds = [kind for _, kind in lr.COLUMNS]
    data = {f: [r[f] for r in rows] for f in features}
    hashes = [lr.row_hash([r[f] for f in features], kinds, int(labels[i]), 42)
              for i, r in enumerate(rows)]
    train, _, test = lr.stratified_split(hashes, labels)
    schema = lr.learn_schema(data, kinds, train)
    with open(LOGREG_JSON) as f:
        fit = json.load(f)["datasets"]["credit"]["seeds"]["42"]["fits"]["l2_C1"]
    test = sorted(test)
    X, _ = lr.design(schema, data, test)
    z = fit["intercept"] + X @ np.array(fit["coef"])
    prob = 1.0 / (1.0 + np.exp(-z))
    assert abs(roc_auc_score(labels[test], prob) - fit["test"]["auc"]) < EXACT
    return ([float(p) for p in prob], [int(labels[i]) for i in test],
            [int(rows[i]["amount"]) for i in test], [i + 1 for i in test])

# ------------------------------------------------------------------- DeLong


def midranks(x):
    """1-based ranks of x, tied values sharing their mean rank."""
    order = np.argsort(x, kind="mergesort")
    z = x[order]
    ranks = np.empty(len(x))
    i = 0
    while i < len(z):
        j = i
        while j < len(z) and z[j] == z[i]:
            j += 1
        ranks[i:j] = 0.5 * (i + j - 1) + 1.0
        i = j
    out = np.empty(len(x))
    out[order] = ranks
    return out


def delong_fast(pos, neg):
    """AUC and its DeLong variance by Sun & Xu's midranks, O((m + n) log(m + n))."""
    m, n = len(pos), len(neg)
    tx, ty = midranks(pos), midranks(neg)
    tz = midranks(np.concatenate([pos, neg]))
    auc = tz[:m].sum() / m / n - (m + 1.0) / (2.0 * n)
    v10 = (tz[:m] - tx) / n            # each positive: share of negatives below it
    v01 = 1.0 - (tz[m:] - ty) / m      # each negative: share of positives above it
    return auc, np.var(v10, ddof=1) / m + np.var(v01, ddof=1) / n


def delong_brute(pos, neg):
    """The same from the m x n kernel psi(X, Y) = [X > Y] + 0.5 [X = Y]."""
    psi = (pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])
    v10, v01 = psi.mean(axis=1), psi.mean(axis=0)
    return psi.mean(), np.var(v10, ddof=1) / len(pos) + np.var(v01, ddof=1) / len(neg)

# ------------------------------------------------------------------ metrics


def business(p, y, w, threshold):
    """Approval, default rate among the approved, costs, and the cost-minimising threshold."""
    approved = p < threshold
    fn_w = w[(y == 1) & approved].sum()
    fp_w = w[(y == 0) & ~approved].sum()
    total = COST_FN * fn_w + COST_FP * fp_w
    # candidates: every distinct score (approve p < s), and 1 when every score is below 1
    cands = list(np.unique(p))
    if p.max() < 1.0:
        cands.append(1.0)
    costs = [COST_FN * w[(y == 1) & (p < t)].sum() + COST_FP * w[(y == 0) & (p >= t)].sum()
             for t in cands]
    k = int(np.argmin(costs))          # the first minimum: the lowest threshold
    return {
        "approved": int(approved.sum()),
        "approval_rate": float(approved.mean()),
        "default_rate_approved": (float(y[approved].mean()) if approved.any() else None),
        "total_cost": float(total),
        "expected_cost": float(total / len(p)),
        "optimal_threshold": float(cands[k]),
        "optimal_total_cost": float(costs[k]),
        "optimal_expected_cost": float(costs[k] / len(p)),
        "optimal_approval_rate": float((p < cands[k]).mean()),
    }


def error_analysis(p, y, threshold):
    wrong = (p >= threshold).astype(int) != y
    confident = (p <= LOW) | (p >= HIGH)

    def band(mask):
        k = int((wrong & mask).sum())
        rows = int(mask.sum())
        return {"n": rows, "errors": k, "error_rate": k / rows if rows else None,
                "share_of_errors": k / int(wrong.sum()) if wrong.any() else None}
    return {"errors": int(wrong.sum()), "error_rate": float(wrong.mean()),
            "high_confidence": band(confident), "low_confidence": band(~confident)}


def metrics(p, y, threshold):
    pred = (p >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, pred, labels=[0, 1]).ravel()
    pos, neg = p[y == 1], p[y == 0]
    auc = roc_auc_score(y, p)
    auc_fast, var = delong_fast(pos, neg)
    auc_brute, var_brute = delong_brute(pos, neg)
    assert abs(auc_fast - auc) < EXACT and abs(auc_brute - auc) < EXACT
    assert abs(var - var_brute) < EXACT * max(1.0, var), (var, var_brute)
    ks = scipy.stats.ks_2samp(pos, neg).statistic
    fpr, tpr, _ = roc_curve(y, p, drop_intermediate=False)
    assert abs(ks - np.max(np.abs(tpr - fpr))) < EXACT
    sd = np.sqrt(var)
    return {
        "n": len(p),
        "n_positive": int(y.sum()),
        "threshold": threshold,
        "auc": float(auc),
        "gini": float(2 * auc - 1),
        "ks": float(ks),
        "accuracy": float(accuracy_score(y, pred)),
        "precision": float(precision_score(y, pred, zero_division=0)),
        "recall": float(recall_score(y, pred, zero_division=0)),
        "specificity": float(recall_score(y, pred, pos_label=0, zero_division=0)),
        "f1": float(f1_score(y, pred, zero_division=0)),
        "log_loss": float(log_loss(y, p, eps=1e-15, labels=[0, 1])),
        "brier": float(brier_score_loss(y, p)),
        "rmse": float(mean_squared_error(y, p, squared=False)),
        "mae": float(mean_absolute_error(y, p)),
        "auc_var": float(var),
        "auc_ci": [float(max(0.0, auc - Z95 * sd)), float(min(1.0, auc + Z95 * sd))],
        "confusion": {"tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn)},
        "error_analysis": error_analysis(p, y, threshold),
    }

# ------------------------------------------------------------------- curves


def roc(p, y):
    """All points, the first (predicting nothing) with threshold null (+inf in SQL)."""
    fpr, tpr, thr = roc_curve(y, p, drop_intermediate=False)
    return {"fpr": [float(v) for v in fpr], "tpr": [float(v) for v in tpr],
            "threshold": [None] + [float(v) for v in thr[1:]]}


def pr(p, y):
    """sklearn's points in descending threshold order, its end point (recall 0) first."""
    precision, recall, thr = precision_recall_curve(y, p)
    return {"recall": [float(v) for v in recall[::-1]],
            "precision": [float(v) for v in precision[::-1]],
            "threshold": [None] + [float(v) for v in thr[::-1]]}


def calibration(p, y):
    edges = np.linspace(0.0, 1.0, N_BINS + 1)
    ids = np.searchsorted(edges[1:-1], p)           # scikit-learn's uniform binning
    bins = []
    for b in range(N_BINS):
        m = ids == b
        bins.append({"bin": b + 1, "lower": float(edges[b]), "upper": float(edges[b + 1]),
                     "count": int(m.sum()),
                     "mean_predicted": float(p[m].mean()) if m.any() else None,
                     "observed_rate": float(y[m].mean()) if m.any() else None})
    prob_true, prob_pred = calibration_curve(y, p, n_bins=N_BINS, strategy="uniform")
    full = [b for b in bins if b["count"]]
    assert len(full) == len(prob_true)
    for b, t, q in zip(full, prob_true, prob_pred):
        assert abs(b["observed_rate"] - t) < EXACT and abs(b["mean_predicted"] - q) < EXACT
    return bins


def ntile(d, n, groups):
    q, r = divmod(n, groups)
    return d // (q + 1) if d < r * (q + 1) else r + (d - r * (q + 1)) // q


def lift(p, y):
    """Deciles by descending score as SQL's ntile(10), a run of ties in the decile of its
    first row."""
    order = np.lexsort((y, p))[::-1]                # descending (score, label)
    n = len(p)
    group = np.empty(n, dtype=int)
    d = 0
    while d < n:
        e = d
        while e < n and p[order[e]] == p[order[d]]:
            e += 1
        group[order[d:e]] = ntile(d, n, N_GROUPS)
        d = e
    rate_all = y.mean()
    out, cum = [], 0
    for g in range(N_GROUPS):
        m = group == g
        k = int(y[m].sum())
        cum += k
        rate = k / int(m.sum()) if m.any() else None
        out.append({"decile": g + 1, "count": int(m.sum()), "positives": k, "rate": rate,
                    "lift": rate / rate_all if rate is not None else None,
                    "cumulative_gain": cum / int(y.sum()),
                    "min_score": float(p[m].min()) if m.any() else None,
                    "max_score": float(p[m].max()) if m.any() else None})
    if len(np.unique(p)) == n:                      # no ties: plain equal-size chunks
        chunks = np.array_split(np.argsort(-p, kind="mergesort"), N_GROUPS)
        assert [len(c) for c in chunks] == [g["count"] for g in out]
        assert [int(y[c].sum()) for c in chunks] == [g["positives"] for g in out]
    return out

# --------------------------------------------------------------------- main


def case(name, score, label, amount, ids=None, thresholds=(THRESHOLD,)):
    p = np.array(score, dtype=np.float64)
    y = np.array(label, dtype=np.int64)
    w = np.array(amount, dtype=np.float64)
    out = {
        "name": name,
        "score": score,
        "label": label,
        "amount": amount,
        "metrics": {str(t): metrics(p, y, t) for t in thresholds},
        "business": {str(t): {"unit": business(p, y, np.ones(len(p)), t),
                              "amount": business(p, y, w, t)} for t in thresholds},
        "roc": roc(p, y),
        "pr": pr(p, y),
        "calibration": calibration(p, y),
        "lift": lift(p, y),
    }
    if ids is not None:
        out["id"] = ids
    m = out["metrics"][str(THRESHOLD)]
    print("%-14s n %5d  AUC %.6f [%.4f, %.4f]  KS %.4f  log loss %.6f  best threshold %.4f"
          % (name, len(p), m["auc"], m["auc_ci"][0], m["auc_ci"][1], m["ks"], m["log_loss"],
             out["business"][str(THRESHOLD)]["unit"]["optimal_threshold"]))
    return out


def main():
    score, label, amount, ids = credit_test()
    cases = [
        case("hand_ties", *hand_ties(), thresholds=(0.5, 0.35)),
        case("hand_extremes", *hand_extremes()),
        case("generated", *generated(), thresholds=(0.5, 0.3)),
        case("credit_test", score, label, amount, ids=ids),
    ]
    out = {
        "about": {
            "generator": "test/reference/metrics_reference.py",
            "regenerate": "/usr/bin/python3 test/reference/metrics_reference.py",
            "definitions": "src/core/README.md (Evaluation)",
            "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                         "scipy": scipy.__version__, "sklearn": sklearn.__version__},
            "costs": {"cost_fn": COST_FN, "cost_fp": COST_FP},
            "z95": Z95,
            "notes": [
                "metrics[threshold]: p >= threshold predicts positive (label 1 = default)",
                "business[threshold].unit: every row weighs 1; .amount: weighted by amount",
                "a threshold of null in roc/pr is the first point, predicting nothing (+inf)",
                "credit_test: the reference model's probabilities; the C model's agree to ~1e-9",
            ],
        },
        "cases": {c["name"]: c for c in cases},
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, indent=None, separators=(",", ":"), allow_nan=False)
        f.write("\n")
    print("wrote %s" % os.path.relpath(OUT_PATH, ROOT))


if __name__ == "__main__":
    main()

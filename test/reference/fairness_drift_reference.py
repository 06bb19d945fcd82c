"""Reference figures for credit_scoring's fairness and drift monitoring.

Computes, with numpy, SciPy and scikit-learn, what sql/90_fairness.sql and sql/91_drift.sql
compare the extension with, and writes test/reference/fairness_drift_reference.json
(committed; the tests do not run Python).  Regenerate from the repository root with

    /usr/bin/python3 test/reference/fairness_drift_reference.py

(Debian's python3 with numpy 1.24, SciPy 1.10, scikit-learn 1.2.1; the output is deterministic.)

Kolmogorov-Smirnov.  scipy.stats.ks_2samp(alternative='two-sided', method='auto') on samples
that the SQL suite regenerates exactly from integer formulas (no data in the JSON): for case c
and index i = 1..n,

    u      = ((i * a) mod m) / m                      (a, m integers; IEEE division)
    x      = sqrt(u) if transform = 'sqrt' else u
    value  = x * scale + shift                        (shift on the current side only)
    value  = floor(value / step) * step               when step > 0 (ties)

Cases cover the exact distribution (max(n1, n2) <= 10000, equal and unequal sizes) and the
asymptotic one (kstwo) in each of SciPy's regions: small effective n (Durbin matrix, Pomeranz),
Durbin for n <= 100000, Pelz-Good above, and the Smirnov tail for large D.

Fairness.  fairlearn and AIF360 are not packaged for Debian, so their definitions are written
out in numpy, with approval as the favourable outcome (y_pred = approved) and "did not
default" as the truly good label (y_true = 1 - defaulted), as fairlearn would be called:

  * per group (fairlearn.metrics.MetricFrame with selection_rate, true_positive_rate,
    false_positive_rate, precision_score): selection rate = mean(y_pred); TPR = TP / (TP + FN);
    FPR = FP / (FP + TN); precision = TP / (TP + FP);
  * fairlearn.metrics.demographic_parity_difference / _ratio (method='between_groups'):
    max - min and min / max of the selection rates; equal_opportunity_difference = max - min
    TPR (fairlearn's true_positive_rate_difference); equalized_odds_difference = max of the
    TPR and FPR differences;
  * AIF360 ClassificationMetric.statistical_parity_difference and .disparate_impact with the
    privileged group named and every other row unprivileged: P(approved | unprivileged) -
    P(approved | privileged), and their ratio;
  * the four-fifths rule (29 CFR 1607.4(D)): each group's selection rate / the reference
    group's >= 0.8, the reference being the privileged group, else the highest selection rate.

Drift.  The training profile and the comparisons of src/core/profile.c, re-implemented from
their definition (README "Fairness and drift"): decile edges v[ceil(k m / 10)] of the sorted
non-missing training values (ties removed), bins (e_i, e_i+1], a missing bin (and an unseen bin
for categorical features); an ECDF of every distinct value when there are at most 1,000, else
the values at ranks ceil(k m / 1000) with their cumulative counts; KS = ks_2samp of the
current non-missing values against the training sample the ECDF describes (every value moved
up to the next kept point); PSI = sum (a - e) ln(a / e) over proportions floored at 1e-4.

The model is the logistic regression of test/reference/logreg_reference.py (its split, schema
and design are imported from it) trained on `credit` without `id` and `marital`, so that
`marital` is a sensitive attribute the model never saw.  Scores agree with the C core to about
1e-7, so figures built on scores (approvals, the score's profile and drift, performance) are
exact only when no score lies within 1e-6 of a decision boundary; the script records those
margins and the tests compare these figures with the tolerance they allow.
"""

import json
import math
import os
import sys

import numpy as np
import scipy
import sklearn
from scipy import stats
from sklearn.metrics import log_loss, roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
OUT_PATH = os.path.join(HERE, "fairness_drift_reference.json")
sys.path.insert(0, HERE)
import logreg_reference as lr  # noqa: E402  (the split, schema and design definitions)

BINS = 10
POINTS = 1000
PSI_FLOOR = 1e-4
EXCLUDED = ["marital"]        # besides id: the sensitive attribute the model does not see
THRESHOLD = 0.5               # approved when P(bad) < threshold

# ------------------------------------------------------------ Kolmogorov-Smirnov

KS_CASES = [
    # name, n1, n2, a1, a2, m, transform, scale, shift, step
    ("tiny", 8, 6, 37, 53, 101, "id", 1.0, 0.3, 0.0),
    ("small_ties", 30, 45, 7919, 104729, 10007, "id", 20.0, 2.0, 1.0),
    ("equal_sizes", 200, 200, 7919, 104729, 10007, "sqrt", 1.0, 0.05, 0.0),
    ("medium_ties", 3000, 4000, 7919, 104729, 10007, "sqrt", 100.0, 3.0, 1.0),
    ("exact_limit", 10000, 9999, 7919, 104729, 10007, "id", 1.0, 0.02, 0.0),
    ("large_ties", 12000, 15000, 7919, 104729, 10007, "sqrt", 50.0, 1.0, 0.5),
    ("large_vs_small", 20000, 60, 7919, 104729, 10007, "id", 1.0, 0.1, 0.0),
    ("large_same", 15000, 15000, 7919, 104729, 100003, "id", 1.0, 0.0, 0.0),
    ("pelz_good", 250000, 250000, 7919, 104729, 1000003, "sqrt", 1.0, 0.002, 0.0),
    ("smirnov_tail", 250000, 250000, 7919, 104729, 1000003, "sqrt", 1.0, 0.01, 0.0),
]


def ks_sample(case, current):
    name, n1, n2, a1, a2, m, transform, scale, shift, step = case
    n, a = (n2, a2) if current else (n1, a1)
    i = np.arange(1, n + 1, dtype=np.int64)
    u = ((i * a) % m).astype(np.float64) / float(m)
    x = np.sqrt(u) if transform == "sqrt" else u
    v = x * scale + (shift if current else 0.0)
    if step > 0:
        v = np.floor(v / step) * step
    return v


def ks_cases():
    out = []
    for case in KS_CASES:
        ref, cur = ks_sample(case, False), ks_sample(case, True)
        r = stats.ks_2samp(ref, cur, method="auto")
        name, n1, n2, a1, a2, m, transform, scale, shift, step = case
        out.append({
            "name": name, "n1": n1, "n2": n2, "a1": a1, "a2": a2, "m": m,
            "transform": transform, "scale": scale, "shift": shift, "step": step,
            "method": "exact" if max(n1, n2) <= 10000 else "asymp",
            "distinct": int(len(np.unique(np.concatenate([ref, cur])))),
            "statistic": float(r.statistic), "p_value": float(r.pvalue),
        })
    return out

# ---------------------------------------------------------------------- fairness


def fairness(groups, approved, defaulted, privileged=None):
    """The figures of cs_fairness, from the definitions in the module docstring.
    groups: labels (None = the NULL group); approved, defaulted: 0/1 arrays."""
    groups = np.array([("\x00NULL" if g is None else g) for g in groups], dtype=object)
    y_pred = np.asarray(approved, dtype=np.int64)
    y_true = 1 - np.asarray(defaulted, dtype=np.int64)        # good payer
    names = sorted(set(groups), key=lambda s: (s == "\x00NULL", s.encode("utf-8")))
    rows = []
    for g in names:
        sel = groups == g
        yt, yp = y_true[sel], y_pred[sel]
        tp = int(np.sum((yt == 1) & (yp == 1)))
        fp = int(np.sum((yt == 0) & (yp == 1)))
        good, bad = int(np.sum(yt == 1)), int(np.sum(yt == 0))
        rows.append({
            "group": None if g == "\x00NULL" else g,
            "count": int(sel.sum()), "approved": int(yp.sum()), "good": good, "bad": bad,
            "selection_rate": float(np.mean(yp)),
            "true_positive_rate": tp / good if good else None,
            "false_positive_rate": fp / bad if bad else None,
            "precision": tp / (tp + fp) if tp + fp else None,
        })

    def spread(key):
        vals = [r[key] for r in rows if r[key] is not None]
        return (max(vals) - min(vals)) if vals else None

    sels = [r["selection_rate"] for r in rows]
    out = {
        "demographic_parity_difference": max(sels) - min(sels),
        "demographic_parity_ratio": min(sels) / max(sels) if max(sels) > 0 else None,
        "equal_opportunity_difference": spread("true_positive_rate"),
    }
    tpr_d, fpr_d = spread("true_positive_rate"), spread("false_positive_rate")
    out["equalized_odds_difference"] = max(v for v in (tpr_d, fpr_d) if v is not None)
    if privileged is not None:
        ref = next(i for i, r in enumerate(rows) if r["group"] == privileged)
    else:
        ref = max(range(len(rows)), key=lambda i: (sels[i], -i))
    ref_rate = rows[ref]["selection_rate"]
    for r in rows:
        r["impact_ratio"] = r["selection_rate"] / ref_rate if ref_rate > 0 else None
        r["parity_difference"] = r["selection_rate"] - ref_rate
        # exact: approved_g / n_g >= 0.8 approved_ref / n_ref
        r["passes_four_fifths"] = (5 * r["approved"] * rows[ref]["count"]
                                   >= 4 * rows[ref]["approved"] * r["count"]) if ref_rate > 0 else None
    out["reference_group"] = rows[ref]["group"]
    out["four_fifths_rule"] = all(r["passes_four_fifths"] for r in rows)
    if privileged is not None:
        un = groups != privileged
        p_un, p_priv = float(np.mean(y_pred[un])), ref_rate
        out["privileged_group"] = privileged
        out["statistical_parity_difference"] = p_un - p_priv
        out["disparate_impact"] = p_un / p_priv
    out["groups"] = rows
    return out


def synthetic_decisions():
    """Fixed decisions of 1,000 applicants in six intersectional groups (sex/age band)."""
    rng = np.random.default_rng(20241125)
    sexes = rng.choice(["F", "M"], size=1000, p=[0.45, 0.55])
    bands = rng.choice(["<30", "30-49", "50+"], size=1000, p=[0.3, 0.5, 0.2])
    base = {"F": 0.62, "M": 0.74}
    shift = {"<30": -0.12, "30-49": 0.05, "50+": 0.0}
    p_approve = np.array([base[s] + shift[b] for s, b in zip(sexes, bands)])
    approved = (rng.random(1000) < p_approve).astype(int)
    p_default = np.where(approved == 1, 0.12, 0.35) + np.where(bands == "<30", 0.08, 0.0)
    defaulted = (rng.random(1000) < p_default).astype(int)
    labels = ["%s/%s" % (s, b) for s, b in zip(sexes, bands)]
    return labels, [str(s) for s in sexes], approved, defaulted

# ------------------------------------------------------------------------ drift


def dist_profile(values):
    """Edges, bin counts and ECDF (points, cum) of the non-missing values (profile.c)."""
    v = np.sort(np.array([x for x in values if x is not None], dtype=np.float64))
    m = len(v)
    edges = []
    for k in range(1, BINS):
        e = float(v[(k * m + BINS - 1) // BINS - 1]) if m else None
        if m and (not edges or e > edges[-1]):
            edges.append(e)
    idx = np.searchsorted(edges, v, side="left")           # bin = edges strictly below
    counts = [int(np.sum(idx == b)) for b in range(len(edges) + 1)]
    distinct = np.unique(v)
    if len(distinct) <= POINTS:
        points = [float(x) for x in distinct]
    else:
        points = []
        for k in range(1, POINTS + 1):
            x = float(v[(k * m + POINTS - 1) // POINTS - 1])
            if not points or x > points[-1]:
                points.append(x)
    cum = [int(np.searchsorted(v, p, side="right")) for p in points]
    return {"edges": edges, "counts": counts, "ecdf": {"points": points, "cum": cum}}


def numeric_profile(values):
    p = {"n": len(values), "missing": sum(x is None for x in values)}
    p.update(dist_profile(values))
    return p


def categorical_profile(values, levels):
    return {"n": len(values), "missing": sum(x is None for x in values),
            "unseen": sum(x is not None and x not in levels for x in values),
            "levels": levels, "counts": [sum(x == lv for x in values) for lv in levels]}


def psi(expected, actual, n_e, n_a):
    total = 0.0
    for e, a in zip(expected, actual):
        e, a = max(e / n_e, PSI_FLOOR), max(a / n_a, PSI_FLOOR)
        total += (a - e) * math.log(a / e)
    return total


def psi_verdict(x):
    return "stable" if x < 0.1 else ("investigate" if x < 0.25 else "shifted")


def compare(prof, values, kind):
    """The report row of one feature (or the score) for the current values."""
    n = len(values)
    missing = sum(x is None for x in values)
    row = {"n_reference": prof["n"], "n_current": n}
    if kind == "numeric":
        present = np.array([x for x in values if x is not None], dtype=np.float64)
        idx = np.searchsorted(prof["edges"], present, side="left")
        bins = [int(np.sum(idx == b)) for b in range(len(prof["edges"]) + 1)]
        row["psi"] = psi(prof["counts"], bins, prof["n"], n) + \
            psi([prof["missing"]], [missing], prof["n"], n)
        pts, cum = prof["ecdf"]["points"], prof["ecdf"]["cum"]
        if cum and cum[-1] >= 2 and len(present) >= 2:
            pseudo = np.repeat(pts, np.diff([0] + cum))
            r = stats.ks_2samp(pseudo, present, method="auto")
            row["ks_statistic"], row["p_value"] = float(r.statistic), float(r.pvalue)
        else:
            row["ks_statistic"] = row["p_value"] = None
    else:
        levels = prof["levels"]
        bins = [sum(x == lv for x in values) for lv in levels]
        unseen = sum(x is not None and x not in levels for x in values)
        row["psi"] = psi(prof["counts"], bins, prof["n"], n) + \
            psi([prof["missing"], prof["unseen"]], [missing, unseen], prof["n"], n)
        row["ks_statistic"] = row["p_value"] = None
    row["verdict"] = psi_verdict(row["psi"])
    return row


def margin(scores, cuts):
    """Smallest distance between a score and a cut (edge or ECDF point)."""
    cuts = np.sort(np.asarray(cuts, dtype=np.float64))
    s = np.asarray(scores, dtype=np.float64)
    i = np.clip(np.searchsorted(cuts, s), 1, len(cuts) - 1)
    return float(np.min(np.minimum(np.abs(s - cuts[i - 1]), np.abs(s - cuts[i]))))


def performance(p, y):
    return {"auc": float(roc_auc_score(y, p)),
            "accuracy": float(np.mean((p >= 0.5) == (y == 1))),
            "log_loss": float(log_loss(y, p, labels=[0, 1])),
            "brier": float(np.mean((p - y) ** 2))}

# -------------------------------------------------------------------- the model


def credit_model():
    rows, labels = lr.load_csv(lr.CSV_PATH)
    features = [n for n, _ in lr.COLUMNS if n not in EXCLUDED]
    kinds = [dict(lr.COLUMNS)[n] for n in features]
    data = {n: [r[n] for r in rows] for n in features}
    hashes = [lr.row_hash([r[f] for f in features], kinds, int(labels[i]), 42)
              for i, r in enumerate(rows)]
    parts = lr.stratified_split(hashes, labels)
    schema = lr.learn_schema(data, kinds, parts[0])
    X_train, _ = lr.design(schema, data, parts[0])
    model, _ = lr.sk_fit(X_train, labels[parts[0]].astype(np.float64), "l2", 1.0,
                         lr.SOLVER)
    X_all, _ = lr.design(schema, data, list(range(len(rows))))
    prob = model.predict_proba(X_all)[:, 1]
    return rows, labels, features, kinds, schema, parts, prob


def drift_report(prof_features, prof_score, schema, rows, labels, prob, idx, override=None):
    """Expected rows of cs_drift_report for the relation made of rows idx (CSV order)."""
    out = {"features": {}}
    for f, pf in zip(schema, prof_features):
        vals = [rows[i][f["name"]] for i in idx]
        if override and f["name"] in override:
            vals = [override[f["name"]](i, rows[i][f["name"]]) for i in idx]
        out["features"][f["name"]] = compare(pf, vals, f["kind"])
    out["prediction"] = compare(prof_score, [float(prob[i]) for i in idx], "numeric")
    out["performance"] = performance(prob[idx], labels[idx])
    pts = prof_score["ecdf"]["points"] + prof_score["edges"]
    out["score_margin"] = margin(prob[idx], pts)
    out["accuracy_margin"] = float(np.min(np.abs(prob[idx] - 0.5)))
    return out


def main():
    summary = []
    ks = ks_cases()
    for c in ks:
        summary.append("ks %-15s n %6d/%6d %s: D %.6f p %.6g" % (
            c["name"], c["n1"], c["n2"], c["method"], c["statistic"], c["p_value"]))

    labels_sx, sexes, approved, defaulted = synthetic_decisions()
    synthetic = {
        "rows": [[g, int(a), int(d)] for g, a, d in zip(labels_sx, approved, defaulted)],
        "by_intersection": fairness(labels_sx, approved, defaulted),
        "by_intersection_privileged": fairness(labels_sx, approved, defaulted, "M/30-49"),
        "by_sex_privileged": fairness(sexes, approved, defaulted, "M"),
    }

    rows, labels, features, kinds, schema, parts, prob = credit_model()
    approved_c = (prob < THRESHOLD).astype(int)
    marital = [r["marital"] for r in rows]

    def band(age):
        return "<30" if age < 30 else ("30-49" if age < 50 else "50+")
    inter = ["%s/%s" % ("NULL" if r["marital"] is None else r["marital"], band(r["age"]))
             for r in rows]
    credit_fair = {
        "model": {"exclude": ["id"] + EXCLUDED, "threshold": THRESHOLD},
        "approval_margin": float(np.min(np.abs(prob - THRESHOLD))),
        "by_marital": fairness(marital, approved_c, labels),
        "by_marital_privileged": fairness(marital, approved_c, labels, "married"),
        "by_marital_age_privileged": fairness(inter, approved_c, labels, "married/30-49"),
    }
    summary.append("credit fairness: approval margin %.3g, marital DPD %.6f"
                   % (credit_fair["approval_margin"],
                      credit_fair["by_marital"]["demographic_parity_difference"]))

    train = parts[0]
    prof_features = []
    for f in schema:
        vals = [rows[i][f["name"]] for i in train]
        p = {"name": f["name"], "kind": f["kind"]}
        if f["kind"] == "numeric":
            p.update(numeric_profile(vals))
        else:
            p.update(categorical_profile(vals, f["levels"]))
        prof_features.append(p)
    prof_score = numeric_profile([float(prob[i]) for i in train])

    all_rows = list(range(len(rows)))
    young = [i for i in all_rows if rows[i]["age"] < 30]

    def castle(i, v):
        return "castle" if (i + 1) % 10 == 0 else v
    drift = {
        "profile": {"version": 1, "n": len(train), "bins": BINS, "points": POINTS,
                    "features": prof_features, "score": prof_score},
        "reports": {
            "credit": drift_report(prof_features, prof_score, schema, rows, labels, prob,
                                   all_rows),
            "credit_young": drift_report(prof_features, prof_score, schema, rows, labels, prob,
                                         young),
        },
        "unseen_home": compare(prof_features[features.index("home")],
                               [castle(i, rows[i]["home"]) for i in all_rows], "categorical"),
        "income_all_null": compare(prof_features[features.index("income")],
                                   [None] * len(rows), "numeric"),
    }
    for name, rep in drift["reports"].items():
        summary.append("drift %-13s score margin %.3g, accuracy margin %.3g, age PSI %.4f" % (
            name, rep["score_margin"], rep["accuracy_margin"],
            rep["features"]["age"]["psi"]))

    out = {
        "about": {
            "generator": "test/reference/fairness_drift_reference.py",
            "regenerate": "/usr/bin/python3 test/reference/fairness_drift_reference.py",
            "definitions": "README.md, \"Fairness and drift\"; this script's docstring",
            "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                         "scipy": scipy.__version__, "sklearn": sklearn.__version__},
            "notes": [
                "ks: inputs regenerated in SQL from the integer formula of the docstring",
                "fairness rows: [group, approved, defaulted]; groups sorted bytewise, NULL last",
                "credit rows are CSV data rows, id = row + 1; the model excludes id and marital",
                "margins: smallest distance of a score to a boundary; above 1e-6 the C core "
                "(scores within ~1e-7 of scikit-learn's) takes the same side",
            ],
        },
        "ks": ks,
        "fairness": {"synthetic": synthetic, "credit": credit_fair},
        "drift": drift,
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")
    summary.append("wrote %s" % os.path.relpath(OUT_PATH, ROOT))
    print("\n".join(summary))


if __name__ == "__main__":
    main()

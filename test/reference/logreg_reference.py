"""Reference figures for credit_scoring's logistic regression on test/data/credit_data.csv.

Reproduces, in plain Python + numpy + scikit-learn, the definitions that the C core
implements and documents in src/core/README.md:

  * the row hash (splitmix64 mixer, FNV-1a 64 of category text, IEEE-754 bits of numbers),
  * the seeded stratified 70/15/15 split (per class sorted by (hash, row index)),
  * the feature schema learned on the training split (mean, population sd, levels by
    training frequency desc with bytewise ties, has_missing),
  * the linear (design) encoding (standardised numerics, `name:missing` indicators,
    k-1 one-hot `name=level` columns, unseen level -> all zeros),
  * the logistic-regression objective of scikit-learn's LogisticRegression.

The data are seen as the database sees them: table `credit` with lower-cased column names in
CSV order, empty CSV fields are NULL (missing), target `status` with positive class 'bad'.

Fits.  The reference fit is scikit-learn's LogisticRegression with solver='newton-cholesky'
(tol 1e-12).  It is cross-checked against an independent numpy Newton/IRLS iteration (must
agree to 1e-6 relative, asserted) and against solver='lbfgs' (tol 1e-12, reported only):
sklearn 1.2 does not pass `ftol` to scipy's L-BFGS-B, which therefore stops on a relative
objective decrease of 2.2e-9 and leaves coefficients off by up to ~1e-2 relative here.

Penalty none on `credit` has no finite optimum: single-row indicator columns such as
`marital:missing` and `job:missing` separate their row's class in the training split
(quasi-complete separation), so the C core must fail with CS_ERR_NUMERIC.  The JSON records
that expected failure and the separating columns, and adds a well-posed unpenalised case on
`credit_numeric`: the same CSV restricted to status and the numeric columns (its own hash,
split and schema), e.g.
    CREATE VIEW credit_numeric AS SELECT status, seniority, time, age, expenses, income,
                                         assets, debt, amount, price FROM credit;

Writes test/reference/logreg_credit.json (committed; the regular tests read it without Python).
Regenerate from the repository root with:

    /usr/bin/python3 test/reference/logreg_reference.py

(Debian's python3 with numpy 1.24, scikit-learn 1.2.1, scipy 1.10; the output is deterministic.)
"""

import csv
import json
import os
import struct
import sys
import warnings

import numpy as np
import scipy
import scipy.linalg
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import log_loss, roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CSV_PATH = os.path.join(ROOT, "test", "data", "credit_data.csv")
OUT_PATH = os.path.join(HERE, "logreg_credit.json")

TARGET = "status"
POSITIVE = "bad"          # label 1
NEGATIVE = "good"         # label 0
# the table `credit`, in CSV order, without the target: (name, kind)
COLUMNS = [
    ("seniority", "numeric"),
    ("home", "categorical"),
    ("time", "numeric"),
    ("age", "numeric"),
    ("marital", "categorical"),
    ("records", "categorical"),
    ("job", "categorical"),
    ("expenses", "numeric"),
    ("income", "numeric"),
    ("assets", "numeric"),
    ("debt", "numeric"),
    ("amount", "numeric"),
    ("price", "numeric"),
]
DATASETS = [              # name, features, seeds (42 is the default seed)
    ("credit", [n for n, _ in COLUMNS], [42, 7]),
    ("credit_numeric", [n for n, k in COLUMNS if k == "numeric"], [42]),
]
N_SHOW = 20               # CSV rows 0..N_SHOW-1 get per-row probabilities
N_HASH = 10               # CSV rows 0..N_HASH-1 get their row hash listed
N_ROWS_LIST = 20          # first row indices of each split part
FITS = [                  # name, LogisticRegression penalty, C
    ("l2_C1", "l2", 1.0),
    ("l2_C0.1", "l2", 0.1),
    ("none", None, None),
]
SOLVER = "newton-cholesky"
SK_TOL = 1e-12
SK_MAX_ITER = 100000
AGREE_RTOL = 1e-6         # sklearn vs numpy Newton, elementwise relative

# ------------------------------------------------------------------ row hash

M64 = 0xFFFFFFFFFFFFFFFF
MISSING_BITS = 0x7FF8000000000000
CATEGORY_XOR = 0x5BD1E9955BD1E995


def mix64(z):
    """splitmix64 finaliser, uint64 arithmetic."""
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def fnv1a64(data):
    h = 0xCBF29CE484222325
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & M64
    return h


def double_bits(x):
    if x == 0.0:
        x = 0.0                       # -0.0 taken as +0.0
    return struct.unpack("<Q", struct.pack("<d", x))[0]


def row_hash(values, kinds, label, seed):
    """values: one per feature in dataset order (float, str, or None = missing)."""
    h = mix64(seed & M64)
    for kind, v in zip(kinds, values):
        if v is None:
            bits = MISSING_BITS
        elif kind == "numeric":
            bits = double_bits(v)
        else:
            bits = fnv1a64(v.encode("utf-8")) ^ CATEGORY_XOR
        h = mix64(h ^ bits)
    return mix64(h ^ label)


def as_int64(u):
    return u - (1 << 64) if u >= (1 << 63) else u

# --------------------------------------------------------------------- data


def load_csv(path):
    """Rows as dicts column -> float / str / None, and the 0/1 labels."""
    kinds = dict(COLUMNS)
    with open(path, newline="") as f:
        reader = csv.reader(f)
        header = [c.lower() for c in next(reader)]
        if header != [TARGET] + [n for n, _ in COLUMNS]:
            sys.exit("unexpected CSV header: %r" % header)
        rows, labels = [], []
        for rec in reader:
            if rec[0] not in (POSITIVE, NEGATIVE):
                sys.exit("unexpected %s %r" % (TARGET, rec[0]))
            labels.append(1 if rec[0] == POSITIVE else 0)
            row = {}
            for name, s in zip(header[1:], rec[1:]):
                if s == "":
                    row[name] = None
                elif kinds[name] == "numeric":
                    row[name] = float(int(s))
                else:
                    row[name] = s
            rows.append(row)
    return rows, np.array(labels, dtype=np.int64)

# -------------------------------------------------------------------- split


def stratified_split(hashes, labels):
    """[train, valid, test] lists of row indices, each sorted by (hash, row)."""
    parts = [[], [], []]
    for c in (0, 1):
        rows = sorted((i for i in range(len(labels)) if labels[i] == c),
                      key=lambda i: (hashes[i], i))
        n = len(rows)
        n_train = (7 * n + 5) // 10
        n_valid = (15 * n + 50) // 100
        parts[0] += rows[:n_train]
        parts[1] += rows[n_train:n_train + n_valid]
        parts[2] += rows[n_train + n_valid:]
    return [sorted(p, key=lambda i: (hashes[i], i)) for p in parts]

# ------------------------------------------------------------ schema, design


def learn_schema(data, kinds, train):
    """data: per feature, the list of values of all rows."""
    schema = []
    for (name, vals), kind in zip(data.items(), kinds):
        present = [vals[i] for i in train if vals[i] is not None]
        f = {"name": name, "kind": kind, "has_missing": len(present) < len(train)}
        if kind == "numeric":
            x = np.array(present, dtype=np.float64)
            sd = float(np.std(x))             # population sd (ddof 0)
            f["mean"] = float(np.mean(x))
            f["sd"] = sd if sd > 0 else 1.0
        else:
            counts = {}
            for v in present:
                counts[v] = counts.get(v, 0) + 1
            # frequency desc, ties bytewise (Python bytes order = memcmp, shorter first)
            f["levels"] = sorted(counts, key=lambda s: (-counts[s], s.encode("utf-8")))
            f["level_counts"] = [counts[s] for s in f["levels"]]
        schema.append(f)
    return schema


def design_names(schema):
    names = []
    for f in schema:
        if f["kind"] == "numeric":
            names.append(f["name"])
        else:
            names += ["%s=%s" % (f["name"], lv) for lv in f["levels"][1:]]
        if f["has_missing"]:
            names.append(f["name"] + ":missing")
    return names


def design(schema, data, idx):
    """Design matrix (len(idx) x width) of the given rows, and unseen-level counts."""
    cols, unseen = [], {}
    for f in schema:
        vals = [data[f["name"]][i] for i in idx]
        miss = np.array([v is None for v in vals], dtype=np.float64)
        if f["kind"] == "numeric":
            x = np.array([f["mean"] if v is None else v for v in vals], dtype=np.float64)
            cols.append((x - f["mean"]) / f["sd"])        # exactly 0 when missing
        else:
            level = {s: k for k, s in enumerate(f["levels"])}
            codes = [None if v is None else level.get(v, -1) for v in vals]
            n_unseen = codes.count(-1)
            if n_unseen:
                unseen[f["name"]] = n_unseen
            for k in range(1, len(f["levels"])):
                cols.append(np.array([1.0 if c == k else 0.0 for c in codes]))
        if f["has_missing"]:
            cols.append(miss)
    return np.column_stack(cols), unseen

# ------------------------------------------------------------- Newton/IRLS


def objective(X1, y, beta, C):
    """README's objective: C * sum logloss + 0.5 ||w||^2, or sum logloss without penalty."""
    z = X1 @ beta
    loss = float(np.sum(np.logaddexp(0.0, z) - y * z))
    if C is None:
        return loss
    return C * loss + 0.5 * float(beta[1:] @ beta[1:])


def newton(X, y, C, tol=1e-10, max_iter=100):
    """Newton/IRLS with step halving as in src/core/README.md; C=None means no penalty.
    Returns (coefficients with the intercept first, iterations); raises
    numpy.linalg.LinAlgError or RuntimeError where the C core fails with CS_ERR_NUMERIC."""
    n, p = X.shape
    active = np.concatenate(([True], np.any(X != 0.0, axis=0)))   # zero columns held at 0
    X1 = np.column_stack((np.ones(n), X))[:, active]
    pen = np.full(X1.shape[1], 0.0 if C is None else 1.0 / C)
    pen[0] = 0.0                                                   # intercept unpenalised
    beta = np.zeros(X1.shape[1])
    f = objective(X1, y, beta, C)
    for it in range(1, max_iter + 1):
        prob = 1.0 / (1.0 + np.exp(-(X1 @ beta)))
        grad = X1.T @ (prob - y) + pen * beta
        H = (X1 * (prob * (1.0 - prob))[:, None]).T @ X1 + np.diag(pen)
        step = scipy.linalg.cho_solve(scipy.linalg.cho_factor(H), grad)
        # halve until the objective does not increase; the slack of a few ulps keeps a
        # tiny final step whose decrease is below rounding from being halved to nothing
        # (which would pass the step test early, with a gradient still ~1e-6)
        slack = 64 * np.finfo(np.float64).eps * abs(f)
        t = 1.0
        while True:
            cand = beta - t * step
            fc = objective(X1, y, cand, C)
            if fc <= f + slack or t < 1e-10:
                break
            t *= 0.5
        beta, f = cand, fc
        if np.max(np.abs(t * step)) < tol:
            full = np.zeros(p + 1)
            full[active] = beta
            return full, it
    raise RuntimeError("Newton did not converge in %d iterations" % max_iter)


def separating_columns(X, y, names):
    """0/1 design columns whose rows at 1 all have the same class: with no penalty
    the likelihood then has no finite maximum (quasi-complete separation)."""
    out = []
    for j, name in enumerate(names):
        col = X[:, j]
        on = col == 1.0
        if np.all((col == 0.0) | on) and on.any():
            k = int(y[on].sum())
            if k in (0, int(on.sum())):
                out.append({"column": name, "rows": int(on.sum()), "bad": k})
    return out

# ------------------------------------------------------------------ metrics


def metrics(prob, y):
    return {
        "n": int(len(y)),
        "auc": float(roc_auc_score(y, prob)),
        "accuracy": float(np.mean((prob >= 0.5) == (y == 1))),
        "log_loss": float(log_loss(y, prob, labels=[0, 1])),
        "brier": float(np.mean((prob - y) ** 2)),
    }


def sk_fit(X, y, penalty, C, solver):
    kw = {"penalty": penalty, "solver": solver, "tol": SK_TOL, "max_iter": SK_MAX_ITER}
    if C is not None:
        kw["C"] = C
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # no ConvergenceWarning may pass silently
        model = LogisticRegression(**kw).fit(X, y)
    return model, np.concatenate((model.intercept_, model.coef_[0]))


def diffs(a, ref):
    d = np.abs(a - ref)
    return float(np.max(d)), float(np.max(d / np.abs(ref)))

# --------------------------------------------------------------------- main


def run_seed(rows, labels, features, seed, summary):
    kinds = [dict(COLUMNS)[n] for n in features]
    data = {n: [r[n] for r in rows] for n in features}
    n = len(rows)
    hashes = [row_hash([r[f] for f in features], kinds, int(labels[i]), seed)
              for i, r in enumerate(rows)]
    parts = stratified_split(hashes, labels)
    part_names = ["train", "valid", "test"]
    part_of = [None] * n
    for k, p in enumerate(parts):
        for i in p:
            part_of[i] = part_names[k]

    counts = {}
    for name, p in zip(part_names, parts):
        yp = labels[p]
        counts[name] = {"total": len(p), "good": int(np.sum(yp == 0)),
                        "bad": int(np.sum(yp == 1))}

    schema = learn_schema(data, kinds, parts[0])
    names = design_names(schema)
    X, Y, unseen = {}, {}, {}
    for name, p in zip(part_names, parts):
        X[name], unseen[name] = design(schema, data, p)
        Y[name] = labels[p].astype(np.float64)
    X_show, _ = design(schema, data, list(range(N_SHOW)))
    X1_train = np.column_stack((np.ones(len(Y["train"])), X["train"]))

    summary.append("  seed %d: %s" % (seed, "; ".join(
        "%s %d (good %d, bad %d)" % (k, v["total"], v["good"], v["bad"])
        for k, v in counts.items())))
    summary.append("    design width %d, unseen levels %s" % (len(names), unseen))

    fits = {}
    for fit_name, penalty, C in FITS:
        params = {"penalty": penalty or "none", "C": C, "solver": SOLVER,
                  "tol": SK_TOL, "max_iter": SK_MAX_ITER}
        sep = separating_columns(X["train"], Y["train"], names) if penalty is None else []
        if sep:
            try:
                newton(X["train"], Y["train"], None)
            except (np.linalg.LinAlgError, RuntimeError):
                pass
            else:
                raise AssertionError("Newton converged on separated data")
            fits[fit_name] = {
                "params": params,
                "status": "error",
                "expected_error": "CS_ERR_NUMERIC",
                "reason": "quasi-complete separation: no finite maximum likelihood",
                "separating_columns": sep,
            }
            summary.append("    %-8s no finite optimum (separated by %s): expect CS_ERR_NUMERIC"
                           % (fit_name, ", ".join(s["column"] for s in sep)))
            continue

        model, sk = sk_fit(X["train"], Y["train"], penalty, C, SOLVER)
        nt, nt_iter = newton(X["train"], Y["train"], C)
        nt_abs, nt_rel = diffs(sk, nt)
        assert np.allclose(sk, nt, rtol=AGREE_RTOL, atol=0.0), \
            "%s seed %d: sklearn and Newton differ (max rel %.3g)" % (fit_name, seed, nt_rel)
        lb_model, lb = sk_fit(X["train"], Y["train"], penalty, C, "lbfgs")
        lb_abs, lb_rel = diffs(lb, nt)
        f_opt = objective(X1_train, Y["train"], nt, C)

        res = {
            "params": params,
            "status": "ok",
            "n_iter": int(model.n_iter_[0]),
            "objective": objective(X1_train, Y["train"], sk, C),
            "intercept": float(sk[0]),
            "coef": [float(v) for v in sk[1:]],
            "newton": {"n_iter": nt_iter, "intercept": float(nt[0]),
                       "coef": [float(v) for v in nt[1:]],
                       "max_abs_diff": nt_abs, "max_rel_diff": nt_rel},
            "lbfgs": {"n_iter": int(lb_model.n_iter_[0]),
                      "objective_excess": objective(X1_train, Y["train"], lb, C) - f_opt,
                      "max_abs_diff": lb_abs, "max_rel_diff": lb_rel},
        }
        for part in part_names:
            res[part] = metrics(model.predict_proba(X[part])[:, 1], Y[part])
        res["first_rows_prob"] = [float(v) for v in model.predict_proba(X_show)[:, 1]]
        fits[fit_name] = res
        summary.append(
            "    %-8s AUC valid %.6f test %.6f | vs Newton: max rel %.1e (abs %.1e) "
            "| lbfgs: max rel %.1e, objective +%.1e"
            % (fit_name, res["valid"]["auc"], res["test"]["auc"], nt_rel, nt_abs,
               lb_rel, res["lbfgs"]["objective_excess"]))

    schema_out = []
    for f in schema:
        g = {"name": f["name"], "kind": f["kind"], "has_missing": f["has_missing"]}
        if f["kind"] == "numeric":
            g["mean"], g["sd"] = f["mean"], f["sd"]
        else:
            g["levels"], g["level_counts"] = f["levels"], f["level_counts"]
        schema_out.append(g)

    return {
        "row_hash": [{"row": i, "hash": str(hashes[i]), "hash_int64": as_int64(hashes[i])}
                     for i in range(N_HASH)],
        "split": {
            "counts": counts,
            "first_rows_part": part_of[:N_SHOW],
            "train_rows_first20": parts[0][:N_ROWS_LIST],
            "valid_rows_first20": parts[1][:N_ROWS_LIST],
            "test_rows_first20": parts[2][:N_ROWS_LIST],
        },
        "schema": schema_out,
        "design_columns": names,
        "unseen_levels": unseen,
        "fits": fits,
    }


def main():
    rows, labels = load_csv(CSV_PATH)
    summary = ["%s: %d rows, %d bad, %d good" % (os.path.relpath(CSV_PATH, ROOT), len(rows),
                                                 int(labels.sum()), int((labels == 0).sum()))]
    datasets = {}
    for name, features, seeds in DATASETS:
        summary.append("%s (%d features)" % (name, len(features)))
        datasets[name] = {
            "table": name,
            "features": [{"name": f, "kind": dict(COLUMNS)[f]} for f in features],
            "seeds": {str(s): run_seed(rows, labels, features, s, summary) for s in seeds},
        }
    datasets["credit_numeric"]["definition"] = (
        "SELECT status, %s FROM credit" % ", ".join(DATASETS[1][1]))

    out = {
        "about": {
            "generator": "test/reference/logreg_reference.py",
            "regenerate": "/usr/bin/python3 test/reference/logreg_reference.py",
            "definitions": "src/core/README.md",
            "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                         "scipy": scipy.__version__, "sklearn": sklearn.__version__},
            "notes": [
                "rows are CSV data rows numbered from 0 (= table order)",
                "row hashes: 'hash' is the uint64 in decimal, 'hash_int64' the same bits signed",
                "split row lists are in split order: sorted by (hash, row)",
                "fits: sklearn LogisticRegression(solver='newton-cholesky', tol=1e-12); "
                "'newton' is the numpy Newton/IRLS cross-check (README stopping rule, tol 1e-10); "
                "'lbfgs' reports how far solver='lbfgs' (tol=1e-12) stops from the optimum",
                "objective: C * sum logloss + 0.5 ||w||^2 (l2) or sum logloss (none) on train",
                "first_rows_prob: P(bad) of CSV rows 0..19 whatever their part",
                "accuracy counts p >= 0.5 as 'bad'; brier = mean((p - y)^2); "
                "log_loss = sklearn log_loss (mean)",
                "fit status 'error': the fit must fail (no finite optimum)",
            ],
        },
        "data": {
            "file": "test/data/credit_data.csv",
            "n_rows": len(rows),
            "target": TARGET,
            "positive": POSITIVE,
            "n_bad": int(labels.sum()),
            "n_good": int((labels == 0).sum()),
        },
        "datasets": datasets,
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")
    summary.append("wrote %s" % os.path.relpath(OUT_PATH, ROOT))
    print("\n".join(summary))


if __name__ == "__main__":
    main()

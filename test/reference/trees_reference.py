"""Reference figures for credit_scoring's tree ensembles on test/data/credit_data.csv.

The data, the row hash, the seeded 70/15/15 split and the feature schema are those of
test/reference/logreg_reference.py (imported from it, so they cannot drift apart); see
src/core/README.md for their definitions.  Trees see the scoring inputs of src/core/cs_core.h:
one value per feature in schema order, the number itself for a numeric feature, the level
index (schema level order: training frequency descending, ties bytewise) for a categorical
one, -1 for a category unseen in training, NaN when missing.

Models (hyperparameters in CONFIGS below, shared with test/unit/trees_parity.c):

  * XGBoost 1.7 `hist` (xgboost.XGBClassifier, tree_method='hist', base_score=0.5,
    n_jobs=1), trained on the training split; early stopping, where configured, on the
    validation split with logloss, predictions then from the best iteration.
  * scikit-learn 1.2 RandomForestClassifier.  Version 1.2 does not accept NaN, so a missing
    value is fed as -1, below every value of every feature here (all are non-negative):
    a missing value then goes left at every split, where our forest learns a direction.
    A forest's AUC varies from seed to seed by about its tolerance, so each configuration is
    trained with random_state 0..N_SEEDS-1 and the mean and standard deviation are recorded;
    the per-row figures are those of random_state 0.

For each model: test (and validation) AUC, for XGBoost the best iteration and the first tree,
and the predicted P(bad) of CSV rows 0..19 whatever their part.

Writes test/reference/trees_credit.json (committed; the parity driver reads it).  Regenerate
from the repository root with (Debian's python3: xgboost 1.7.4, scikit-learn 1.2.1, numpy):

    /usr/bin/python3 test/reference/trees_reference.py
"""

import json
import math
import os
import sys

import numpy as np
import sklearn
import xgboost
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import logreg_reference as lr  # noqa: E402  (the split and schema definitions)

OUT_PATH = os.path.join(HERE, "trees_credit.json")
SEED = 42                 # the split seed (the extension's default)
N_SHOW = 20
N_SEEDS = 10              # forest random_state 0..N_SEEDS-1

# name -> XGBClassifier keyword arguments (beyond tree_method='hist', base_score=0.5)
XGB_CONFIGS = {
    "default": dict(n_estimators=100, learning_rate=0.3, max_depth=6, min_child_weight=1,
                    reg_lambda=1, reg_alpha=0, gamma=0, subsample=1, colsample_bytree=1,
                    max_bin=256, scale_pos_weight=1),
    "regularised": dict(n_estimators=150, learning_rate=0.1, max_depth=4, min_child_weight=5,
                        reg_lambda=2, reg_alpha=1, gamma=0.5, subsample=1, colsample_bytree=1,
                        max_bin=256, scale_pos_weight=1),
    "early_stopping": dict(n_estimators=1000, learning_rate=0.1, max_depth=6,
                           min_child_weight=1, reg_lambda=1, reg_alpha=0, gamma=0, subsample=1,
                           colsample_bytree=1, max_bin=256, scale_pos_weight=1,
                           early_stopping_rounds=20),
    "monotone": dict(n_estimators=100, learning_rate=0.3, max_depth=6, min_child_weight=1,
                     reg_lambda=1, reg_alpha=0, gamma=0, subsample=1, colsample_bytree=1,
                     max_bin=256, scale_pos_weight=3,
                     # P(bad) falls with seniority and income, rises with amount
                     monotone_constraints={"seniority": -1, "income": -1, "amount": 1}),
    "max_bin_32": dict(n_estimators=100, learning_rate=0.3, max_depth=6, min_child_weight=1,
                       reg_lambda=1, reg_alpha=0, gamma=0, subsample=1, colsample_bytree=1,
                       max_bin=32, scale_pos_weight=1),
}

# name -> RandomForestClassifier keyword arguments
RF_CONFIGS = {
    "default": dict(n_estimators=100, max_depth=None, min_samples_split=2, min_samples_leaf=1,
                    max_features="sqrt", class_weight=None, bootstrap=True),
    "balanced_depth8": dict(n_estimators=100, max_depth=8, min_samples_split=2,
                            min_samples_leaf=5, max_features="sqrt", class_weight="balanced",
                            bootstrap=True),
}


def inputs(schema, data, idx):
    """Scoring inputs (len(idx) x n_features) as cs_schema_inputs builds them."""
    X = np.empty((len(idx), len(schema)), dtype=np.float64)
    for j, f in enumerate(schema):
        vals = [data[f["name"]][i] for i in idx]
        if f["kind"] == "numeric":
            X[:, j] = [math.nan if v is None else v for v in vals]
        else:
            level = {s: k for k, s in enumerate(f["levels"])}
            X[:, j] = [math.nan if v is None else level.get(v, -1) for v in vals]
    return X


def tree_summary(booster):
    """The first tree as a list of nodes (XGBoost's JSON dump, flattened)."""
    tree = json.loads(booster.get_dump(dump_format="json", with_stats=True)[0])
    out = []

    def walk(node):
        if "leaf" in node:
            out.append({"id": node["nodeid"], "leaf": node["leaf"], "cover": node["cover"]})
            return
        out.append({"id": node["nodeid"], "feature": int(node["split"][1:]),
                    "threshold": node["split_condition"], "missing_left":
                    node["missing"] == node["yes"], "gain": node["gain"],
                    "cover": node["cover"]})
        for child in node["children"]:
            walk(child)
    walk(tree)
    return sorted(out, key=lambda n: n["id"])


def run_xgboost(name, kw, names, X, y):
    kw = dict(kw)
    early = kw.pop("early_stopping_rounds", None)
    mono = kw.pop("monotone_constraints", None)
    if mono is not None:
        kw["monotone_constraints"] = "(" + ",".join(str(mono.get(n, 0)) for n in names) + ")"
    model = xgboost.XGBClassifier(tree_method="hist", base_score=0.5, n_jobs=1,
                                  random_state=0, eval_metric="logloss",
                                  early_stopping_rounds=early, **kw)
    model.fit(X["train"], y["train"], eval_set=[(X["valid"], y["valid"])], verbose=False)
    best = getattr(model, "best_iteration", None) if early else None
    res = {"params": XGB_CONFIGS[name],
           "best_iteration": int(best) if best is not None else kw["n_estimators"] - 1}
    for part in ("valid", "test"):
        res[part + "_auc"] = float(roc_auc_score(y[part], model.predict_proba(X[part])[:, 1]))
    res["first_rows_prob"] = [float(v) for v in model.predict_proba(X["show"])[:, 1]]
    res["first_tree"] = tree_summary(model.get_booster())
    return res


def run_forest(name, kw, X, y):
    Xs = {k: np.where(np.isnan(v), -1.0, v) for k, v in X.items()}
    aucs, oobs = [], []
    first = None
    for seed in range(N_SEEDS):
        model = RandomForestClassifier(random_state=seed, n_jobs=1, oob_score=True, **kw)
        model.fit(Xs["train"], y["train"])
        aucs.append(float(roc_auc_score(y["test"], model.predict_proba(Xs["test"])[:, 1])))
        oobs.append(float(roc_auc_score(y["train"], model.oob_decision_function_[:, 1])))
        if seed == 0:
            first = model
    return {
        "params": {k: v for k, v in RF_CONFIGS[name].items()},
        "missing_as": -1.0,
        "seeds": list(range(N_SEEDS)),
        "test_auc": aucs[0],
        "test_auc_seeds": aucs,
        "test_auc_mean": float(np.mean(aucs)),
        "test_auc_sd": float(np.std(aucs, ddof=1)),
        "oob_auc": oobs[0],
        "oob_auc_mean": float(np.mean(oobs)),
        "first_rows_prob": [float(v) for v in first.predict_proba(Xs["show"])[:, 1]],
        "importance": [float(v) for v in first.feature_importances_],
    }


def main():
    rows, labels = lr.load_csv(lr.CSV_PATH)
    features = [n for n, _ in lr.COLUMNS]
    kinds = [dict(lr.COLUMNS)[n] for n in features]
    data = {n: [r[n] for r in rows] for n in features}
    hashes = [lr.row_hash([r[f] for f in features], kinds, int(labels[i]), SEED)
              for i, r in enumerate(rows)]
    parts = lr.stratified_split(hashes, labels)
    schema = lr.learn_schema(data, kinds, parts[0])
    X, y = {}, {}
    for name, p in zip(("train", "valid", "test"), parts):
        X[name] = inputs(schema, data, p)
        y[name] = labels[p]
    X["show"] = inputs(schema, data, list(range(N_SHOW)))

    summary = ["credit, split seed %d: train %d, valid %d, test %d rows"
               % (SEED, len(parts[0]), len(parts[1]), len(parts[2]))]
    xgb = {}
    for name, kw in XGB_CONFIGS.items():
        xgb[name] = run_xgboost(name, kw, features, X, y)
        summary.append("  xgboost %-15s test AUC %.6f  valid AUC %.6f  best iteration %d"
                       % (name, xgb[name]["test_auc"], xgb[name]["valid_auc"],
                          xgb[name]["best_iteration"]))
    rf = {}
    for name, kw in RF_CONFIGS.items():
        rf[name] = run_forest(name, kw, X, y)
        summary.append("  forest  %-15s test AUC %.6f (seeds 0..%d: mean %.6f, sd %.6f), "
                       "OOB AUC %.6f"
                       % (name, rf[name]["test_auc"], N_SEEDS - 1, rf[name]["test_auc_mean"],
                          rf[name]["test_auc_sd"], rf[name]["oob_auc"]))

    out = {
        "about": {
            "generator": "test/reference/trees_reference.py",
            "regenerate": "/usr/bin/python3 test/reference/trees_reference.py",
            "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                         "xgboost": xgboost.__version__, "sklearn": sklearn.__version__},
            "notes": [
                "data, split (seed 42) and schema as test/reference/logreg_reference.py",
                "inputs: numeric value, categorical level index in schema order, NaN missing",
                "xgboost: XGBClassifier(tree_method='hist', base_score=0.5, n_jobs=1)",
                "forest: RandomForestClassifier with missing values fed as -1; figures of "
                "random_state 0 plus mean and sd over random_state 0..9",
                "first_rows_prob: P(bad) of CSV rows 0..19 whatever their part",
            ],
        },
        "features": features,
        "split_counts": {k: len(p) for k, p in zip(("train", "valid", "test"), parts)},
        "xgboost": xgb,
        "forest": rf,
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")
    summary.append("wrote %s" % os.path.relpath(OUT_PATH, lr.ROOT))
    print("\n".join(summary))


if __name__ == "__main__":
    main()

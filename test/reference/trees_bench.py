"""Training speed of the tree ensembles against XGBoost and scikit-learn (not a regular test).

Generates ROWS training rows (default 1,000,000) and HOLDOUT holdout rows of 20 numeric features,
a few of them with missing values (NaN), and a 0/1 label from a nonlinear logistic model; writes
them for test/unit/trees_parity (--bench FILE); times, with THREADS threads (default 2):

  * gradient boosting: 200 trees, depth 6, eta 0.1, 256 bins, base_score 0.5:
    xgboost.XGBClassifier(tree_method='hist', n_jobs=THREADS) against cs_gbm_train;
  * random forest: 100 trees, max_depth 12, max_features sqrt:
    sklearn RandomForestClassifier(n_jobs=THREADS) against cs_forest_train
    (scikit-learn 1.2 rejects NaN: its copy of the data has them as -10, below every value);

and prints each time, holdout AUC and the ratio ours / theirs.  From the repository root:

    make test/unit/trees_parity
    /usr/bin/python3 test/reference/trees_bench.py [--rows N] [--threads T] [--models gbm,forest]
"""

import argparse
import os
import re
import struct
import subprocess
import sys
import time

import numpy as np
import xgboost
from sklearn.ensemble import RandomForestClassifier
from sklearn.metrics import roc_auc_score

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DRIVER = os.path.join(ROOT, "test", "unit", "trees_parity")
N_FEATURES = 20
MISSING_FEATURES = (2, 5, 11, 17)   # 2% NaN each


def generate(n, rng):
    X = np.empty((n, N_FEATURES))
    X[:, :8] = rng.standard_normal((n, 8))
    X[:, 8:12] = rng.lognormal(0.0, 1.0, (n, 4))
    X[:, 12:16] = rng.integers(0, 50, (n, 4))          # few distinct values
    X[:, 16:] = rng.uniform(-2.0, 2.0, (n, 4))
    z = (0.8 * X[:, 0] - 0.6 * X[:, 1] + 0.5 * X[:, 2] * X[:, 3] + 0.7 * np.sin(2 * X[:, 4])
         + 0.4 * np.log1p(X[:, 8]) - 0.02 * X[:, 12] + 0.6 * (X[:, 16] > 0.5)
         - 0.5 * np.abs(X[:, 17]) + 0.3 * X[:, 5] * (X[:, 13] > 25) - 0.5)
    y = (rng.uniform(size=n) < 1.0 / (1.0 + np.exp(-z))).astype(np.uint8)
    for j in MISSING_FEATURES:
        X[rng.uniform(size=n) < 0.02, j] = np.nan
    return X, y


def write(path, parts):
    with open(path, "wb") as f:
        f.write(b"CSTB")
        f.write(struct.pack("<IQQ", N_FEATURES, len(parts[0][1]), len(parts[1][1])))
        for X, y in parts:
            f.write(np.ascontiguousarray(X, dtype="<f8").tobytes())
            f.write(np.ascontiguousarray(y, dtype=np.uint8).tobytes())


def ours(path, threads, model):
    env = dict(os.environ, BENCH_MODELS=model)
    out = subprocess.run([DRIVER, "--bench", path, str(threads)], env=env, check=True,
                         capture_output=True, text=True).stdout
    sys.stdout.write("    " + out.replace("\n", "\n    ").rstrip() + "\n")
    line = [l for l in out.splitlines() if l.startswith(model)][0]
    secs = float(re.search(r"([0-9.]+) s,", line).group(1))
    auc = float(re.search(r"holdout AUC ([0-9.]+)", line).group(1))
    return secs, auc


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1000000)
    ap.add_argument("--holdout", type=int, default=200000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default="gbm,forest")
    ap.add_argument("--file", default="/tmp/cs_trees_bench.bin")
    args = ap.parse_args()
    rng = np.random.default_rng(20240601)
    Xtr, ytr = generate(args.rows, rng)
    Xho, yho = generate(args.holdout, rng)
    write(args.file, [(Xtr, ytr), (Xho, yho)])
    print("%d training rows, %d holdout rows, %d features (NaN in %s), %.1f%% positive, "
          "%d threads; xgboost %s"
          % (args.rows, args.holdout, N_FEATURES, list(MISSING_FEATURES), 100 * ytr.mean(),
             args.threads, xgboost.__version__))
    models = args.models.split(",")
    if "gbm" in models:
        t0 = time.time()
        m = xgboost.XGBClassifier(tree_method="hist", n_estimators=200, max_depth=6,
                                  learning_rate=0.1, max_bin=256, base_score=0.5,
                                  n_jobs=args.threads)
        m.fit(Xtr, ytr)
        theirs = time.time() - t0
        auc = roc_auc_score(yho, m.predict_proba(Xho)[:, 1])
        print("  xgboost hist 200 trees depth 6: %.2f s, holdout AUC %.6f" % (theirs, auc))
        secs, our_auc = ours(args.file, args.threads, "gbm")
        print("  gbm ratio %.3f (target <= 1.0), holdout AUC difference %+.6f"
              % (secs / theirs, our_auc - auc))
    if "forest" in models:
        Xs = np.where(np.isnan(Xtr), -10.0, Xtr)
        t0 = time.time()
        m = RandomForestClassifier(n_estimators=100, max_depth=12, n_jobs=args.threads,
                                   random_state=0)
        m.fit(Xs, ytr)
        theirs = time.time() - t0
        auc = roc_auc_score(yho, m.predict_proba(np.where(np.isnan(Xho), -10.0, Xho))[:, 1])
        print("  sklearn forest 100 trees depth 12: %.2f s, holdout AUC %.6f" % (theirs, auc))
        secs, our_auc = ours(args.file, args.threads, "forest")
        print("  forest ratio %.3f (target <= 0.5), holdout AUC difference %+.6f"
              % (secs / theirs, our_auc - auc))


if __name__ == "__main__":
    main()

"""bench/train_trees.py: the outside half of bench/train_trees.sh (run with /usr/bin/python3, for
Debian's python3-xgboost and python3-sklearn).

    /usr/bin/python3 bench/train_trees.py xgb    FILE.csv THREADS
    /usr/bin/python3 bench/train_trees.py forest FILE.csv THREADS

FILE.csv is the benchmark table exported by COPY: x1..x20 (NULL written as nan) and y (0/1).
Loading is not timed.  The rows are split as cs_train splits them (seed 42, the default): both
libraries train on the database's training part and the AUC printed is on its test part, the very
rows of cs_runs.metrics->'test', so the two AUCs compare directly.

  xgb:    times XGBClassifier(tree_method='hist', 200 trees, depth 6, eta 0.1, 256 bins,
          n_jobs=THREADS).fit, the holdout AUC, then predict_proba on every row of the file with
          one thread (nthread=1): one warm-up and 3 timed runs, the median.
  forest: times RandomForestClassifier(100 trees, max_depth 12, n_jobs=THREADS).fit with NaN
          imputed as -1 (scikit-learn 1.2 rejects NaN; -1 is below every value of the data),
          and the holdout AUC.

Prints `key value` lines for the shell script.
"""

import sys
import time

import numpy as np


def database_split(X, y, seed=42):
    """The rows of cs_train's training and test parts: the seeded stratified 70/15/15 split of
    src/core/README.md ("The split"), vectorised.  Each row's hash chains the splitmix64
    finaliser over the bits of its feature values (NaN for NULL, -0 as +0) and its label; per
    class, rows sorted by (hash, row) give the first 70% (rounded) to training and the next 15%
    to validation, the rest to test."""
    def mix(z):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))

    n = len(y)
    with np.errstate(over="ignore"):
        h = mix(np.full(n, seed, dtype=np.uint64))
        Xc = np.ascontiguousarray(np.where(X == 0.0, 0.0, X))
        bits = np.where(np.isnan(Xc), np.uint64(0x7FF8000000000000), Xc.view(np.uint64))
        for j in range(X.shape[1]):
            h = mix(h ^ bits[:, j])
        h = mix(h ^ y.astype(np.uint64))
    train, test = [], []
    for c in (0, 1):
        idx = np.nonzero(y == c)[0]
        order = idx[np.lexsort((idx, h[idx]))]
        m = len(idx)
        n_train = (7 * m + 5) // 10
        n_valid = (15 * m + 50) // 100
        train.append(order[:n_train])
        test.append(order[n_train + n_valid:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(test))


def load(path):
    t0 = time.time()
    a = np.loadtxt(path, delimiter=",", dtype=np.float64)
    X = np.ascontiguousarray(a[:, :-1])
    y = a[:, -1].astype(np.uint8)
    n = len(y)
    tr, ho = database_split(X, y)
    print("load_s %.3f" % (time.time() - t0))
    print("n_rows %d" % n)
    print("n_train %d" % len(tr))
    print("n_holdout %d" % len(ho))
    sys.stdout.flush()
    return X, y, tr, ho


def main():
    what, path, threads = sys.argv[1], sys.argv[2], int(sys.argv[3])
    X, y, tr, ho = load(path)
    from sklearn.metrics import roc_auc_score
    if what == "xgb":
        import xgboost
        print("version %s" % xgboost.__version__)
        m = xgboost.XGBClassifier(tree_method="hist", n_estimators=200, max_depth=6,
                                  learning_rate=0.1, max_bin=256, base_score=0.5,
                                  n_jobs=threads)
        Xtr, ytr = X[tr], y[tr]
        t0 = time.time()
        m.fit(Xtr, ytr)
        print("fit_s %.3f" % (time.time() - t0))
        print("auc %.6f" % roc_auc_score(y[ho], m.predict_proba(X[ho])[:, 1]))
        sys.stdout.flush()
        m.set_params(n_jobs=1)
        m.get_booster().set_param({"nthread": 1})
        times = []
        for i in range(4):
            t0 = time.time()
            p = m.predict_proba(X)[:, 1]
            times.append(time.time() - t0)
        print("predict_s %.3f" % float(np.median(times[1:])))
        print("predict_sum %.6f" % float(p.sum(dtype=np.float64)))
    elif what == "forest":
        import sklearn
        from sklearn.ensemble import RandomForestClassifier
        print("version %s" % sklearn.__version__)
        Xi = np.where(np.isnan(X), -1.0, X)
        m = RandomForestClassifier(n_estimators=100, max_depth=12, n_jobs=threads, random_state=0)
        Xtr, ytr = Xi[tr], y[tr]
        t0 = time.time()
        m.fit(Xtr, ytr)
        print("fit_s %.3f" % (time.time() - t0))
        print("auc %.6f" % roc_auc_score(y[ho], m.predict_proba(Xi[ho])[:, 1]))
    else:
        sys.exit("usage: train_trees.py xgb|forest FILE.csv THREADS")


if __name__ == "__main__":
    main()

"""bench/train_trees.py: the outside half of bench/train_trees.sh (run with /usr/bin/python3, for
Debian's python3-xgboost and python3-sklearn).

    /usr/bin/python3 bench/train_trees.py xgb    FILE.csv THREADS
    /usr/bin/python3 bench/train_trees.py forest FILE.csv THREADS

FILE.csv is the benchmark table exported by COPY: x1..x20 (NULL written as nan) and y (0/1).
Loading is not timed.  The rows are shuffled with a fixed seed; the first 70% train (as many as
cs_train's training split) and the next 15% are the holdout whose AUC is printed.

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


def load(path):
    t0 = time.time()
    a = np.loadtxt(path, delimiter=",", dtype=np.float64)
    X = np.ascontiguousarray(a[:, :-1])
    y = a[:, -1].astype(np.uint8)
    n = len(y)
    perm = np.random.default_rng(20240601).permutation(n)
    tr = np.sort(perm[: (70 * n) // 100])
    ho = np.sort(perm[(70 * n) // 100: (85 * n) // 100])
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

"""bench/treeshap.py: the outside half of bench/treeshap.sh (run with /usr/bin/python3, for
Debian's python3-xgboost).

    /usr/bin/python3 bench/treeshap.py train   TRAIN.csv THREADS MODEL.json
    /usr/bin/python3 bench/treeshap.py explain EXPLAIN.csv MODEL.json OURS.csv [interactions]

The CSV files are the benchmark tables exported by COPY: x1..x20 (NULL written as nan) and y
(0/1).  Loading is not timed.

  train:   fits XGBClassifier(tree_method='hist', 200 trees, depth 6, eta 0.1, 256 bins,
           base_score 0.5, n_jobs=THREADS) on every row of TRAIN.csv and saves it as JSON with
           the feature names x1..x20, for cs_import_xgboost.
  explain: loads MODEL.json into a Booster with one thread (nthread=1) and times
           predict(pred_contribs=True) on every row of EXPLAIN.csv: one warm-up and 3 timed
           runs, the median (with "interactions", pred_interactions=True the same way).  Then
           compares with OURS.csv, the database's cs_shap_values of the same rows in the same
           order (one '{...}' array per line): the largest absolute difference.

Prints `key value` lines for the shell script.
"""

import sys
import time

import numpy as np


def load(path):
    a = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    return np.ascontiguousarray(a[:, :-1]), a[:, -1].astype(np.uint8)


def median_time(f, runs=3):
    f()
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = f()
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2], out


def main():
    import xgboost
    what = sys.argv[1]
    print("version %s" % xgboost.__version__)
    if what == "train":
        path, threads, model = sys.argv[2], int(sys.argv[3]), sys.argv[4]
        X, y = load(path)
        m = xgboost.XGBClassifier(tree_method="hist", n_estimators=200, max_depth=6,
                                  learning_rate=0.1, max_bin=256, base_score=0.5,
                                  n_jobs=threads)
        t0 = time.perf_counter()
        m.fit(X, y)
        print("fit_s %.3f" % (time.perf_counter() - t0))
        booster = m.get_booster()
        booster.feature_names = ["x%d" % (j + 1) for j in range(X.shape[1])]
        booster.save_model(model)
        print("trees %d" % len(booster.get_dump()))
        return
    path, model, ours = sys.argv[2], sys.argv[3], sys.argv[4]
    interactions = len(sys.argv) > 5 and sys.argv[5] == "interactions"
    X, _ = load(path)
    booster = xgboost.Booster(params={"nthread": 1}, model_file=model)
    d = xgboost.DMatrix(X, missing=np.nan, feature_names=["x%d" % (j + 1) for j in range(X.shape[1])],
                        nthread=1)
    s, contribs = median_time(lambda: booster.predict(d, pred_contribs=True))
    print("rows %d" % X.shape[0])
    print("contribs_s %.4f" % s)
    if interactions:
        s, _ = median_time(lambda: booster.predict(d, pred_interactions=True))
        print("interactions_s %.4f" % s)
    mine = np.array([[float(v) for v in line.strip().strip('{}').split(',')]
                     for line in open(ours) if line.strip()])
    if mine.shape != contribs.shape:
        print("shape_mismatch %s %s" % (mine.shape, contribs.shape))
        sys.exit(1)
    print("max_abs_diff %.3g" % np.max(np.abs(mine - contribs)))


if __name__ == "__main__":
    main()

"""bench/dnn_predict.py: scikit-learn's side of bench/dnn.sh's scoring benchmark.

Loads CSV (x1..x20, y as 0/1, no header; the table t that bench/dnn.sh exported with COPY), fits
MLPClassifier(hidden_layer_sizes=(64, 32), batch_size=200, random_state=0) for one epoch on the
first 10,000 rows (so that it has weights; not timed), then times predict_proba on all the rows:
one warm-up call and --reps timed calls.  OpenBLAS is limited to --threads threads (1 by
default) before numpy loads.  Prints one line per call and, last, "median_seconds <s>" and
"median_cpu_seconds <s>" (process CPU time).

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 bench/dnn_predict.py t.csv --reps 3
"""

import argparse
import os
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("csv")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    return ap.parse_args()


ARGS = parse_args()
# must precede numpy's import: OpenBLAS reads it when it loads
os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)
os.environ["OMP_NUM_THREADS"] = str(ARGS.threads)

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402


def main():
    start = time.perf_counter()
    data = np.loadtxt(ARGS.csv, delimiter=",", dtype=np.float64)
    X = np.ascontiguousarray(data[:, :20])
    y = data[:, 20].astype(np.int64)
    del data
    print("loaded %d x %d rows in %.1f s (scikit-learn %s, numpy %s, %d OpenBLAS threads)"
          % (X.shape[0], X.shape[1], time.perf_counter() - start, sklearn.__version__,
             np.__version__, ARGS.threads))
    model = MLPClassifier(hidden_layer_sizes=(64, 32), batch_size=200, max_iter=1,
                          random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X[:10000], y[:10000])
    times = []
    cpu_times = []
    total = None
    for rep in range(ARGS.reps + 1):
        c0 = time.process_time()
        t0 = time.perf_counter()
        p = model.predict_proba(X)[:, 1]
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - c0
        total = float(p.sum())
        print("%s predict_proba: %.1f ms (%.3f us/row), CPU %.1f ms, sum %.4f"
              % ("warm-up" if rep == 0 else "run %d" % rep, seconds * 1e3,
                 seconds * 1e6 / X.shape[0], cpu * 1e3, total))
        if rep > 0:
            times.append(seconds)
            cpu_times.append(cpu)
    print("median_seconds %.6f" % float(np.median(times)))
    print("median_cpu_seconds %.6f" % float(np.median(cpu_times)))
    sys.stdout.flush()


if __name__ == "__main__":
    main()

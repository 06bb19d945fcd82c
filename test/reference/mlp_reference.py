"""Reference figures for credit_scoring's dense neural network (src/core/mlp.c).

Quality parity.  Reproduces the credit split (seed 42), the feature schema and the linear
design exactly as test/reference/logreg_reference.py does (its functions are imported), then
trains scikit-learn's

    MLPClassifier(hidden_layer_sizes=(64, 32), activation='relu', alpha=1e-4, solver='adam',
                  batch_size=200, early_stopping=False, max_iter=200, random_state=0)

on the training split and records its test-split AUC in test/reference/mlp_credit.json, with
the AUCs of random_state 0..29 (the spread that the seed alone causes) for context.  The C
driver test/unit/mlp_parity.c trains cs_mlp_fit with the same settings on the same design and
prints its AUC next to these; the target is a difference within 0.01.

Benchmark (not written to the JSON: timings vary).  With --bench DIR, generates 1,000,000 x 20
rows (numpy default_rng(0); y drawn from a logistic of a nonlinear function of x), writes them
to DIR/mlp_bench_X.f64 (float64, row-major) and DIR/mlp_bench_y.u8, and times one epoch of
MLPClassifier(hidden_layer_sizes=(64, 32), batch_size=200, random_state=0).partial_fit on them
(OpenBLAS limited to --threads threads, 1 by default), writing DIR/mlp_bench_sklearn.json.
`test/unit/mlp_parity --bench DIR --threads N` then times cs_mlp_fit's epoch on the same data.

Run from the repository root with Debian's Python (scikit-learn 1.2.1):

    /usr/bin/python3 test/reference/mlp_reference.py
    /usr/bin/python3 test/reference/mlp_reference.py --bench /tmp/mlp_bench [--threads 1]
"""

import argparse
import json
import os
import sys
import time


def parse_args():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bench", metavar="DIR", help="time one epoch on 1,000,000 x 20 rows")
    ap.add_argument("--threads", type=int, default=1, help="OpenBLAS threads for --bench")
    ap.add_argument("--rows", type=int, default=1000000, help="benchmark rows")
    return ap.parse_args()


ARGS = parse_args()
if ARGS.bench:
    # must precede numpy's import: OpenBLAS reads it when it loads
    os.environ["OPENBLAS_NUM_THREADS"] = str(ARGS.threads)

import warnings  # noqa: E402

import numpy as np  # noqa: E402
import sklearn  # noqa: E402
from sklearn.exceptions import ConvergenceWarning  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import logreg_reference as ref  # noqa: E402

OUT_PATH = os.path.join(HERE, "mlp_credit.json")
SEED = 42                     # the split's seed (the extension's default)
SETTINGS = {"hidden_layer_sizes": (64, 32), "activation": "relu", "alpha": 1e-4,
            "solver": "adam", "batch_size": 200, "early_stopping": False, "max_iter": 200}
SPREAD_STATES = range(30)
BENCH_FEATURES = 20


def credit_design():
    """The design matrices and labels of the train, valid and test parts (seed 42)."""
    rows, labels = ref.load_csv(ref.CSV_PATH)
    features = [n for n, _ in ref.COLUMNS]
    kinds = [dict(ref.COLUMNS)[n] for n in features]
    data = {n: [r[n] for r in rows] for n in features}
    hashes = [ref.row_hash([r[f] for f in features], kinds, int(labels[i]), SEED)
              for i, r in enumerate(rows)]
    parts = ref.stratified_split(hashes, labels)
    schema = ref.learn_schema(data, kinds, parts[0])
    X = [ref.design(schema, data, p)[0] for p in parts]
    y = [labels[p].astype(np.int64) for p in parts]
    return X, y, ref.design_names(schema)


def fit(X, y, random_state):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return MLPClassifier(random_state=random_state, **SETTINGS).fit(X, y)


def parity():
    X, y, names = credit_design()
    runs = []
    for rs in SPREAD_STATES:
        model = fit(X[0], y[0], rs)
        runs.append({
            "random_state": rs,
            "n_iter": int(model.n_iter_),
            "final_loss": float(model.loss_),
            "valid_auc": float(roc_auc_score(y[1], model.predict_proba(X[1])[:, 1])),
            "test_auc": float(roc_auc_score(y[2], model.predict_proba(X[2])[:, 1])),
        })
    aucs = np.array([r["test_auc"] for r in runs])
    out = {
        "about": {
            "generator": "test/reference/mlp_reference.py",
            "regenerate": "/usr/bin/python3 test/reference/mlp_reference.py",
            "versions": {"python": sys.version.split()[0], "numpy": np.__version__,
                         "sklearn": sklearn.__version__},
            "notes": [
                "data: test/data/credit_data.csv, split seed 42, schema and linear design of "
                "src/core/README.md (logreg_reference.py's functions)",
                "model: MLPClassifier with 'settings'; 'test_auc' is random_state 0's",
                "spread: the same fit for random_state 0..29 (initial weights and shuffling)",
                "compare: test/unit/mlp_parity.c; target |C - sklearn| <= 0.01",
            ],
        },
        "split_seed": SEED,
        "n_rows": {"train": len(y[0]), "valid": len(y[1]), "test": len(y[2])},
        "design_width": len(names),
        "settings": dict(SETTINGS, hidden_layer_sizes=list(SETTINGS["hidden_layer_sizes"])),
        "random_state": 0,
        "test_auc": runs[0]["test_auc"],
        "valid_auc": runs[0]["valid_auc"],
        "n_iter": runs[0]["n_iter"],
        "spread": {"test_auc_mean": float(aucs.mean()), "test_auc_sd": float(aucs.std(ddof=1)),
                   "test_auc_min": float(aucs.min()), "test_auc_max": float(aucs.max()),
                   "runs": runs},
    }
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, indent=1, allow_nan=False)
        f.write("\n")
    print("credit, split seed %d: train %d, valid %d, test %d rows, design width %d"
          % (SEED, len(y[0]), len(y[1]), len(y[2]), len(names)))
    print("MLPClassifier(64, 32) random_state 0: test AUC %.6f (%d epochs)"
          % (runs[0]["test_auc"], runs[0]["n_iter"]))
    print("random_state 0..29: test AUC mean %.4f, sd %.4f, range %.4f..%.4f"
          % (aucs.mean(), aucs.std(ddof=1), aucs.min(), aucs.max()))
    print("wrote %s" % os.path.relpath(OUT_PATH, ref.ROOT))


def bench(directory, n_rows, threads):
    os.makedirs(directory, exist_ok=True)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n_rows, BENCH_FEATURES))
    w = rng.standard_normal(BENCH_FEATURES) / np.sqrt(BENCH_FEATURES)
    margin = X @ w + 0.5 * X[:, 0] * X[:, 1] - 0.5 * np.abs(X[:, 2])
    y = (rng.random(n_rows) < 1.0 / (1.0 + np.exp(-margin))).astype(np.uint8)
    X.astype("<f8").tofile(os.path.join(directory, "mlp_bench_X.f64"))
    y.tofile(os.path.join(directory, "mlp_bench_y.u8"))
    model = MLPClassifier(hidden_layer_sizes=(64, 32), batch_size=200, random_state=0)
    start, cpu_start = time.perf_counter(), time.process_time()
    model.partial_fit(X, y, classes=[0, 1])
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    result = {"rows": n_rows, "features": BENCH_FEATURES, "threads": threads,
              "seconds": seconds, "cpu_seconds": cpu, "loss": float(model.loss_)}
    with open(os.path.join(directory, "mlp_bench_sklearn.json"), "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print("sklearn MLPClassifier(64, 32), batch 200, %d threads: one epoch on %d x %d rows "
          "in %.3f s (CPU %.3f s, loss %.4f)"
          % (threads, n_rows, BENCH_FEATURES, seconds, cpu, model.loss_))
    print("wrote %s" % directory)


if __name__ == "__main__":
    if ARGS.bench:
        bench(ARGS.bench, ARGS.rows, ARGS.threads)
    else:
        parity()

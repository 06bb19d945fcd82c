"""Reference figures for the hyperparameter search (sql/76_search.sql).

Reproduces, with scikit-learn, what cs_train does for
params => '{"C": [0.001, 0.01, 1], "cv_folds": 5}' on the credit data (seed 42):
the split and the encoding of src/core/README.md (functions of logreg_reference.py), and
the stratified k-fold of src/core/fit.c: the training rows in split order (sorted by
(hash, row)), each class's rows dealt round-robin to folds 0..k-1.  For every fold the
feature schema is learned on the other folds' rows, LogisticRegression (newton-cholesky,
tol 1e-12) is fitted on them and scored by ROC AUC on the held-out fold.

Regenerate: /usr/bin/python3 test/reference/search_reference.py
"""
import json
import os
import sys

import numpy as np
import sklearn
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import logreg_reference as ref  # noqa: E402

GRID = [0.001, 0.01, 1.0]
FOLDS = 5
SEED = 42
OUT_PATH = os.path.join(ref.HERE, "search_credit.json")


def main():
    rows, labels = ref.load_csv(ref.CSV_PATH)
    features = ref.DATASETS[0][1]
    kinds = [dict(ref.COLUMNS)[n] for n in features]
    data = {n: [r[n] for r in rows] for n in features}
    hashes = [ref.row_hash([r[f] for f in features], kinds, int(labels[i]), SEED)
              for i, r in enumerate(rows)]
    train = ref.stratified_split(hashes, labels)[0]
    fold, nxt = {}, [0, 0]
    for i in train:
        c = int(labels[i])
        fold[i] = nxt[c] % FOLDS
        nxt[c] += 1
    combos = []
    for C in GRID:
        scores = []
        for f in range(FOLDS):
            fit_rows = [i for i in train if fold[i] != f]
            held = [i for i in train if fold[i] == f]
            schema = ref.learn_schema(data, kinds, fit_rows)
            X, _ = ref.design(schema, data, fit_rows)
            Xh, _ = ref.design(schema, data, held)
            model = LogisticRegression(C=C, solver="newton-cholesky", tol=1e-12,
                                       max_iter=100000).fit(X, labels[fit_rows])
            scores.append(float(roc_auc_score(labels[held], model.predict_proba(Xh)[:, 1])))
        combos.append({"C": C, "folds": scores, "mean": float(np.mean(scores)),
                       "std": float(np.std(scores))})
        print("C=%g: mean AUC %.6f (sd %.6f)" % (C, np.mean(scores), np.std(scores)))
    out = {"about": {"generator": "test/reference/search_reference.py",
                     "regenerate": "/usr/bin/python3 test/reference/search_reference.py",
                     "sklearn": sklearn.__version__, "seed": SEED, "cv_folds": FOLDS},
           "combinations": combos,
           "winner": int(np.argmax([c["mean"] for c in combos]))}
    with open(OUT_PATH, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()

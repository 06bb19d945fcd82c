"""Reference for cs_import_xgboost (sql/78_xgboost_import.sql).

Trains XGBoost 1.7 (Debian's python3-xgboost) the way a Python team would, on the numeric
columns of test/data/credit_data.csv with NaN for blanks, saves the model as JSON
(save_model), and records XGBoost's own predict() of every row, so the regression test can
import the JSON into the database and compare cs_predict on every row of the credit table.

Regenerate: /usr/bin/python3 test/reference/xgboost_import_reference.py
"""
import csv
import json
import os

import numpy as np
import xgboost as xgb

HERE = os.path.dirname(os.path.abspath(__file__))
CSV_PATH = os.path.join(os.path.dirname(os.path.dirname(HERE)), "test", "data", "credit_data.csv")
FEATURES = ["seniority", "time", "age", "expenses", "income", "assets", "debt", "amount", "price"]


def main():
    with open(CSV_PATH, newline="") as f:
        reader = csv.reader(f)
        header = [c.lower() for c in next(reader)]
        rows = list(reader)
    col = {n: i for i, n in enumerate(header)}
    X = np.array([[float(r[col[n]]) if r[col[n]] != "" else np.nan for n in FEATURES]
                  for r in rows], dtype=np.float32)
    y = np.array([1 if r[col["status"]] == "bad" else 0 for r in rows])
    model = xgb.XGBClassifier(n_estimators=60, max_depth=4, learning_rate=0.2,
                              tree_method="hist", base_score=0.5, random_state=0, n_jobs=1)
    model.fit(X, y)
    booster = model.get_booster()
    booster.feature_names = FEATURES
    path = os.path.join(HERE, "xgb_import_model.json")
    booster.save_model(path)
    proba = model.predict_proba(X)[:, 1]
    with open(os.path.join(HERE, "xgb_import_predictions.json"), "w") as f:
        json.dump({"about": {"generator": "test/reference/xgboost_import_reference.py",
                             "xgboost": xgb.__version__,
                             "rows": "CSV data rows in file order (= credit.id - 1)"},
                   "features": FEATURES,
                   "proba": [float(p) for p in proba]}, f)
        f.write("\n")
    print("saved %s (%d bytes); mean P(bad) %.6f" % (path, os.path.getsize(path), proba.mean()))


if __name__ == "__main__":
    main()

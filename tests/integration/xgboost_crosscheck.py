"""Cross-checks a keel model folder against Debian's python3-xgboost.

usage: xgboost_crosscheck.py MODEL_DIR INPUT_CSV KEEL_PREDICTIONS_CSV [METRICS_JSON]

Loads MODEL_DIR/model.json with xgboost itself, builds the features from
INPUT_CSV the way a pandas user would (pandas categoricals with the
signature's category order, or one indicator column per category),
predicts, and compares with keel's predictions to 1e-6. With METRICS_JSON,
also recomputes the validation metrics with scikit-learn from INPUT_CSV's
target column and xgboost's predictions, and compares them to 1e-6.
Prints one line per check; exits 1 on the first mismatch.
"""
import json
import math
import sys

import numpy as np
import pandas as pd
import xgboost as xgb
from sklearn import metrics as skm


def fail(message):
    print("MISMATCH: " + message)
    sys.exit(1)


def features(signature, frame):
    columns = {}
    for col in signature["inputs"]:
        name = col["name"]
        if col["type"] == "numeric":
            columns[name] = frame[name].astype("float64").astype("float32")
        elif signature["categorical_encoding"] == "native":
            columns[name] = pd.Categorical(frame[name], categories=col["categories"])
        else:
            values = frame[name]
            for category in col["categories"]:
                columns[name + "=" + category] = (values == category).astype("float32")
    return pd.DataFrame(columns)


def main():
    model_dir, input_csv, keel_csv = sys.argv[1:4]
    with open(model_dir + "/signature.json") as f:
        signature = json.load(f)
    dtypes = {c["name"]: str for c in signature["inputs"] if c["type"] == "categorical"}
    if signature["task"] != "regression":
        dtypes[signature["target"]] = str
    frame = pd.read_csv(input_csv, dtype=dtypes, keep_default_na=False, na_values=["", "NA"])
    booster = xgb.Booster(model_file=model_dir + "/model.json")
    matrix = xgb.DMatrix(features(signature, frame), enable_categorical=True)
    expected = booster.predict(matrix)
    keel = pd.read_csv(keel_csv, keep_default_na=False, na_values=[""],
                       dtype={"prediction": str} if signature["task"] != "regression" else None)
    task = signature["task"]
    if task == "multiclass":
        got = keel[["probability_" + c for c in signature["classes"]]].to_numpy(dtype="float64")
    else:
        got = keel["probability" if task == "binary" else "prediction"].to_numpy(dtype="float64")
    if got.shape != expected.shape:
        fail("shape %s != %s" % (got.shape, expected.shape))
    # 1e-6, relative above 1 (a float32 regression output near 150 has a
    # resolution of 1.5e-5).
    expected64 = expected.astype("float64")
    diff = float(np.max(np.abs(got - expected64) / np.maximum(1.0, np.abs(expected64))))
    if not diff <= 1e-6:
        fail("max |keel - xgboost| / max(1, |xgboost|) = %g" % diff)
    print("predictions %d rows, max diff %.3g" % (len(frame), diff))
    if task != "regression":
        classes = signature["classes"]
        if task == "binary":
            want = [classes[1] if p >= 0.5 else classes[0] for p in expected]
        else:
            want = [classes[i] for i in np.argmax(expected, axis=1)]
        if list(keel["prediction"]) != want:
            fail("predicted classes differ")
    if len(sys.argv) > 4:
        check_metrics(signature, frame, expected, sys.argv[4])


def check_metrics(signature, frame, p, metrics_json):
    with open(metrics_json) as f:
        got = json.load(f)
    task = signature["task"]
    y = frame[signature["target"]]
    if task == "regression":
        y = y.to_numpy(dtype="float64")
        want = {"rmse": math.sqrt(skm.mean_squared_error(y, p)),
                "mae": skm.mean_absolute_error(y, p), "r2": skm.r2_score(y, p)}
    else:
        index = {c: i for i, c in enumerate(signature["classes"])}
        y = np.array([index[v] for v in y])
        p = p.astype("float64")
        if task == "binary":
            label = (p >= 0.5).astype(int)
            want = {"auc": skm.roc_auc_score(y, p), "logloss": skm.log_loss(y, p),
                    "accuracy": skm.accuracy_score(y, label), "f1": skm.f1_score(y, label),
                    "precision": skm.precision_score(y, label, zero_division=0),
                    "recall": skm.recall_score(y, label, zero_division=0)}
        else:
            label = np.argmax(p, axis=1)
            want = {"accuracy": skm.accuracy_score(y, label),
                    "macro_f1": skm.f1_score(y, label, average="macro"),
                    "logloss": skm.log_loss(y, p, labels=list(range(len(index))))}
    if sorted(got) != sorted(want):
        fail("metrics.json has %s, expected %s" % (sorted(got), sorted(want)))
    for name, value in want.items():
        if not abs(got[name] - value) <= 1e-6 * max(1.0, abs(value)):
            fail("metric %s: keel %r, scikit-learn %r" % (name, got[name], value))
    print("metrics " + ", ".join("%s %.6f" % kv for kv in sorted(want.items())))


main()

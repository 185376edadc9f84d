"""The Flask baseline of bench/serving.sh: the V2 infer endpoint in Python.

The same endpoint as fastapi_app.py written the Flask way: load the model
once per worker with xgboost.Booster, request.get_json(), a float32 numpy
array, inplace_predict, jsonify. One XGBoost thread per worker process;
gunicorn runs the workers (its default sync workers). KEEL_BENCH_MODEL_DIR
names the model folder (model.json, signature.json).

  gunicorn --chdir bench/serving --workers 2 flask_app:app
"""

import json
import os

import numpy
import xgboost
from flask import Flask, jsonify, request

MODEL_NAME = "bc"
MODEL_DIR = os.environ["KEEL_BENCH_MODEL_DIR"]

booster = xgboost.Booster(
    params={"nthread": 1}, model_file=os.path.join(MODEL_DIR, "model.json"))
with open(os.path.join(MODEL_DIR, "signature.json")) as f:
    negative, positive = json.load(f)["classes"]
features = booster.num_features()

app = Flask(__name__)


@app.get("/v2/health/ready")
def ready():
    return jsonify(ready=True)


@app.post(f"/v2/models/{MODEL_NAME}/infer")
def infer():
    payload = request.get_json()
    try:
        tensor = payload["inputs"][0]
        rows = numpy.asarray(tensor["data"], dtype=numpy.float32).reshape(tensor["shape"])
    except (KeyError, IndexError, TypeError, ValueError) as e:
        return jsonify(error=f"bad input tensor: {e}"), 400
    if rows.ndim != 2 or rows.shape[1] != features:
        return jsonify(error=f"expected shape [N,{features}]"), 400
    probabilities = booster.inplace_predict(rows)
    labels = numpy.where(probabilities >= 0.5, positive, negative)
    n = len(rows)
    return jsonify(
        model_name=MODEL_NAME,
        model_version="1",
        id=payload.get("id", ""),
        outputs=[
            {"name": "probability", "shape": [n], "datatype": "FP32",
             "data": probabilities.tolist()},
            {"name": "prediction", "shape": [n], "datatype": "BYTES",
             "data": labels.tolist()},
        ],
    )

"""The FastAPI baseline of bench/serving.sh: the V2 infer endpoint in Python.

What a user of a Python model server (MLflow's or BentoML's kind) would write:
load the model once per worker with xgboost.Booster, parse the JSON body,
turn the input tensor into a float32 numpy array, call inplace_predict and
answer with JSON. One XGBoost thread per worker process; uvicorn workers
under gunicorn run it. KEEL_BENCH_MODEL_DIR names the model folder
(model.json, signature.json).

  gunicorn -k uvicorn.workers.UvicornWorker --chdir bench/serving -w 2 fastapi_app:app
"""

import json
import os

import numpy
import xgboost
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse

MODEL_NAME = "bc"
MODEL_DIR = os.environ["KEEL_BENCH_MODEL_DIR"]

booster = xgboost.Booster(
    params={"nthread": 1}, model_file=os.path.join(MODEL_DIR, "model.json"))
with open(os.path.join(MODEL_DIR, "signature.json")) as f:
    negative, positive = json.load(f)["classes"]
features = booster.num_features()

app = FastAPI()


@app.get("/v2/health/ready")
async def ready():
    return {"ready": True}


# async: the prediction takes microseconds, so it runs on the event loop
# rather than paying FastAPI's hop to a thread pool for a plain `def`.
@app.post(f"/v2/models/{MODEL_NAME}/infer")
async def infer(request: Request):
    payload = await request.json()
    try:
        tensor = payload["inputs"][0]
        rows = numpy.asarray(tensor["data"], dtype=numpy.float32).reshape(tensor["shape"])
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise HTTPException(status_code=400, detail=f"bad input tensor: {e}")
    if rows.ndim != 2 or rows.shape[1] != features:
        raise HTTPException(status_code=400, detail=f"expected shape [N,{features}]")
    probabilities = booster.inplace_predict(rows)
    labels = numpy.where(probabilities >= 0.5, positive, negative)
    n = len(rows)
    return JSONResponse({
        "model_name": MODEL_NAME,
        "model_version": "1",
        "id": payload.get("id", ""),
        "outputs": [
            {"name": "probability", "shape": [n], "datatype": "FP32",
             "data": probabilities.tolist()},
            {"name": "prediction", "shape": [n], "datatype": "BYTES",
             "data": labels.tolist()},
        ],
    })

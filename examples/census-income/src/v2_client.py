"""A V2 inference client for the census model, with Python's standard library only.

  v2_client.py URL MODEL CSV ROWS [REQUESTS]

It reads the model's metadata (input names and datatypes: FP32 for numbers,
BYTES for categories), sends the first ROWS rows of CSV as one tensor per
column, and prints each row's answer beside its true label. With REQUESTS,
it then sends the same rows that many times more, with request ids req-1,
req-2, ..., and counts which version answered (a canary takes its share).
"""
import csv
import json
import sys
import urllib.request


def call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def main():
    url, model, path, count = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    metadata = call(f"{url}/v2/models/{model}")
    with open(path, newline="") as f:
        rows = [row for _, row in zip(range(count), csv.DictReader(f))]

    def value(text, datatype):
        if text in ("", "NA"):
            return None
        return text if datatype == "BYTES" else float(text)

    inputs = [{"name": i["name"], "datatype": i["datatype"], "shape": [len(rows)],
               "data": [value(row[i["name"]], i["datatype"]) for row in rows]} for i in metadata["inputs"]]
    answer = call(f"{url}/v2/models/{model}/infer", {"id": "demo-1", "inputs": inputs})
    outputs = {o["name"]: o["data"] for o in answer["outputs"]}
    print(f"model {answer['model_name']} version {answer['model_version']}, request {answer['id']}:")
    for row, p, label in zip(rows, outputs["probability"], outputs["prediction"]):
        print(f"  age {row['age']:>3} {row['occupation']:<18} P(>50K) = {p:.4f}  predicted {label:<6} actual {row['income']}")
    requests = int(sys.argv[5]) if len(sys.argv) > 5 else 0
    if requests:
        versions = {}
        for i in range(1, requests + 1):
            version = call(f"{url}/v2/models/{model}/infer", {"id": f"req-{i}", "inputs": inputs})["model_version"]
            versions[version] = versions.get(version, 0) + 1
        print(f"{requests} requests answered by version: " +
              ", ".join(f"{v}: {n}" for v, n in sorted(versions.items())))


if __name__ == "__main__":
    main()

"""`keel serve` against the Open Inference Protocol's own OpenAPI schemas.

A Python urllib client (what a user's script would use) talks to the real
server on 127.0.0.1; every response body is validated against the matching
schema in tests/data/open-inference-protocol-v2/rest_predict_v2.yaml with
python3-jsonschema, and so is every request body the test sends.

Usage: serve_protocol_test.py KEEL_BINARY SOURCE_DIR   (Debian's /usr/bin/python3)
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
import urllib.error
import urllib.request

import jsonschema
import yaml

KEEL = sys.argv[1] if len(sys.argv) > 1 else "keel"
SOURCE = sys.argv[2] if len(sys.argv) > 2 else "."


def load_schemas():
    path = os.path.join(SOURCE, "tests/data/open-inference-protocol-v2/rest_predict_v2.yaml")
    with open(path) as f:
        document = yaml.safe_load(f)
    resolver = jsonschema.RefResolver.from_schema(document)
    schemas = document["components"]["schemas"]

    def validator(name):
        return jsonschema.Draft7Validator(schemas[name], resolver=resolver)

    return validator


class Server:
    """keel serve --port 0 in a scratch project with one registered model."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="keel-serve-protocol-")
        run = lambda *args: subprocess.run(args, cwd=self.dir, check=True, capture_output=True)
        run("git", "init", "-q")
        run(KEEL, "init")
        shutil.copy(os.path.join(SOURCE, "tests/data/penguins.csv"), self.dir)
        run(KEEL, "train", "xgboost", "--train", "penguins.csv", "--target", "species", "--task", "multiclass",
            "--param", "num_boost_round=10", "--seed", "2", "--out", "model")
        run(KEEL, "model", "register", "penguins", "--from", "model")
        self.process = subprocess.Popen([KEEL, "serve", "--port", "0", "--model", "penguins@1"], cwd=self.dir,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.base = None
        for line in self.process.stdout:
            if "listening on " in line:
                self.base = line.split("listening on ", 1)[1].split()[0]
            if "keel serve: ready" in line:
                break
        if self.base is None:
            raise RuntimeError("keel serve did not start: " + self.process.stderr.read())

    def close(self):
        self.process.terminate()
        self.process.wait(timeout=60)
        self.process.stdout.close()
        self.process.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def request(self, path, body=None):
        """(status, parsed JSON body) of GET path, or POST body when given."""
        data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
        req = urllib.request.Request(self.base + path, data=data, method="GET" if data is None else "POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())


class ProtocolTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.schema = staticmethod(load_schemas())
        cls.server = Server()

    @classmethod
    def tearDownClass(cls):
        cls.server.close()

    def check(self, path, status, schema, body=None):
        got_status, got = self.server.request(path, body)
        self.assertEqual(got_status, status, got)
        if schema:
            self.schema(schema).validate(got)
        return got

    def infer_body(self):
        request = {"id": "py-1", "inputs": [
            {"name": "island", "shape": [2], "datatype": "BYTES", "data": ["Biscoe", "Dream"]},
            {"name": "bill_length_mm", "shape": [2], "datatype": "FP32", "data": [46.5, 39.0]},
            {"name": "bill_depth_mm", "shape": [2], "datatype": "FP32", "data": [14.5, 18.5]},
            {"name": "flipper_length_mm", "shape": [2], "datatype": "INT32", "data": [213, 190]},
            {"name": "body_mass_g", "shape": [2], "datatype": "FP64", "data": [4400, 3600]},
            {"name": "sex", "shape": [2], "datatype": "BYTES", "data": ["female", "male"]},
            {"name": "year", "shape": [2], "datatype": "INT64", "data": [2008, 2009]},
        ]}
        self.schema("inference_request").validate(request)
        return request

    def test_health(self):
        self.assertEqual(self.server.request("/v2/health/live")[0], 200)
        self.assertEqual(self.server.request("/v2/health/ready")[0], 200)

    def test_server_metadata(self):
        got = self.check("/v2", 200, "metadata_server_response")
        self.assertEqual(got["name"], "keel")

    def test_model_metadata_and_ready(self):
        for path in ("/v2/models/penguins", "/v2/models/penguins/versions/1"):
            got = self.check(path, 200, "metadata_model_response")
            self.assertEqual(got["versions"], ["1"])
            self.assertEqual([i["name"] for i in got["inputs"]],
                             ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex",
                              "year"])
            for tensor in got["inputs"] + got["outputs"]:
                self.schema("metadata_tensor").validate(tensor)
            self.assertEqual(self.server.request(path + "/ready")[0], 200)
        self.check("/v2/models/nope", 404, "metadata_model_error_response")
        self.check("/v2/models/penguins/versions/9", 404, "metadata_model_error_response")

    def test_infer(self):
        got = self.check("/v2/models/penguins/infer", 200, "inference_response", self.infer_body())
        self.assertEqual(got["id"], "py-1")
        self.assertEqual(got["model_name"], "penguins")
        self.assertEqual(got["model_version"], "1")
        probability, prediction = got["outputs"]
        self.assertEqual(probability["shape"], [2, 3])
        self.assertEqual(prediction["data"], ["Gentoo", "Adelie"])
        self.check("/v2/models/penguins/versions/1/infer", 200, "inference_response", self.infer_body())

    def test_infer_errors(self):
        body = self.infer_body()
        body["inputs"][0]["datatype"] = "FP32"
        got = self.check("/v2/models/penguins/infer", 400, "inference_error_response", body)
        self.assertIn("island", got["error"])
        self.check("/v2/models/penguins/infer", 400, "inference_error_response", b'{"inputs": [')
        self.check("/v2/models/nope/infer", 404, "inference_error_response", self.infer_body())


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)

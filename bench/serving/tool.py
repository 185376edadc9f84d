"""bench/serving.sh's helper: ports, readiness, request bodies, the check.

Run with Debian's python3 (python3-xgboost, python3-numpy). Subcommands:

  ports N
      prints N distinct free TCP ports on 127.0.0.1, one a line.
  wait URL TIMEOUT_S PID
      polls GET URL until it answers 200; exits 1 when PID exits first or
      TIMEOUT_S seconds pass.
  bodies CSV MODEL_DIR OUT_DIR BATCH...
      per BATCH writes OUT_DIR/body-BATCH.json, the V2 infer request for the
      first BATCH rows of CSV (the model's features in its order, the CSV's
      number text kept as it is), OUT_DIR/expected-BATCH.json (Booster.predict
      on those rows as float32) and OUT_DIR/shaped-BATCH.json, a keel-shaped
      response (compact JSON, float32 probabilities in shortest form) used as
      nginx's fixed body when keel is not measured.
  check MODEL_DIR OUT_DIR BATCH NAME=URL...
      posts body-BATCH.json to every URL, saves the reply bytes to
      OUT_DIR/reply-NAME-BATCH.json and checks it against expected-BATCH.json:
      the V2 response shape, probabilities to 1e-6, the same labels.
      Exits 1 on any difference, naming it.
  nginx-conf TEMPLATE PREFIX WORKERS PORT_1 BODY_1 PORT_64 BODY_64
      writes PREFIX/nginx.conf: TEMPLATE with its @PREFIX@, @WORKERS@,
      @PORT_n@ and @BODY_n@ fields filled in (BODY_n: a file whose bytes
      nginx returns).
  same URL BODY REPLY
      posts the file BODY to URL and exits 1 unless the reply's bytes are
      those of the file REPLY.
"""

import json
import os
import re
import socket
import sys
import time
import urllib.error
import urllib.request

TOLERANCE = 1e-6
MODEL_NAME = "bc"
JSON_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?")


def fail(message):
    print(f"serving.sh check: {message}", file=sys.stderr)
    sys.exit(1)


def ports(count):
    sockets = []
    for _ in range(int(count)):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        sockets.append(s)
    for s in sockets:
        print(s.getsockname()[1])
        s.close()


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited but still answers kill(0); its state says so.
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait(url, timeout_s, pid):
    deadline = time.monotonic() + float(timeout_s)
    while time.monotonic() < deadline:
        if not alive(int(pid)):
            fail(f"the server (pid {pid}) exited before {url} was ready")
        try:
            with urllib.request.urlopen(url, timeout=1) as reply:
                if reply.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.05)
    fail(f"{url} not ready after {timeout_s} s")


def model_files(model_dir):
    import xgboost

    booster = xgboost.Booster(model_file=os.path.join(model_dir, "model.json"))
    with open(os.path.join(model_dir, "signature.json")) as f:
        classes = json.load(f)["classes"]
    if classes != ["0", "1"]:
        fail(f"expected classes ['0', '1'] in the signature, got {classes}")
    return booster, classes


def read_rows(csv_path, features, count):
    import csv

    with open(csv_path, newline="") as f:
        reader = csv.reader(f)
        header = next(reader)
        missing = [name for name in features if name not in header]
        if missing:
            fail(f"{csv_path} lacks the model's features {missing}")
        columns = [header.index(name) for name in features]
        rows = []
        for record in reader:
            if len(rows) == count:
                break
            rows.append([record[c] for c in columns])
    if len(rows) < count:
        fail(f"{csv_path} has {len(rows)} rows, fewer than {count}")
    for text in (t for row in rows for t in row):
        if not JSON_NUMBER.fullmatch(text):
            fail(f"{csv_path}: '{text}' is not a JSON number")
    return rows


def float32_text(value):
    import numpy

    return numpy.format_float_positional(numpy.float32(value), unique=True, trim="-")


def shaped_reply(probabilities, labels):
    n = len(probabilities)
    numbers = ",".join(float32_text(p) for p in probabilities)
    texts = ",".join(json.dumps(label) for label in labels)
    return (
        f'{{"model_name":"{MODEL_NAME}","model_version":"1","id":"1","outputs":['
        f'{{"name":"probability","shape":[{n}],"datatype":"FP32","data":[{numbers}]}},'
        f'{{"name":"prediction","shape":[{n}],"datatype":"BYTES","data":[{texts}]}}]}}'
    )


def bodies(csv_path, model_dir, out_dir, *batches):
    import numpy
    import xgboost

    booster, classes = model_files(model_dir)
    features = booster.feature_names
    for batch in map(int, batches):
        rows = read_rows(csv_path, features, batch)
        data = ",".join(",".join(row) for row in rows)
        body = (
            f'{{"id":"1","inputs":[{{"name":"input-0","shape":[{batch},{len(features)}],'
            f'"datatype":"FP32","data":[{data}]}}]}}'
        )
        matrix = numpy.array(rows, dtype=numpy.float32)
        probabilities = booster.predict(xgboost.DMatrix(matrix, feature_names=features))
        labels = [classes[1] if p >= 0.5 else classes[0] for p in probabilities]
        write(out_dir, f"body-{batch}.json", body)
        write(out_dir, f"expected-{batch}.json", json.dumps(
            {"probability": [float(p) for p in probabilities], "prediction": labels}))
        write(out_dir, f"shaped-{batch}.json", shaped_reply(probabilities, labels))


def write(out_dir, name, text):
    with open(os.path.join(out_dir, name), "w") as f:
        f.write(text)


def output(reply, name, batch, datatype):
    found = [o for o in reply.get("outputs", []) if o.get("name") == name]
    if len(found) != 1:
        raise ValueError(f"{len(found)} outputs named '{name}'")
    tensor = found[0]
    if tensor.get("shape") != [batch] or tensor.get("datatype") != datatype:
        raise ValueError(f"output '{name}': shape {tensor.get('shape')} datatype "
                         f"{tensor.get('datatype')}, expected [{batch}] {datatype}")
    if len(tensor.get("data", [])) != batch:
        raise ValueError(f"output '{name}': {len(tensor.get('data', []))} values, expected {batch}")
    return tensor["data"]


def compare(reply, expected, batch):
    if reply.get("model_name") != MODEL_NAME or reply.get("id") != "1":
        raise ValueError(f"model_name {reply.get('model_name')!r} id {reply.get('id')!r}, "
                         f"expected '{MODEL_NAME}' '1'")
    probabilities = output(reply, "probability", batch, "FP32")
    labels = output(reply, "prediction", batch, "BYTES")
    worst = 0.0
    for row, (got, want) in enumerate(zip(probabilities, expected["probability"])):
        error = abs(float(got) - want)
        if not error <= TOLERANCE:
            raise ValueError(f"row {row}: probability {got}, xgboost says {want}")
        worst = max(worst, error)
    for row, (got, want) in enumerate(zip(labels, expected["prediction"])):
        if got != want:
            raise ValueError(f"row {row}: prediction {got!r}, xgboost says {want!r}")
    return worst


def post(url, body):
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as reply:
        if reply.status != 200:
            raise ValueError(f"HTTP {reply.status}")
        return reply.read()


def check(model_dir, out_dir, batch, *targets):
    batch = int(batch)
    with open(os.path.join(out_dir, f"body-{batch}.json"), "rb") as f:
        body = f.read()
    with open(os.path.join(out_dir, f"expected-{batch}.json")) as f:
        expected = json.load(f)
    bad = False
    for target in targets:
        name, url = target.split("=", 1)
        try:
            raw = post(url, body)
            with open(os.path.join(out_dir, f"reply-{name}-{batch}.json"), "wb") as f:
                f.write(raw)
            worst = compare(json.loads(raw), expected, batch)
            print(f"{name}: batch {batch}: {batch} probabilities within {worst:.1e} of "
                  f"xgboost's, the same {batch} predictions ({len(raw)} bytes)")
        except (ValueError, OSError, urllib.error.URLError) as e:
            detail = e.read()[:300] if isinstance(e, urllib.error.HTTPError) else ""
            print(f"serving.sh check: {name} ({url}), batch {batch}: {e} {detail}",
                  file=sys.stderr)
            bad = True
    sys.exit(1 if bad else 0)


def nginx_string(path):
    with open(path) as f:
        text = f.read()
    # nginx would expand a $variable; a single-quoted string cannot span a
    # config token longer than nginx's 4 KiB parse buffer.
    if "$" in text or len(text) > 4000:
        fail(f"{path} cannot be an nginx return string ($ or over 4000 bytes)")
    return text.replace("\\", "\\\\").replace("'", "\\'")


def nginx_conf(template, prefix, workers, port_1, body_1, port_64, body_64):
    with open(template) as f:
        text = f.read()
    fields = {"@PREFIX@": prefix, "@WORKERS@": workers, "@PORT_1@": port_1, "@PORT_64@": port_64,
              "@BODY_1@": nginx_string(body_1), "@BODY_64@": nginx_string(body_64)}
    for field, value in fields.items():
        text = text.replace(field, value)
    write(prefix, "nginx.conf", text)


def same(url, body_path, reply_path):
    with open(body_path, "rb") as f:
        body = f.read()
    with open(reply_path, "rb") as f:
        want = f.read()
    got = post(url, body)
    if got != want:
        fail(f"{url} answered {len(got)} bytes, not the {len(want)} bytes of {reply_path}")


COMMANDS = {"ports": ports, "wait": wait, "bodies": bodies, "check": check,
            "nginx-conf": nginx_conf, "same": same}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in COMMANDS:
        fail(f"usage: tool.py {'|'.join(COMMANDS)} ARGS...")
    COMMANDS[sys.argv[1]](*sys.argv[2:])

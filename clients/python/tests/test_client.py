"""Tests of the keel client: the lines it writes, validation, concurrency, packaging."""

import fractions
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from unittest import mock

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

import keel  # noqa: E402

PYTHON = "/usr/bin/python3"
WARNING = "keel: not inside `keel run` (KEEL_METRICS_FILE is unset); nothing is logged\n"


def now_ms():
    return int(time.time() * 1000)


class Base(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="keel-client-")
        self.addCleanup(shutil.rmtree, self.dir)
        self.file = os.path.join(self.dir, "events.jsonl")
        open(self.file, "w").close()  # keel creates it before the stage starts
        env = mock.patch.dict(os.environ, {"KEEL_METRICS_FILE": self.file})
        env.start()
        self.addCleanup(env.stop)

    def raw(self):
        with open(self.file, "rb") as f:
            return f.read().decode("utf-8")

    def events(self):
        text = self.raw()
        self.assertTrue(text == "" or text.endswith("\n"), text[-100:])
        return [json.loads(line) for line in text.splitlines()]

    def run_python(self, code, env):
        base = {k: v for k, v in os.environ.items() if not k.startswith("KEEL_")}
        base.update(env, PYTHONDONTWRITEBYTECODE="1")
        return subprocess.run([PYTHON, "-c", code], env=base, cwd=self.dir,
                              capture_output=True, text=True, timeout=120)


class TestLines(Base):
    def test_param(self):
        keel.log_param("lr", 0.1)
        keel.log_param("depth", 6)
        keel.log_param("name", "xgb")
        keel.log_param("early", True)
        keel.log_param("seed", None)
        self.assertEqual(self.raw(), '{"param":"lr","value":0.1}\n'
                                     '{"param":"depth","value":6}\n'
                                     '{"param":"name","value":"xgb"}\n'
                                     '{"param":"early","value":true}\n'
                                     '{"param":"seed","value":null}\n')

    def test_params(self):
        keel.log_params({"a": 1, "b": "x", "c": False, "d": None, "e": 2.5})
        keel.log_params({})
        self.assertEqual(self.events(), [{"params": {"a": 1, "b": "x", "c": False, "d": None, "e": 2.5}}])

    def test_metric(self):
        keel.log_metric("loss", 0.25, step=3, timestamp=1700000000123)
        keel.log_metric("acc", 1, timestamp=5)
        self.assertEqual(self.raw(), '{"metric":"loss","value":0.25,"step":3,"timestamp":1700000000123}\n'
                                     '{"metric":"acc","value":1,"timestamp":5}\n')

    def test_metric_default_timestamp(self):
        before = now_ms()
        keel.log_metric("loss", 0.5, step=0)
        after = now_ms()
        [event] = self.events()
        self.assertEqual(set(event), {"metric", "value", "step", "timestamp"})
        self.assertIsInstance(event["timestamp"], int)
        self.assertTrue(before <= event["timestamp"] <= after)

    def test_metrics(self):
        keel.log_metrics({"loss": 0.5, "acc": 0.75}, step=2, timestamp=10)
        keel.log_metrics({"loss": 0.25})
        keel.log_metrics({})
        events = self.events()
        self.assertEqual(events[0], {"metrics": {"loss": 0.5, "acc": 0.75}, "step": 2, "timestamp": 10})
        self.assertEqual(set(events[1]), {"metrics", "timestamp"})
        self.assertEqual(events[1]["metrics"], {"loss": 0.25})
        self.assertEqual(len(events), 2)

    def test_non_finite(self):
        nan, inf = float("nan"), float("inf")
        keel.log_metric("m", nan, step=0, timestamp=1)
        keel.log_metric("m", inf, step=1, timestamp=1)
        keel.log_metric("m", -inf, step=2, timestamp=1)
        keel.log_metrics({"a": nan, "b": inf, "c": -inf}, step=3, timestamp=1)
        keel.log_param("p", nan)
        text = self.raw()
        self.assertEqual(text, '{"metric":"m","value":"NaN","step":0,"timestamp":1}\n'
                               '{"metric":"m","value":"Infinity","step":1,"timestamp":1}\n'
                               '{"metric":"m","value":"-Infinity","step":2,"timestamp":1}\n'
                               '{"metrics":{"a":"NaN","b":"Infinity","c":"-Infinity"},"step":3,"timestamp":1}\n'
                               '{"param":"p","value":"NaN"}\n')
        for line in text.splitlines():  # strict JSON: no bare NaN or Infinity
            json.loads(line, parse_constant=lambda c: self.fail(f"bare {c} in {line}"))

    def test_number_types(self):
        keel.log_metric("f", fractions.Fraction(1, 4), step=0, timestamp=1)
        keel.log_metric("big", 2 ** 70, step=0, timestamp=1)
        self.assertEqual([e["value"] for e in self.events()], [0.25, 2 ** 70])

    def test_tags(self):
        keel.set_tag("model", "xgb")
        keel.set_tag("n", 3)
        keel.set_tags({"a": "b", "c": True})
        keel.set_tags({})
        self.assertEqual(self.raw(), '{"tag":"model","value":"xgb"}\n'
                                     '{"tag":"n","value":3}\n'
                                     '{"tags":{"a":"b","c":true}}\n')

    def test_unicode_is_written_as_utf8(self):
        keel.set_tag("modèle", "λ → ✓")
        self.assertEqual(self.raw(), '{"tag":"modèle","value":"λ → ✓"}\n')

    def test_artifact(self):
        path = os.path.join(self.dir, "model.bin")
        with open(path, "wb") as f:
            f.write(b"weights")
        keel.log_artifact(path)
        keel.log_artifact(path, name="best-model")
        cwd = os.getcwd()
        os.chdir(self.dir)
        try:
            keel.log_artifact("model.bin")
        finally:
            os.chdir(cwd)
        self.assertEqual(self.events(), [{"artifact": path},
                                         {"artifact": path, "name": "best-model"},
                                         {"artifact": path}])

    def test_artifact_errors(self):
        missing = os.path.join(self.dir, "missing.bin")
        with self.assertRaises(FileNotFoundError) as cm:
            keel.log_artifact(missing)
        self.assertIn(missing, str(cm.exception))
        with self.assertRaises(ValueError) as cm:
            keel.log_artifact(self.dir)
        self.assertIn(self.dir, str(cm.exception))
        path = os.path.join(self.dir, "f")
        open(path, "w").close()
        with self.assertRaises(ValueError):
            keel.log_artifact(path, name="")
        self.assertEqual(self.events(), [])

    def test_active_run(self):
        with mock.patch.dict(os.environ, {"KEEL_RUN_ID": "12", "KEEL_STAGE": "train"}):
            self.assertEqual(keel.active_run_id(), 12)
            self.assertEqual(keel.active_stage(), "train")
        with mock.patch.dict(os.environ, {"KEEL_RUN_ID": "x"}):
            self.assertIsNone(keel.active_run_id())
        env = {k: v for k, v in os.environ.items() if k not in ("KEEL_RUN_ID", "KEEL_STAGE")}
        with mock.patch.dict(os.environ, env, clear=True):
            self.assertIsNone(keel.active_run_id())
            self.assertIsNone(keel.active_stage())

    def test_file_change_reopens(self):
        keel.log_param("a", 1)
        other = os.path.join(self.dir, "other.jsonl")
        with mock.patch.dict(os.environ, {"KEEL_METRICS_FILE": other}):
            keel.log_param("b", 2)
        keel.log_param("c", 3)
        self.assertEqual(self.events(), [{"param": "a", "value": 1}, {"param": "c", "value": 3}])
        with open(other) as f:
            self.assertEqual(f.read(), '{"param":"b","value":2}\n')

    def test_appends_to_existing_file(self):
        with open(self.file, "w") as f:
            f.write('{"param":"before","value":0}\n')
        keel.log_param("after", 1)
        self.assertEqual(self.events(), [{"param": "before", "value": 0}, {"param": "after", "value": 1}])


class TestValidation(Base):
    def assert_raises_naming(self, exc, text, fn, *args, **kwargs):
        with self.assertRaises(exc) as cm:
            fn(*args, **kwargs)
        self.assertIn(text, str(cm.exception))

    def test_names(self):
        keel.log_param("a" * 250, 1)
        keel.log_param("é" * 125, 1)  # 250 bytes
        for bad in ["", "a" * 251, "é" * 126, "a\nb", "tab\there", "del\x7f", "c1\x85", "\ud800"]:
            for fn in (lambda n: keel.log_param(n, 1), lambda n: keel.log_metric(n, 1),
                       lambda n: keel.set_tag(n, 1), lambda n: keel.log_params({n: 1}),
                       lambda n: keel.log_metrics({n: 1}), lambda n: keel.set_tags({n: 1})):
                self.assert_raises_naming(ValueError, repr(bad), fn, bad)
        for bad in [None, 3, b"bytes"]:
            self.assert_raises_naming(ValueError, repr(bad), keel.log_param, bad, 1)
        self.assertEqual(len(self.events()), 2)

    def test_metric_values(self):
        for bad in [True, False, None, "1.0", [1], 1j]:
            self.assert_raises_naming(TypeError, "'loss'", keel.log_metric, "loss", bad)
            self.assert_raises_naming(TypeError, "'acc'", keel.log_metrics, {"loss": 1, "acc": bad})
        self.assertEqual(self.events(), [])

    def test_param_and_tag_values(self):
        for bad in [[1], {"a": 1}, object(), b"x", 1j, (1,)]:
            self.assert_raises_naming(TypeError, "'p'", keel.log_param, "p", bad)
            self.assert_raises_naming(TypeError, "'p'", keel.log_params, {"ok": 1, "p": bad})
            self.assert_raises_naming(TypeError, "'t'", keel.set_tag, "t", bad)
            self.assert_raises_naming(TypeError, "'t'", keel.set_tags, {"t": bad})
        self.assertEqual(self.events(), [])

    def test_step_and_timestamp(self):
        for bad in [True, 1.0, "1", 2.5]:
            self.assertRaises(TypeError, keel.log_metric, "m", 1, step=bad)
            self.assertRaises(TypeError, keel.log_metrics, {"m": 1}, step=bad)
            self.assertRaises(TypeError, keel.log_metric, "m", 1, timestamp=bad)
        self.assertRaises(TypeError, keel.log_metrics, [("m", 1)])
        self.assertEqual(self.events(), [])


class TestOutsideKeel(Base):
    CODE = ("import keel\n"
            "keel.log_param('a', 1); keel.log_params({'b': 2}); keel.log_metric('m', 1.0, step=1)\n"
            "keel.log_metrics({'m': 2.0}); keel.set_tag('t', 'x'); keel.set_tags({'u': 'y'})\n"
            "keel.log_artifact(__import__('sys').executable)\n"
            "print(keel.active_run_id(), keel.active_stage())\n"
            "try:\n    keel.log_metric('m', 'high')\nexcept TypeError as e:\n    print('TypeError', e)\n")

    def test_warns_once_and_writes_nothing(self):
        for env in ({}, {"KEEL_METRICS_FILE": ""}):
            with self.subTest(env=env):
                r = self.run_python(self.CODE, dict(env, PYTHONPATH=ROOT))
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertEqual(r.stderr, WARNING)
                self.assertEqual(r.stdout.splitlines()[0], "None None")
                self.assertTrue(r.stdout.splitlines()[1].startswith("TypeError keel: metric 'm'"))
                self.assertEqual(sorted(os.listdir(self.dir)), ["events.jsonl"])
                self.assertEqual(self.raw(), "")

    def test_validation_still_raises(self):
        with mock.patch.dict(os.environ, {"KEEL_METRICS_FILE": ""}):
            self.assertRaises(ValueError, keel.log_param, "", 1)
            self.assertRaises(TypeError, keel.log_metric, "m", None)
            self.assertRaises(FileNotFoundError, keel.log_artifact, os.path.join(self.dir, "nope"))


class TestConcurrency(Base):
    PAD = "x" * 3000  # lines longer than a pipe buffer's atomic size

    def log_many(self, who, count):
        for i in range(count):
            if i % 2:
                keel.log_metric(f"w{who}", i, step=i, timestamp=i)
            else:
                keel.log_params({f"w{who}.{i}": self.PAD})

    def check(self, writers, count):
        events = self.events()
        self.assertEqual(len(events), writers * count)
        for who in range(writers):
            steps = sorted(e["step"] for e in events if e.get("metric") == f"w{who}")
            self.assertEqual(steps, list(range(1, count, 2)))
            params = [e for e in events if "params" in e and next(iter(e["params"])).startswith(f"w{who}.")]
            self.assertEqual(len(params), count // 2)
            self.assertTrue(all(list(e["params"].values()) == [self.PAD] for e in params))

    def test_threads(self):
        threads = [threading.Thread(target=self.log_many, args=(who, 400)) for who in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        self.check(8, 400)

    def test_processes(self):
        keel.log_param("parent", 1)  # the children inherit an open descriptor
        pids = []
        for who in range(4):
            pid = os.fork()
            if pid == 0:
                code = 1
                try:
                    self.log_many(who, 400)
                    code = 0
                finally:
                    os._exit(code)
            pids.append(pid)
        for pid in pids:
            _, status = os.waitpid(pid, 0)
            self.assertEqual(os.waitstatus_to_exitcode(status), 0)
        keel.log_param("parent", 2)
        events = self.events()
        self.assertEqual(events[0], {"param": "parent", "value": 1})
        self.assertEqual(events[-1], {"param": "parent", "value": 2})
        with open(self.file, "w") as f:
            f.writelines(json.dumps(e) + "\n" for e in events[1:-1])
        self.check(4, 400)


class TestPackaging(Base):
    def test_pip_install(self):
        pip = subprocess.run([PYTHON, "-m", "pip", "--version"], capture_output=True, text=True)
        self.assertEqual(pip.returncode, 0, "pip is missing: apt-get install python3-pip\n" + pip.stderr)
        # Build from a copy so that the build leaves nothing in the source tree.
        src = os.path.join(self.dir, "src")
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
            "tests", "build", "*.egg-info", "__pycache__"))
        target = os.path.join(self.dir, "target")
        r = subprocess.run([PYTHON, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                            "--no-index", "--target", target, src],
                           capture_output=True, text=True, timeout=300,
                           env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"))
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        code = ("import keel, sys\n"
                "assert keel.__file__.startswith(sys.argv[1]), keel.__file__\n"
                "keel.log_metric('loss', 0.5, step=1, timestamp=2)\n")
        events = os.path.join(self.dir, "installed.jsonl")
        r = subprocess.run([PYTHON, "-c", code, target], cwd=self.dir, capture_output=True, text=True,
                           env=dict(os.environ, PYTHONPATH=target, KEEL_METRICS_FILE=events))
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(events) as f:
            self.assertEqual(f.read(), '{"metric":"loss","value":0.5,"step":1,"timestamp":2}\n')


if __name__ == "__main__":
    unittest.main()

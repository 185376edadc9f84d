"""Log params, metrics, tags and artifacts to the `keel run` running this process.

Each call appends one JSON line to the file named by KEEL_METRICS_FILE
(see docs/format/tracking.md). Outside `keel run` nothing is logged.
"""

import json
import math
import numbers
import os
import sys
import threading
import time

__version__ = "0.1.0"
__all__ = [
    "log_param", "log_params", "log_metric", "log_metrics", "set_tag",
    "set_tags", "log_artifact", "active_run_id", "active_stage",
]

MAX_NAME_BYTES = 250
_WARNING = "keel: not inside `keel run` (KEEL_METRICS_FILE is unset); nothing is logged\n"

_lock = threading.Lock()
_fd = None
_fd_path = None
_fd_pid = None
_warned = False


def _after_fork():
    global _lock
    _lock = threading.Lock()  # another thread may have held it at fork time


os.register_at_fork(after_in_child=_after_fork)


def active_run_id():
    """The id of the `keel run` running this process (KEEL_RUN_ID), or None."""
    try:
        return int(os.environ.get("KEEL_RUN_ID", ""))
    except ValueError:
        return None


def active_stage():
    """The name of the stage running this process (KEEL_STAGE), or None."""
    return os.environ.get("KEEL_STAGE") or None


def _name(name):
    if not isinstance(name, str) or not name:
        raise ValueError(f"keel: invalid name {name!r}: not a non-empty string")
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError(f"keel: invalid name {name!r}: not valid UTF-8") from None
    if size > MAX_NAME_BYTES:
        raise ValueError(f"keel: invalid name {name!r}: longer than {MAX_NAME_BYTES} bytes")
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in name):
        raise ValueError(f"keel: invalid name {name!r}: has a control character")
    return name


def _number(x):
    """x as int or float; non-finite floats as the strings "NaN", "Infinity", "-Infinity"."""
    if isinstance(x, numbers.Integral):
        x = int(x)
        if -2**63 <= x < 2**64:
            return x
        # keel reads integers of up to 64 bits.
    x = float(x)
    if math.isfinite(x):
        return x
    return "NaN" if math.isnan(x) else ("Infinity" if x > 0 else "-Infinity")


def _metric_value(key, x):
    if isinstance(x, bool) or not isinstance(x, numbers.Real):
        raise TypeError(f"keel: metric {key!r}: value {x!r} is not a number")
    return _number(x)


def _value(kind, key, v):
    if v is None or isinstance(v, (str, bool)):
        return v
    if isinstance(v, numbers.Real):
        return _number(v)
    raise TypeError(f"keel: {kind} {key!r}: value {v!r} is not a str, int, float, bool or None")


def _int(what, v):
    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"keel: {what} {v!r} is not an int")
    return int(v)


def _mapping(kind, items, convert):
    if not hasattr(items, "items"):
        raise TypeError(f"keel: {kind}s must be a dict, not {type(items).__name__}")
    return {_name(k): convert(k, v) for k, v in items.items()}


def _step_time(event, step, timestamp):
    if step is not None:
        event["step"] = _int("step", step)
    event["timestamp"] = int(time.time() * 1000) if timestamp is None else _int("timestamp", timestamp)
    return event


def _emit(event):
    global _fd, _fd_path, _fd_pid, _warned
    line = json.dumps(event, separators=(",", ":"), ensure_ascii=False, allow_nan=False) + "\n"
    data = memoryview(line.encode("utf-8"))
    path = os.environ.get("KEEL_METRICS_FILE", "")
    with _lock:
        if not path:
            if not _warned:
                _warned = True
                sys.stderr.write(_WARNING)
                sys.stderr.flush()
            return
        if _fd is None or _fd_path != path or _fd_pid != os.getpid():
            if _fd is not None:
                try:
                    os.close(_fd)
                except OSError:
                    pass
                _fd = None
            _fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o666)
            _fd_path, _fd_pid = path, os.getpid()
        while data:
            data = data[os.write(_fd, data):]


def log_param(key, value):
    """Write {"param": key, "value": value}."""
    _emit({"param": _name(key), "value": _value("param", key, value)})


def log_params(params):
    """Write {"params": {key: value, ...}} (nothing for an empty dict)."""
    params = _mapping("param", params, lambda k, v: _value("param", k, v))
    if params:
        _emit({"params": params})


def log_metric(key, value, step=None, timestamp=None):
    """Write {"metric": key, "value": value, "step": step, "timestamp": ms}."""
    event = {"metric": _name(key), "value": _metric_value(key, value)}
    _emit(_step_time(event, step, timestamp))


def log_metrics(metrics, step=None, timestamp=None):
    """Write {"metrics": {key: value, ...}, "step": step, "timestamp": ms}."""
    metrics = _mapping("metric", metrics, _metric_value)
    if metrics:
        _emit(_step_time({"metrics": metrics}, step, timestamp))


def set_tag(key, value):
    """Write {"tag": key, "value": value}."""
    _emit({"tag": _name(key), "value": _value("tag", key, value)})


def set_tags(tags):
    """Write {"tags": {key: value, ...}} (nothing for an empty dict)."""
    tags = _mapping("tag", tags, lambda k, v: _value("tag", k, v))
    if tags:
        _emit({"tags": tags})


def log_artifact(path, name=None):
    """Write {"artifact": absolute path, "name": name}; the file is stored by keel."""
    path = os.fsdecode(os.fspath(path))
    if not os.path.exists(path):
        raise FileNotFoundError(2, "keel: artifact not found", path)
    if not os.path.isfile(path):
        raise ValueError(f"keel: artifact {path!r} is not a regular file")
    event = {"artifact": os.path.abspath(path)}
    if name is not None:
        event["name"] = _name(name)
    _emit(event)

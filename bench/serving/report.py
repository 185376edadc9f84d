"""bench/serving.sh's report: the table, the ratios and PASS/MISS.

  report.py RESULTS STRICT [APART SERVER_CPUS WRK_CPU]

RESULTS holds one line per wrk run of step 2 (servers and wrk on all
cores), written by bench/serving.sh:
  target batch concurrency round requests duration_us http_errors socket_errors p50_us p99_us
(requests -1 when wrk itself failed). APART holds step 3's runs in the same
format: c8, each server alone on SERVER_CPUS and wrk's one thread on
WRK_CPU. A cell (target, batch, concurrency) reports the medians over its
rounds of req/s, p50 and p99; a cell with any HTTP error, socket error or
failed wrk run is marked FAILED and counts as a MISS for every target it is
part of. Target (c) is judged on APART when it has keel's runs (on shared
cores the p99 includes wrk's threads waiting for a core: those numbers are
printed beside it), else on RESULTS. With STRICT=1 the exit status is 1 when
a target is missed.
"""

import statistics
import sys
from collections import defaultdict

# keel's targets, checked at the end of the report.
NGINX_SHARE = 0.60      # (a) keel req/s >= 60% of nginx's, batch 1, c64
FASTAPI_FACTOR = 10.0   # (b) keel rows/s >= 10x FastAPI's (Debian's stack), batch 64, best concurrency
P99_LIMIT_MS = 2.0      # (c) keel p99 < 2 ms at c8, batch 1 and 64

TARGET_ORDER = ["keel", "fastapi", "fastapi-uvloop", "flask", "nginx"]


class Cell:
    def __init__(self, runs):
        self.runs = len(runs)
        self.failed = [r for r in runs if r["requests"] <= 0 or r["http"] or r["socket"]]
        good = [r for r in runs if r["requests"] > 0]
        self.ok = not self.failed
        self.rps = statistics.median(r["requests"] / r["seconds"] for r in good) if good else 0
        self.p50 = statistics.median(r["p50_ms"] for r in good) if good else 0
        self.p99 = statistics.median(r["p99_ms"] for r in good) if good else 0
        self.p99s = [r["p99_ms"] for r in good]  # by round
        self.http = sum(r["http"] for r in runs)
        self.socket = sum(r["socket"] for r in runs)
        self.wrk_failed = sum(r["requests"] <= 0 for r in runs)


def read(path):
    runs = defaultdict(list)
    with open(path) as f:
        for line in f:
            t, b, c, _round, n, us, http, sock, p50, p99 = line.split()
            runs[(t, int(b), int(c))].append({
                "requests": int(n), "seconds": int(us) / 1e6, "http": int(http),
                "socket": int(sock), "p50_ms": float(p50) / 1e3, "p99_ms": float(p99) / 1e3})
    return {key: Cell(value) for key, value in runs.items()}


def table(cells):
    row = "{:<14} {:>5} {:>5} {:>10} {:>11} {:>8} {:>8}  {}"
    print(row.format("target", "batch", "conc", "req/s", "rows/s", "p50 ms", "p99 ms", "runs"))
    print(row.format("-" * 14, "-" * 5, "-" * 5, "-" * 10, "-" * 11, "-" * 8, "-" * 8, "-" * 4))
    keys = sorted(cells, key=lambda k: (k[1], k[2], TARGET_ORDER.index(k[0])))
    last = None
    for key in keys:
        target, batch, conc = key
        if last and last != (batch, conc):
            print()
        last = (batch, conc)
        cell = cells[key]
        runs = f"{cell.runs} ok" if cell.ok else (
            f"FAILED in {len(cell.failed)} of {cell.runs}: {cell.http} HTTP errors, "
            f"{cell.socket} socket errors" +
            (f", {cell.wrk_failed} wrk runs without a result" if cell.wrk_failed else ""))
        print(row.format(target, batch, conc, f"{cell.rps:,.0f}", f"{cell.rps * batch:,.0f}",
                         f"{cell.p50:.3f}", f"{cell.p99:.3f}", runs))


def verdict(passed, ok=True):
    return "PASS" if passed else ("MISS" if ok else "MISS (a run FAILED)")


def share(cells, batch, conc, a, b):
    """a's req/s over b's at (batch, conc), or None when either is missing."""
    x, y = cells.get((a, batch, conc)), cells.get((b, batch, conc))
    if not x or not y or not y.rps:
        return None
    return x.rps / y.rps, x, y


def best(cells, target, batch):
    mine = [(cell.rps * batch, conc, cell) for (t, b, conc), cell in cells.items()
            if t == target and b == batch]
    return max(mine, key=lambda m: m[0]) if mine else None


def target_a(cells):
    got = share(cells, 1, 64, "keel", "nginx")
    if not got:
        print("(a) keel / nginx req/s at batch 1, c64: not measured")
        return True
    ratio, keel, nginx = got
    ok = keel.ok and nginx.ok
    passed = ok and ratio >= NGINX_SHARE
    print(f"(a) keel / nginx req/s at batch 1, c64: {ratio:.0%} ({keel.rps:,.0f} / "
          f"{nginx.rps:,.0f}); target >= {NGINX_SHARE:.0%}: {verdict(passed, ok)}")
    return passed


def rows_ratio(cells, baseline):
    """Prints keel's rows/s over baseline's at batch 64; True when (b) holds."""
    parts = []
    for conc in (8, 64):
        got = share(cells, 64, conc, "keel", baseline)
        if got:
            parts.append(f"c{conc} {got[0]:.1f}x")
    top_keel, top_base = best(cells, "keel", 64), best(cells, baseline, 64)
    if not top_keel or not top_base or not top_base[0]:
        return None
    ratio = top_keel[0] / top_base[0]
    ok = all(c.ok for (t, b, _), c in cells.items() if b == 64 and t in ("keel", baseline))
    detail = (f"{', '.join(parts) or 'c8, c64 not measured'}; best concurrency of each: keel {top_keel[0]:,.0f} (c{top_keel[1]}) "
              f"/ {baseline} {top_base[0]:,.0f} (c{top_base[1]}) = {ratio:.1f}x")
    return ratio, ok, detail


def target_b(cells):
    got = rows_ratio(cells, "fastapi")
    if not got:
        print("(b) keel / fastapi rows/s at batch 64: not measured")
        return True
    ratio, ok, detail = got
    passed = ok and ratio >= FASTAPI_FACTOR
    print(f"(b) keel / fastapi rows/s at batch 64: {detail}; "
          f"target >= {FASTAPI_FACTOR:.0f}x at the best concurrencies: {verdict(passed, ok)}")
    for other in ("fastapi-uvloop", "flask"):
        got = rows_ratio(cells, other)
        if got:
            print(f"    keel / {other} rows/s at batch 64 (no target): {got[2]}")
    return passed


def p99_at_c8(cells):
    """keel's (batch, cell, passed) at c8, for batch 1 and 64 where measured."""
    found = [(batch, cells[("keel", batch, 8)]) for batch in (1, 64) if ("keel", batch, 8) in cells]
    return [(batch, cell, cell.ok and cell.p99 < P99_LIMIT_MS) for batch, cell in found]


def describe_p99(cells, results, judged):
    def rounds(batch, cell):
        # Each round's p99, and nginx's (no work) in the same rounds: the
        # tail this machine gives any server at that moment.
        text = "rounds " + " ".join(f"{p:.2f}" for p in cell.p99s)
        nginx = cells.get(("nginx", batch, 8))
        if nginx is not None and nginx.p99s:
            text += "; nginx's p99 " + " ".join(f"{p:.2f}" for p in nginx.p99s)
        return text

    return ", ".join(f"batch {b} {c.p99:.3f} ms " + (f"{verdict(p, c.ok)} " if judged else "") +
                     f"({rounds(b, c)})" for b, c, p in results)


def target_c(shared, apart, placement):
    """Judged with wrk apart when step 3 ran, the shared-core p99 printed too."""
    judged = apart if p99_at_c8(apart) else shared
    results = p99_at_c8(judged)
    if not results:
        print("(c) keel p99 at c8: not measured")
        return True
    where = f", {placement}" if judged is apart else ""
    print(f"(c) keel p99 at c8{where}: {describe_p99(judged, results, True)}; "
          f"target < {P99_LIMIT_MS:g} ms")
    if judged is apart and p99_at_c8(shared):
        print("    the same on cores shared with wrk's 2 threads (step 2, no target): "
              f"{describe_p99(shared, p99_at_c8(shared), False)}")
    return all(p for _, _, p in results)


def context(cells):
    """Where the baselines stand against the ceiling: no target, orientation only."""
    for baseline in ("fastapi", "fastapi-uvloop", "flask"):
        got = share(cells, 1, 64, baseline, "nginx")
        if got:
            print(f"    {baseline} / nginx req/s at batch 1, c64 (no target): {got[0]:.1%}")


def main(path, strict, apart_path="", server_cpus="", wrk_cpu=""):
    cells = read(path)
    apart = read(apart_path) if apart_path else {}
    placement = f"wrk (1 thread) on CPU {wrk_cpu}, each server alone on CPU {server_cpus}"
    table(cells)
    if apart:
        print()
        print(f"step 3, c8 with {placement}:")
        table(apart)
    print()
    results = [target_a(cells), target_b(cells), target_c(cells, apart, placement)]
    context(cells)
    if not any(t == "keel" for t, _, _ in cells):
        print("keel was not measured: the targets above are not judged")
    return 1 if strict == "1" and not all(results) else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))

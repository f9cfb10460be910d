"""Drive an HTTP endpoint with `wrk` (a C load generator: it is not the bottleneck, and the run reports how much of
the machine it took) and read its figures."""

from __future__ import annotations

import os
import re
import resource
import shutil
import subprocess
import time
from pathlib import Path

SCRIPT = Path(__file__).with_name("post.lua")
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def available() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit("wrk not found: `deploy/local/tools.sh bench` installs it (Debian package wrk)")
    return path


def post(url: str, body: str, *, auth: str = "", run: str, seconds: int, connections: int, threads: int = 2) -> dict:
    """POST `body` (REF replaced by a unique reference) for `seconds`; requests/s, latency percentiles, errors
    and the share of the machine's CPU that wrk itself used."""
    env = {**os.environ, "BENCH_BODY": body, "BENCH_AUTH": auth, "BENCH_RUN": run}
    cmd = [available(), f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(SCRIPT), url]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True).stdout
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return parse(out) | {"wrk_cpu_share": round(cpu / (wall * (os.cpu_count() or 1)), 3)}


def parse(out: str) -> dict:
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if rate is None:
        raise RuntimeError(f"unexpected wrk output:\n{out}")
    result: dict = {"per_second": float(rate.group(1))}
    for pct in ("50", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if m:
            result[f"p{pct}_ms"] = round(float(m.group(1)) * _UNITS[m.group(2)], 1)
    total = re.search(r"(\d+) requests in", out)
    result["count"] = int(total.group(1)) if total else 0
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    result["errors"] = int(errors.group(1)) if errors else 0
    sockets = re.search(r"Socket errors:.*", out)
    if sockets:
        result["socket_errors"] = sockets.group(0)
    return result

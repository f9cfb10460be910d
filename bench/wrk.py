"""Drive an HTTP endpoint with `wrk` (a C load generator: it is not the bottleneck, and the run reports how much of
the machine it took) and read its figures."""

from __future__ import annotations

import asyncio
import os
import re
import resource
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

SCRIPT = Path(__file__).with_name("post.lua")
BURST_SCRIPT = Path(__file__).with_name("burst.lua")
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


async def burst(
    url: str, body: str, *, count: int, auth: str = "", run: str, connections: int, threads: int = 2
) -> Burst:
    """Start POSTing exactly `count` bodies (REF replaced by a unique reference), as fast as the server answers;
    `Burst.answered()` waits for every answer and says when each came (time.perf_counter's clock)."""
    if count % threads:
        raise ValueError(f"a burst of {count} does not split over {threads} wrk threads")
    out = tempfile.mkdtemp(prefix="bench-burst-")
    env = {**os.environ, "BENCH_BODY": body, "BENCH_AUTH": auth, "BENCH_RUN": run,
           "BENCH_COUNT": str(count // threads), "BENCH_OUT": f"{out}/answers"}  # fmt: skip
    # --timeout: a request wrk gives up on (default 2 s) would never be answered, and the burst never end
    cmd = [available(), f"-t{threads}", f"-c{max(connections, threads)}", "-d3600s", "--timeout", "120s",
           "-s", str(BURST_SCRIPT), url]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *cmd, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
    )
    return Burst(process, Path(out), count)


class Burst:
    """A running wrk burst (see `burst`)."""

    def __init__(self, process: asyncio.subprocess.Process, out: Path, count: int) -> None:
        self.process, self.out, self.count = process, out, count

    async def _stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await self.process.wait()

    def _read(self) -> list[tuple[int, str, float]]:
        lines = [line.split() for f in sorted(self.out.glob("answers-*")) for line in f.read_text().splitlines()]
        return [(int(status), id_, float(at)) for status, id_, at in lines]

    async def answered(self, timeout: float, *, expect: int = 201) -> dict[str, float]:
        """Agreement id → when its answer came back; raises if any answer was not `expect` (201: created)."""
        loop = asyncio.get_running_loop()
        deadline, progress = loop.time() + timeout, (0, loop.time())
        try:
            while len(answers := self._read()) < self.count:
                if len(answers) > progress[0]:
                    progress = (len(answers), loop.time())
                stalled = loop.time() - progress[1] > 30  # a request lost (a socket error): it never ends
                if self.process.returncode is not None or stalled or loop.time() > deadline:
                    await self._stop()
                    err = (await self.process.stderr.read()).decode() if self.process.stderr else ""
                    raise RuntimeError(f"wrk burst: {len(answers)} of {self.count} answered; {err[-500:]}")
                await asyncio.sleep(0.2)
        finally:
            await self._stop()
            shutil.rmtree(self.out, ignore_errors=True)
        failed = [(status, id_) for status, id_, _ in answers if status != expect]
        if failed:
            raise RuntimeError(f"wrk burst: {len(failed)} answers were not {expect}, e.g. {failed[:3]}")
        return {id_: at for _, id_, at in answers}


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

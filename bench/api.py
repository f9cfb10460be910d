"""P1: POST /v1/agreements (auth, validation, FX, idempotency, outbox row, one transaction) against a bare FastAPI
+ asyncpg INSERT endpoint, both driven by wrk with the same connections, a new body and Idempotency-Key on every
request. Each side is one uvicorn process on a fresh PostgreSQL database."""

from __future__ import annotations

import functools
import json
import sys

import httpx

from bench import wrk
from bench.processes import free_port
from bench.run import Run, cpu_seconds


def agreement_body(donor_id: str, country: str = "SY") -> str:
    return json.dumps(
        {
            "donor_id": donor_id,
            "reference": "REF",
            "title": "منحة لدعم الرعاية الصحية في شمال غرب سوريا",
            "amount": "125000.00",
            "currency": "USD",
            "status": "signed",
            "signed_on": "2024-06-01",
            "earmark": {"country": country, "sector": "health"},
        },
        ensure_ascii=False,
    )


async def donor(url: str, headers: dict[str, str]) -> str:
    async with httpx.AsyncClient(headers=headers, timeout=30) as c:
        r = await c.post(f"{url}/v1/donors", json={"name": "Bench", "kind": "government", "country": "KW"})
        r.raise_for_status()
        return r.json()["id"]


async def measure(run: Run, *, seconds: int, connections: int) -> dict:
    db = await run.database()
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "bench.baseline_api:app", "--port", str(port), "--log-level", "warning"]
    bare_server = await run.start(cmd, {"BASELINE_DSN": f"postgresql://aid:aid@127.0.0.1:5432/{db}"}, port, "/docs")
    items = json.dumps({"reference": "REF", "title": "منحة", "amount": "125000.00", "currency": "USD"})
    url = f"http://127.0.0.1:{port}/items"
    wrk.post(url, items, run="warm", seconds=3, connections=connections)
    bare = _with_server_cpu(
        bare_server, lambda: wrk.post(url, items, run="bare", seconds=seconds, connections=connections)
    )

    # The platform twice, each on a fresh database: each request committing alone (AID_GROUP_COMMIT=false), then
    # as deployed (group commit) — the lever's before and after in the same run.
    sides = {}
    for side, grouped in (("alone", "false"), ("api", "true")):
        pledges = await run.service("pledges", "api", await run.database(), run.new_prefix(), AID_GROUP_COMMIT=grouped)
        auth = run.headers["Authorization"]
        body = agreement_body(await donor(pledges.url, run.headers))
        url = f"{pledges.url}/v1/agreements"
        wrk.post(url, body, auth=auth, run=f"warm-{side}", seconds=3, connections=connections)
        batches = await _batches(pledges.url)
        drive = functools.partial(wrk.post, url, body, auth=auth, run=side, seconds=seconds, connections=connections)
        sides[side] = _with_server_cpu(pledges, drive)
        count, total = (after - before for after, before in zip(await _batches(pledges.url), batches, strict=True))
        sides[side]["mean_batch"] = round(total / count, 1) if count else None
        sides[side]["cpu_ms_per_request"] = _cpu_ms(sides[side], seconds)
        pledges.stop()
    bare_server.stop()
    ours, alone = sides["api"], sides["alone"]
    ours["alone_per_second"] = alone["per_second"]
    ours["alone_cpu_ms_per_request"] = alone["cpu_ms_per_request"]
    bare["cpu_ms_per_request"] = _cpu_ms(bare, seconds)
    if alone["errors"]:
        raise RuntimeError(f"non-2xx answers under load with group commit off: {alone['errors']}")
    if ours["errors"] or bare["errors"]:
        raise RuntimeError(f"non-2xx answers under load: platform {ours['errors']}, bare {bare['errors']}")
    return {"bare": bare, "platform": ours}


def _cpu_ms(side: dict, seconds: int) -> float:
    """The server process's CPU per answered request, in ms."""
    return round(side["server_cpu_seconds"] * 1000 / (side["per_second"] * seconds), 2)


async def _batches(url: str) -> tuple[float, float]:
    """How many group-commit batches the service has committed, and how many units of work were in them."""
    async with httpx.AsyncClient(timeout=10) as c:
        text = (await c.get(f"{url}/metrics")).text
    found = {"count": 0.0, "sum": 0.0}
    for line in text.splitlines():
        for part in found:
            if line.startswith(f"aid_group_commit_batch_size_{part}{{"):
                found[part] += float(line.rsplit(" ", 1)[1])
    return found["count"], found["sum"]


def _with_server_cpu(server, drive) -> dict:
    assert server.proc is not None
    before = cpu_seconds(server.proc.pid)
    result = drive()
    result["server_cpu_seconds"] = round(cpu_seconds(server.proc.pid) - before, 1)
    return result

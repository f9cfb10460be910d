"""P6: a year of worldwide FTS flows (the real PSE 2020 files multiplied, renumbered: about 25 000) imported through
`POST /v1/imports/fts` and settled — every flow an agreement, every event through the projects service's ledger,
the plan table at its final figure — on PostgreSQL + Kafka. Bare baseline: the same files read with the same
streaming parser and copied into one PostgreSQL table (no rules, no events)."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from pathlib import Path

import asyncpg
import httpx
import ijson

from bench.run import MachineCpu, Run

PSE = Path(__file__).resolve().parents[1] / "tests" / "data" / "fts" / "pse"
COUNTRY_TOTAL = Decimal("381508179")  # FTS's published plan funding + money outside every plan, PSE 2020


def pages(run: Run, copies: int) -> list[Path]:
    """`copies` renumbered copies of the PSE flows, a page each (parents and children renumbered alike)."""
    flows = []
    for page in sorted(PSE.glob("custom-search-*.json")):
        flows += json.loads(page.read_bytes())["data"]["flows"]
    out = []
    for k in range(copies):
        shift = (k + 1) * 10_000_000

        def renumber(value: object, shift: int = shift) -> str | None:
            return None if value is None else str(int(value) + shift)

        copy = [
            {
                **f,
                "id": renumber(f["id"]),
                "parentFlowId": renumber(f.get("parentFlowId")),
                "childFlowIds": [renumber(c) for c in f.get("childFlowIds") or []],
            }
            for f in flows
        ]
        path = run.tmp / f"fts-{k:03d}.json"
        path.write_text(json.dumps({"data": {"flows": copy}}))
        out.append(path)
    return out


async def bare(run: Run, files: list[Path]) -> dict:
    db = await run.database()
    conn = await asyncpg.connect(f"postgresql://aid:aid@127.0.0.1:5432/{db}")
    try:
        await conn.execute("CREATE TABLE flows (id text PRIMARY KEY, status text, amount_usd numeric, body jsonb)")
        start = time.perf_counter()
        count = 0
        for path in files:
            with path.open("rb") as f:
                rows = [
                    (str(x["id"]), x["status"], Decimal(str(x["amountUSD"])), json.dumps(x, default=str))
                    for x in ijson.items(f, "data.flows.item", use_float=False)
                ]
            await conn.copy_records_to_table("flows", records=rows)
            count += len(rows)
        return {"seconds": round(time.perf_counter() - start, 2), "flows": count}
    finally:
        await conn.close()


async def platform(run: Run, files: list[Path]) -> dict:
    prefix = run.new_prefix()
    pledges = await run.service("pledges", "all", await run.database(), prefix)
    projects = await run.service("projects", "all", await run.database(), prefix)
    tables = sorted(PSE.glob("fts_requirements_funding*.csv"))
    expected = COUNTRY_TOTAL * len(files)
    machine = MachineCpu()
    machine.start()
    start = time.perf_counter()
    async with httpx.AsyncClient(headers={**run.headers, "X-Correlation-Id": f"bench-{prefix}"}, timeout=600) as c:
        imported = 0
        for path in [*tables, *files]:
            with path.open("rb") as f:
                r = await c.post(
                    f"{pledges.url}/v1/imports/fts",
                    files=[("files", (path.name, f))],
                    headers={"Idempotency-Key": f"{prefix}{path.name}"},
                )
            r.raise_for_status()
            imported += r.json()["created"]
        answered = time.perf_counter() - start
        settled = await _settled(c, projects.url, expected, timeout=900)
    busy = machine.stop()
    for p in (pledges, projects):
        p.stop()
    return {
        "seconds": round(settled - start, 2),
        "imported_in_seconds": round(answered, 2),
        "flows": imported,
        "machine_cpu_busy": busy,
    }


async def _settled(c: httpx.AsyncClient, url: str, expected: Decimal, *, timeout: float) -> float:
    """The moment the plan table reaches its final total (every event handled by the projects service)."""
    deadline = time.perf_counter() + timeout
    while time.perf_counter() < deadline:
        r = await c.get(f"{url}/v1/reports/plan-clusters", params={"country": "PS"})
        if r.status_code == 200 and sum(Decimal(x["funding_usd"]) for x in r.json()["items"]) == expected:
            return time.perf_counter()
        await asyncio.sleep(0.5)
    raise TimeoutError(f"the plan table did not reach {expected} within {timeout} s")


async def measure(run: Run, copies: int) -> dict:
    files = pages(run, copies)
    return {"bare": await bare(run, files), "platform": await platform(run, files)}

"""`make bench`: the pledge API and the event pipeline against bare baselines, on this machine, in one run.

- API: POST /v1/agreements (auth, validation, FX, idempotency key, outbox row, one transaction) against a bare
  FastAPI + asyncpg INSERT endpoint; both as uvicorn processes on fresh PostgreSQL databases, same load.
- Pipeline: a signed agreement's POST answered → its aid.project.funding_updated on Kafka (pledges outbox relay →
  aid.pledges.v1 → projects consumer + inbox + ledger + outbox relay → aid.projects.v1), against a bare aiokafka
  consume → produce loop (one hop, same producer and consumer safety settings).

Needs `make infra-up`. Prints a table; `--json FILE` also writes the figures.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from aid_common.auth import generate_keypair, mint_token
from bench.processes import Process, free_port

PG_ADMIN = "postgresql://aid:aid@127.0.0.1:5432/postgres"
KAFKA = os.environ.get("AID_BENCH_KAFKA", "127.0.0.1:9092")
REPO = Path(__file__).resolve().parents[1]


class Run:
    """Fresh databases, keys and processes for one benchmark run; all cleaned up at the end."""

    def __init__(self) -> None:
        self.databases: list[str] = []
        self.processes: list[Process] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="crisisaid-bench-"))
        private, public = generate_keypair()
        (self.tmp / "public.pem").write_bytes(public)
        self.token = mint_token(private, subject="bench", scopes="admin")
        self.prefix = f"bench{uuid.uuid4().hex[:8]}."

    async def database(self) -> str:
        name = f"bench_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.databases.append(name)
        return name

    def env(self, db: str) -> dict[str, str]:
        return {
            "AID_MODE": "production",
            "DATABASE_URL": f"postgresql+asyncpg://aid:aid@127.0.0.1:5432/{db}",
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "AID_KAFKA_TOPIC_PREFIX": self.prefix,
            "AID_JWT_PUBLIC_KEY_FILE": str(self.tmp / "public.pem"),
            "AID_RATE_LIMIT_WRITES": "10000000/minute",  # measured is the platform, not its abuse limit
            "LOG_LEVEL": "WARNING",
        }

    async def service(self, name: str, role: str, db: str) -> Process:
        env = self.env(db)
        subprocess.run(
            [sys.executable, "-m", "aid_cli.main", "migrate", name],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        port = free_port()
        cmd = [sys.executable, "-m", "aid_cli.main", "serve", name, "--role", role, "--port", str(port)]
        return await self.start(cmd, env, port, "/readyz")

    async def start(self, cmd: list[str], env: dict[str, str], port: int, ready: str) -> Process:
        process = Process(cmd, {**os.environ, **env}, port, self.tmp / f"{len(self.processes)}.log")
        self.processes.append(process)
        await process.start(ready)
        return process

    async def close(self) -> None:
        for p in self.processes:
            p.stop()
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            for name in self.databases:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


def figures(latencies: list[float], seconds: float) -> dict[str, float]:
    ms = sorted(x * 1000 for x in latencies)
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else ms * 99
    return {
        "count": len(ms),
        "per_second": round(len(ms) / seconds, 1),
        "p50_ms": round(q[49], 1),
        "p95_ms": round(q[94], 1),
        "p99_ms": round(q[98], 1),
    }


async def load(url: str, bodies: list[dict], headers: dict[str, str], concurrency: int) -> dict[str, float]:
    latencies: list[float] = []
    queue = list(reversed(bodies))
    async with httpx.AsyncClient(headers=headers, timeout=30, limits=httpx.Limits(max_connections=concurrency)) as c:

        async def worker() -> None:
            while queue:
                body = queue.pop()
                start = time.perf_counter()
                r = await c.post(url, json=body)
                latencies.append(time.perf_counter() - start)
                if r.status_code != 201:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")

        start = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return figures(latencies, time.perf_counter() - start)


def agreement(donor_id: str, i: int, tag: str) -> dict:
    return {
        "donor_id": donor_id,
        "reference": f"BENCH-{tag}-{i:06d}",
        "title": "منحة لدعم الرعاية الصحية في شمال غرب سوريا",
        "amount": "125000.00",
        "currency": "USD",
        "status": "signed",
        "signed_on": "2024-06-01",
        "earmark": {"country": "SY", "sector": "health"},
    }


async def bench_api(run: Run, n: int, concurrency: int) -> dict:
    db = await run.database()
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "bench.baseline_api:app", "--port", str(port), "--log-level", "warning"]
    await run.start(cmd, {"BASELINE_DSN": f"postgresql://aid:aid@127.0.0.1:5432/{db}"}, port, "/docs")
    items = [{"reference": f"B-{i}", "title": "منحة", "amount": "125000.00", "currency": "USD"} for i in range(n)]
    await load(f"http://127.0.0.1:{port}/items", items[: n // 10], {}, concurrency)  # warm-up
    bare = await load(f"http://127.0.0.1:{port}/items", items, {}, concurrency)

    pledges = await run.service("pledges", "api", await run.database())
    headers = {"Authorization": f"Bearer {run.token}"}
    async with httpx.AsyncClient(headers=headers) as c:
        donor = (
            await c.post(f"{pledges.url}/v1/donors", json={"name": "Bench", "kind": "government", "country": "KW"})
        ).json()
    warm = [agreement(donor["id"], i, "warm") for i in range(n // 10)]
    await load(f"{pledges.url}/v1/agreements", warm, headers, concurrency)
    bodies = [agreement(donor["id"], i, "api") for i in range(n)]
    keyed = {**headers}
    ours = await load(f"{pledges.url}/v1/agreements", bodies, keyed, concurrency)
    return {"bare": bare, "platform": ours}


async def _watch(topic: str, want: int, key_of, seen: dict[str, float], done: asyncio.Event) -> None:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=KAFKA, auto_offset_reset="latest", enable_auto_commit=False, group_id=None
    )
    await consumer.start()
    try:
        while len(seen) < want:
            batch = await consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batch.values():
                for r in records:
                    key = key_of(r)
                    if key is not None:
                        seen.setdefault(key, now)
            if not done.is_set() and consumer.assignment():
                done.set()
    finally:
        await consumer.stop()


async def _watching(topic: str, want: int, key_of) -> tuple[asyncio.Task, dict[str, float]]:
    seen: dict[str, float] = {}
    ready = asyncio.Event()
    task = asyncio.create_task(_watch(topic, want, key_of, seen, ready))
    await asyncio.wait_for(ready.wait(), 30)
    await asyncio.sleep(1)  # the latest offsets are fixed before anything is sent
    return task, seen


async def bench_pipeline(run: Run, n: int, concurrency: int) -> dict:
    source, sink = f"{run.prefix}baseline.in", f"{run.prefix}baseline.out"
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(source, b"warm-up", key=b"w")
        await producer.send_and_wait(sink, b"warm-up", key=b"w")
        port = free_port()
        cmd = [sys.executable, "-m", "bench.baseline_pipeline", KAFKA, source, sink]
        await run.start(cmd, {}, port, None)
        await asyncio.sleep(5)  # the loop joins its group
        task, seen = await _watching(sink, n, lambda r: r.value.decode())
        sent: dict[str, float] = {}
        start = time.perf_counter()
        sem = asyncio.Semaphore(concurrency)

        async def send(i: int) -> None:
            async with sem:
                await producer.send_and_wait(source, f"m{i}".encode(), key=str(i % 16).encode())
                sent[f"m{i}"] = time.perf_counter()

        await asyncio.gather(*(send(i) for i in range(n)))
        await asyncio.wait_for(task, 120)
        bare = figures([seen[k] - sent[k] for k in sent], max(seen.values()) - start)
    finally:
        await producer.stop()

    pledges = await run.service("pledges", "all", await run.database())
    projects = await run.service("projects", "all", await run.database())
    headers = {"Authorization": f"Bearer {run.token}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as c:
        for i, gap in enumerate(("900000000.00", "600000000.00")):
            body = {"code": f"SY-H-{i}", "title": "bench", "country": "SY", "sector": "health", "requirements_usd": gap}
            assert (await c.post(f"{projects.url}/v1/projects", json=body)).status_code == 201
        donor = (
            await c.post(f"{pledges.url}/v1/donors", json={"name": "Bench", "kind": "government", "country": "KW"})
        ).json()
        await c.post(f"{pledges.url}/v1/agreements", json=agreement(donor["id"], 0, "pipe-warm"))
        await asyncio.sleep(5)

        def agreement_of(record) -> str | None:
            event = json.loads(record.value)
            return event["data"]["agreement_id"] if event["type"] == "aid.project.funding_updated" else None

        # One at a time, 0.3 s apart: the latency of an event that does not queue behind others.
        paced_n = 20
        task, seen = await _watching(f"{run.prefix}aid.projects.v1", paced_n, agreement_of)
        answered: dict[str, float] = {}
        start = time.perf_counter()
        for i in range(paced_n):
            r = await c.post(f"{pledges.url}/v1/agreements", json=agreement(donor["id"], i, "paced"))
            answered[r.json()["id"]] = time.perf_counter()
            await asyncio.sleep(0.3)
        await asyncio.wait_for(task, 60)
        paced = figures([seen[k] - answered[k] for k in answered], max(seen.values()) - start)

        task, seen = await _watching(f"{run.prefix}aid.projects.v1", n, agreement_of)
        answered = {}
        sem = asyncio.Semaphore(concurrency)
        start = time.perf_counter()

        async def sign(i: int) -> None:
            async with sem:
                r = await c.post(f"{pledges.url}/v1/agreements", json=agreement(donor["id"], i, "pipe"))
                answered[r.json()["id"]] = time.perf_counter()

        await asyncio.gather(*(sign(i) for i in range(n)))
        await asyncio.wait_for(task, 300)
        metrics = (await c.get(f"{projects.url}/metrics")).text
    ours = figures([seen[k] - answered[k] for k in answered], max(seen.values()) - start)
    ours["projects_handler_mean_ms"] = _mean_ms(metrics, "aid_event_handler_duration_seconds")
    paced["projects_handler_mean_ms"] = ours["projects_handler_mean_ms"]
    return {"bare": bare, "platform": ours, "platform, one at a time": paced}


def _mean_ms(metrics: str, histogram: str) -> float:
    """Mean of a Prometheus histogram over all its label sets, in milliseconds."""
    total = count = 0.0
    for line in metrics.splitlines():
        if line.startswith(f"{histogram}_sum"):
            total += float(line.split()[-1])
        elif line.startswith(f"{histogram}_count"):
            count += float(line.split()[-1])
    return round(total / count * 1000, 1) if count else 0.0


def report(name: str, result: dict) -> None:
    print(f"\n{name}")
    print(f"  {'':24} {'count':>7} {'per s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
    for side, f in result.items():
        row = f"  {side:24} {f['count']:>7} {f['per_second']:>9} {f['p50_ms']:>8} {f['p95_ms']:>8} {f['p99_ms']:>8}"
        print(row)
    for extra, value in result["platform"].items():
        if extra.endswith("_mean_ms"):
            print(f"  {extra.replace('_', ' ')}: {value}")
    ratio = result["bare"]["per_second"] / max(result["platform"]["per_second"], 0.1)
    print(f"  throughput: the platform does 1/{ratio:.1f} of the bare baseline's")


async def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="API requests per side")
    parser.add_argument("--events", type=int, default=500, help="events per side in the pipeline")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    run = Run()
    try:
        api = await bench_api(run, args.requests, args.concurrency)
        pipeline = await bench_pipeline(run, args.events, args.concurrency)
        results = {
            "pledge API: POST /v1/agreements vs bare FastAPI + asyncpg INSERT": api,
            "pipeline: agreement POST answered → funding_updated on Kafka vs bare consume → produce": pipeline,
        }
    finally:
        await run.close()
    for name, result in results.items():
        report(name, result)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())

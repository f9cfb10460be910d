"""One benchmark run's resources: fresh databases, keys, a topic prefix and processes, all cleaned up at the end;
and the small measuring helpers every figure shares (percentiles, watching a topic, CPU time of a process)."""

from __future__ import annotations

import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer

from aid_common.auth import generate_keypair, mint_token
from aid_common.kafka import delete_topics
from bench.processes import Process, free_port

PG_ADMIN = "postgresql://aid:aid@127.0.0.1:5432/postgres"
KAFKA = os.environ.get("AID_BENCH_KAFKA", "127.0.0.1:9092")


class Run:
    def __init__(self) -> None:
        self.databases: list[str] = []
        self.processes: list[Process] = []
        self.tmp = Path(tempfile.mkdtemp(prefix="crisisaid-bench-"))
        private, public = generate_keypair()
        (self.tmp / "public.pem").write_bytes(public)
        self.token = mint_token(private, subject="bench", scopes="admin")
        self.headers = {"Authorization": f"Bearer {self.token}"}

    @staticmethod
    def new_prefix() -> str:
        """Topics of their own: every figure starts from empty topics and a consumer group of its own."""
        return f"bench{uuid.uuid4().hex[:8]}."

    async def database(self) -> str:
        name = f"bench_{uuid.uuid4().hex[:12]}"
        conn = await asyncpg.connect(PG_ADMIN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        self.databases.append(name)
        return name

    def env(self, db: str, prefix: str, **extra: str) -> dict[str, str]:
        return {
            "AID_MODE": "production",
            "DATABASE_URL": f"postgresql+asyncpg://aid:aid@127.0.0.1:5432/{db}",
            "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
            "AID_KAFKA_TOPIC_PREFIX": prefix,
            "AID_JWT_PUBLIC_KEY_FILE": str(self.tmp / "public.pem"),
            "AID_RATE_LIMIT_WRITES": "10000000/minute",  # measured is the platform, not its abuse limit
            "AID_OUTBOX_POLL_SECONDS": "0.2",
            "LOG_LEVEL": "WARNING",
            **extra,
        }

    async def service(self, name: str, role: str, db: str, prefix: str, *, migrate: bool = True, **extra: str):
        env = self.env(db, prefix, **extra)
        if migrate:
            subprocess.run(
                [sys.executable, "-m", "crisisaid.main", "migrate", name],
                env={**os.environ, **env},
                check=True,
                capture_output=True,
            )
        port = free_port()
        cmd = [sys.executable, "-m", "crisisaid.main", "serve", name, "--role", role, "--port", str(port)]
        return await self.start(cmd, env, port, "/readyz")

    async def start(self, cmd: list[str], env: dict[str, str], port: int, ready: str | None) -> Process:
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
        await delete_topics(KAFKA, prefix="bench")  # this run's, and any a crashed run left


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = sorted(x * 1000 for x in seconds)
    q = statistics.quantiles(ms, n=100) if len(ms) > 1 else ms * 99
    return {"count": len(ms), "p50_ms": round(q[49], 1), "p95_ms": round(q[94], 1), "p99_ms": round(q[98], 1)}


class MachineCpu:
    """How busy the whole machine's CPUs were between `start()` and `stop()` (Linux /proc/stat): a figure with the
    machine at ~100 % is bound by its cores, whatever the code does."""

    @staticmethod
    def _jiffies() -> tuple[int, int]:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        idle = fields[3] + fields[4]  # idle + iowait
        return sum(fields) - idle, sum(fields)

    def start(self) -> None:
        self._begin = self._jiffies()

    def stop(self) -> float:
        busy, total = self._jiffies()
        return round((busy - self._begin[0]) / max(1, total - self._begin[1]), 3)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def until_seen(seen: dict, count: int, timeout: float, what: str) -> None:
    """Wait until `seen` (filled by another task) holds `count` keys."""
    deadline = time.perf_counter() + timeout
    while len(seen) < count:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{what}: {len(seen)} of {count} within {timeout} s")
        await asyncio.sleep(0.02)


class Watch:
    """Reads a topic from its end and notes when each wanted record first shows up."""

    def __init__(self, topic: str, key_of: Callable) -> None:
        self.topic, self.key_of = topic, key_of
        self.seen: dict[str, float] = {}
        self._task: asyncio.Task | None = None
        self._stop = asyncio.Event()

    async def __aenter__(self) -> Watch:
        ready = asyncio.Event()
        self._task = asyncio.create_task(self._run(ready))
        await asyncio.wait_for(ready.wait(), 30)
        await asyncio.sleep(1)  # the latest offsets are fixed before anything is sent
        return self

    async def __aexit__(self, *_) -> None:
        self._stop.set()
        if self._task:
            await self._task

    async def until(self, count: int, timeout: float) -> None:
        await until_seen(self.seen, count, timeout, self.topic)

    async def _run(self, ready: asyncio.Event) -> None:
        consumer = AIOKafkaConsumer(
            self.topic, bootstrap_servers=KAFKA, auto_offset_reset="latest", enable_auto_commit=False, group_id=None
        )
        await consumer.start()
        try:
            while not self._stop.is_set():
                batch = await consumer.getmany(timeout_ms=50)
                now = time.perf_counter()
                for records in batch.values():
                    for r in records:
                        key = self.key_of(r)
                        if key is not None:
                            self.seen.setdefault(key, now)
                if not ready.is_set() and consumer.assignment():
                    ready.set()
        finally:
            await consumer.stop()

"""Fixtures for the real local PostgreSQL and Kafka (make infra-up). A test that needs them and cannot reach
them fails: nothing here skips."""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest

from aid_common.auth import generate_keypair, mint_token
from aid_common.state import runtime_of

REPO = Path(__file__).resolve().parent.parent
PG_HOST, PG_PORT = os.environ.get("AID_TEST_PG_HOST", "127.0.0.1"), int(os.environ.get("AID_TEST_PG_PORT", "5432"))
PG_USER = PG_PASSWORD = "aid"
KAFKA = os.environ.get("AID_TEST_KAFKA", "127.0.0.1:9092")


def _port_open(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def pg_admin_dsn() -> str:
    if not _port_open(PG_HOST, PG_PORT):
        pytest.fail(f"PostgreSQL is not reachable at {PG_HOST}:{PG_PORT}: run `make infra-up` (tests never skip)")
    return f"postgresql://{PG_USER}:{PG_PASSWORD}@{PG_HOST}:{PG_PORT}/postgres"


@pytest.fixture
async def pg_database(pg_admin_dsn: str) -> AsyncIterator[object]:
    """Creates fresh, empty PostgreSQL databases (SQLAlchemy asyncpg URLs); drops them after the test."""
    names: list[str] = []

    async def create() -> str:
        name = f"t_{uuid.uuid4().hex[:16]}"
        conn = await asyncpg.connect(pg_admin_dsn)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()
        names.append(name)
        return f"postgresql+asyncpg://{PG_USER}:{PG_PASSWORD}@{PG_HOST}:{PG_PORT}/{name}"

    yield create
    conn = await asyncpg.connect(pg_admin_dsn)
    try:
        for name in names:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture
async def pg_url(pg_database) -> str:
    """A fresh, empty PostgreSQL database for this test."""
    return await pg_database()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'test.db'}"


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    host, port = KAFKA.split(":")
    if not _port_open(host, int(port)):
        pytest.fail(f"Kafka is not reachable at {KAFKA}: run `make infra-up` (tests never skip)")
    return KAFKA


@pytest.fixture
async def topic_prefix() -> AsyncIterator[str]:
    """Every test gets its own topics and consumer groups on the shared broker; its topics go afterwards (a
    broker that kept every test's grew to 11 000 partitions: slow restarts, a long latency tail)."""
    from aid_common.kafka import delete_topics

    prefix = f"t{uuid.uuid4().hex[:10]}."
    yield prefix
    host, port = KAFKA.split(":")
    if _port_open(host, int(port)):  # a broker-outage test may end with the broker on its way back
        await delete_topics(KAFKA, prefix=prefix)


@pytest.fixture(scope="session")
def keypair() -> tuple[bytes, bytes]:
    return generate_keypair()


@pytest.fixture(scope="session")
def key_files(tmp_path_factory: pytest.TempPathFactory, keypair: tuple[bytes, bytes]) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("keys")
    (d / "private.pem").write_bytes(keypair[0])
    (d / "public.pem").write_bytes(keypair[1])
    return d / "private.pem", d / "public.pem"


@pytest.fixture(scope="session")
def token(keypair: tuple[bytes, bytes]):
    def make(scopes: str, *, partner_id: uuid.UUID | str | None = None, subject: str = "tester") -> str:
        return mint_token(keypair[0], subject=subject, scopes=scopes, partner_id=partner_id)

    return make


@pytest.fixture
def broker_control() -> Iterator[object]:
    """Stop and start the local Kafka broker; always leaves it running."""

    class Control:
        def stop(self) -> None:
            subprocess.run([str(REPO / "deploy/local/kafka.sh"), "stop"], check=True, timeout=120)

        def start(self) -> None:
            subprocess.run([str(REPO / "deploy/local/kafka.sh"), "start"], check=True, timeout=180)

    control = Control()
    yield control
    control.start()


class ServiceHarness:
    """A service app with its runtime started, an httpx client on it, and the bus it publishes to."""

    def __init__(self, app, client, bus) -> None:
        self.app, self.client, self.bus = app, client, bus

    @property
    def runtime(self):
        return runtime_of(self.app)

    async def relay(self) -> int:
        """Publish everything the outbox holds now, batch after batch (tests drive the relay by hand)."""
        published = 0
        while sent := await self.runtime.relay.relay_once():
            published += sent
        return published


@pytest.fixture
async def start_service(key_files):
    """Start `create_app(settings)` in embedded mode on SQLite and the in-process bus (or the given ones)."""
    import httpx

    from aid_common.memory_bus import MemoryBus
    from aid_common.settings import Mode

    started: list[ServiceHarness] = []

    async def start(create_app, settings_cls, db_url: str, *, bus=None, role: str = "api", **env):
        settings = settings_cls(
            **{"AID_MODE": Mode.EMBEDDED, "DATABASE_URL": db_url, "AID_JWT_PUBLIC_KEY_FILE": str(key_files[1]), **env}
        )
        bus = bus or MemoryBus()
        app = create_app(settings, role=role, bus=bus)
        await runtime_of(app).start()
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test")
        harness = ServiceHarness(app, client, bus)
        started.append(harness)
        return harness

    yield start
    for h in started:
        await h.client.aclose()
        await h.runtime.stop()


@pytest.fixture
def processes(tmp_path: Path):
    """Start services as OS processes; every one still running is stopped after the test."""
    from tests.processes import ServiceProcess

    started: list[ServiceProcess] = []

    async def start(service: str, role: str, env: dict[str, str], port: int | None = None) -> ServiceProcess:
        p = ServiceProcess(service, role, env, tmp_path, port)
        started.append(p)
        return await p.start()

    yield start
    for p in started:
        p.stop()


@pytest.fixture
async def receiver():
    """A local webhook receiver that records every request (and answers as a test scripts it)."""
    from tests.receiver import Receiver

    r = Receiver()
    await r.start()
    yield r
    await r.stop()

"""Before a service starts serving: can it reach its database and its broker? Waits a while with progress
output (a database that starts beside us in compose or Kubernetes needs a moment), then fails naming what
is unreachable and where."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import typer
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from aid_common.db import create_engine, ping
from aid_common.kafka import KafkaSecurity
from aid_common.settings import Settings


class Unreachable(RuntimeError):
    pass


def where(database_url: str) -> str:
    """host:port/database of a URL, without the credentials."""
    parts = urlsplit(database_url)
    if parts.scheme.startswith("sqlite"):
        return database_url.split("///", 1)[-1]
    return f"{parts.hostname}:{parts.port or 5432}{parts.path}"


async def _database(url: str) -> None:
    engine = create_engine(url)
    try:
        await asyncio.wait_for(ping(engine), 5)
    finally:
        await engine.dispose()


async def _broker(servers: str, security: KafkaSecurity) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=servers, request_timeout_ms=5000, **security.client_options())
    try:
        await asyncio.wait_for(producer.start(), 10)
    finally:
        await producer.stop()


async def _wait(what: str, check: Callable[[], Awaitable[None]], timeout: float) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    attempt = 0
    while True:
        attempt += 1
        try:
            await check()
            if attempt > 1:
                typer.echo(f"{what}: reachable")
            return
        except (OSError, KafkaError, TimeoutError, ConnectionError, Exception) as exc:
            reason = f"{type(exc).__name__}: {exc}".strip().rstrip(":")
            if loop.time() >= deadline:
                raise Unreachable(f"cannot reach {what} after {timeout:.0f} s ({reason})") from exc
            typer.echo(f"waiting for {what} ({reason[:160]}) …", err=True)
            await asyncio.sleep(min(2.0 * attempt, 5.0))


async def preflight(settings: Settings, *, timeout: float) -> None:
    await _wait(f"the database at {where(settings.database_url)}", lambda: _database(settings.database_url), timeout)
    if settings.uses_kafka:
        servers = settings.kafka_bootstrap_servers or ""
        await _wait(f"Kafka at {servers}", lambda: _broker(servers, settings.kafka_security), timeout)

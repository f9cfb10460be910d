"""Helpers shared by tests: auth headers, polling, reading a Kafka topic from the beginning."""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition

PROBLEM = "application/problem+json"


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def assert_needs_scope(client, token, method: str, path: str, *, other: str) -> Any:
    """No token: 401; a token with only `other`: 403 — both problem+json. Returns the 403 answer."""
    anonymous = await client.request(method, path, json={})
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == PROBLEM, (method, path)
    wrong = await client.request(method, path, json={}, headers=auth(token(other)))
    assert wrong.status_code == 403 and wrong.headers["content-type"] == PROBLEM, (method, path)
    return wrong


def unlisted_routes(app, listed) -> list[str]:
    """The operations of the app's OpenAPI document that no (method, path, …) row of `listed` reaches: a route
    added without its row in a scope table would otherwise go untested."""
    import re

    missing = []
    for template, operations in app.openapi()["paths"].items():
        if not template.startswith("/v1/"):
            continue  # health, readiness and metrics are open by design
        pattern = re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$")
        for method in operations:
            if not any(m == method.upper() and pattern.match(p.split("?")[0]) for m, p, *_ in listed):
                missing.append(f"{method.upper()} {template}")
    return missing


async def eventually(check: Callable[[], Awaitable[Any] | Any], *, timeout: float = 30.0, interval: float = 0.1) -> Any:
    """Call `check()` (awaiting it if it is a coroutine) until it returns a truthy value; fail with the last value
    after `timeout`."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last = None
    while loop.time() < deadline:
        last = check()
        if inspect.isawaitable(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s; last value: {last!r}")


async def read_topic(
    bootstrap: str, topic: str, *, expect: int, timeout: float = 30.0, settle: float = 1.0
) -> list[Any]:
    """Every record of `topic` from the beginning: waits for at least `expect`, then `settle` seconds more
    so that extra (duplicate) records would show up too."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed",
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        partitions: set[int] | None = None
        while partitions is None and loop.time() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.2)
        assert partitions, f"topic {topic} does not exist"
        tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        records: list[Any] = []
        settle_until = None
        while loop.time() < deadline:
            batch = await consumer.getmany(timeout_ms=200)
            for rs in batch.values():
                records.extend(rs)
            if len(records) >= expect:
                settle_until = settle_until or loop.time() + settle
                if loop.time() >= settle_until:
                    break
        return records
    finally:
        await consumer.stop()


def values(records: list[Any]) -> list[dict[str, Any]]:
    return [json.loads(r.value) for r in records]

"""Outbox and relay on SQLite with the in-process bus: the same code that runs against PostgreSQL and Kafka."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from aid_common import outbox
from aid_common.db import create_all, create_engine, session_factory, transaction
from aid_common.memory_bus import MemoryBus
from aid_common.outbox import OutboxRelay
from aid_common.tables import OutboxMessage
from tests.common.sample import TOPIC, SampleBase, ThingHappened, events


@pytest.fixture
async def sessions(sqlite_url: str):
    engine = create_engine(sqlite_url)
    await create_all(engine, SampleBase.metadata)
    yield session_factory(engine)
    await engine.dispose()


async def test_committed_events_are_published_in_order_with_their_keys(sessions) -> None:
    async with transaction(sessions) as s:
        for i in range(5):
            outbox.add(s, ThingHappened(thing_id=f"k{i % 2}", seq=i, amount=Decimal("1.10"), name="قطر"), events=events)
    bus = MemoryBus()
    relay = OutboxRelay(service="test", sessions=sessions, bus=bus, database_url="sqlite://")
    assert await relay.relay_once() == 5
    assert await relay.relay_once() == 0
    published = bus.messages(TOPIC)
    bodies = [json.loads(m.value) for m in published]
    assert [b["data"]["seq"] for b in bodies] == [0, 1, 2, 3, 4]
    assert [m.key for m in published] == ["k0", "k1", "k0", "k1", "k0"]
    assert bodies[0]["data"]["name"] == "قطر" and bodies[0]["data"]["amount"] == "1.10"
    assert bodies[0]["specversion"] == "1.0" and bodies[0]["subject"] == "k0"


async def test_rolled_back_transaction_publishes_nothing(sessions) -> None:
    with pytest.raises(RuntimeError):
        async with transaction(sessions) as s:
            outbox.add(s, ThingHappened(thing_id="x", seq=1, amount=Decimal(1), name="n"), events=events)
            raise RuntimeError("business rule failed")
    bus = MemoryBus()
    assert await OutboxRelay(service="t", sessions=sessions, bus=bus, database_url="sqlite://").relay_once() == 0
    assert bus.messages(TOPIC) == []


async def test_failed_publish_keeps_rows_pending_and_records_the_error(sessions) -> None:
    from aid_common.bus import BusUnavailable

    class DownBus(MemoryBus):
        async def publish(self, messages):
            raise BusUnavailable("broker down")

    async with transaction(sessions) as s:
        outbox.add(s, ThingHappened(thing_id="x", seq=1, amount=Decimal(1), name="n"), events=events)
    with pytest.raises(BusUnavailable):
        await OutboxRelay(service="t", sessions=sessions, bus=DownBus(), database_url="sqlite://").relay_once()
    async with sessions() as s:
        row = (await s.execute(select(OutboxMessage))).scalar_one()
        assert row.published_at is None and row.attempts == 1 and "broker down" in row.last_error
    bus = MemoryBus()
    assert await OutboxRelay(service="t", sessions=sessions, bus=bus, database_url="sqlite://").relay_once() == 1
    async with sessions() as s:
        pending = (await s.execute(select(func.count()).where(OutboxMessage.published_at.is_(None)))).scalar_one()
    assert pending == 0

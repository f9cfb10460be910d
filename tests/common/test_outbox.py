"""The outbox and its relay: on SQLite with the in-process bus (the same code), then against real PostgreSQL and
Kafka — exactly once with two relays, nothing lost while the broker is down."""

from __future__ import annotations

import asyncio
import json
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from aid_common import outbox
from aid_common.db import create_all, create_engine, session_factory, transaction
from aid_common.kafka import KafkaBus
from aid_common.memory_bus import MemoryBus
from aid_common.outbox import OutboxRelay
from aid_common.tables import OutboxMessage
from tests.common.sample import TOPIC, SampleBase, ThingHappened, events
from tests.helpers import eventually, read_topic


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


async def _write(sessions, n: int, keys: int, start: int = 0) -> None:
    for i in range(start, start + n, 50):
        async with transaction(sessions) as s:
            for j in range(i, min(i + 50, start + n)):
                payload = ThingHappened(thing_id=f"key-{j % keys}", seq=j, amount=Decimal("10.00"), name="هلال")
                outbox.add(s, payload, events=events)


async def _pending(sessions) -> int:
    async with sessions() as s:
        return (await s.execute(select(func.count()).where(OutboxMessage.published_at.is_(None)))).scalar_one()


async def _run_relays(relays: list[OutboxRelay], until) -> None:
    stop = asyncio.Event()
    tasks = [asyncio.create_task(r.run(stop)) for r in relays]
    try:
        await until()
    finally:
        stop.set()
        await asyncio.gather(*tasks)


async def test_two_relays_publish_every_row_exactly_once_in_key_order(pg_url, kafka_bootstrap, topic_prefix) -> None:
    engine_a, engine_b = create_engine(pg_url), create_engine(pg_url)  # as if two processes
    await create_all(engine_a, SampleBase.metadata)
    sessions_a, sessions_b = session_factory(engine_a), session_factory(engine_b)
    bus_a = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[TOPIC])
    bus_b = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[TOPIC])
    relays = [
        OutboxRelay(service="a", sessions=sessions_a, bus=bus_a, database_url=pg_url, batch_size=25),
        OutboxRelay(service="b", sessions=sessions_b, bus=bus_b, database_url=pg_url, batch_size=25),
    ]
    total = 600

    async def written_and_drained() -> None:
        await _write(sessions_a, total, keys=12)
        await eventually(lambda: _zero(sessions_a), timeout=60)

    try:
        await _run_relays(relays, written_and_drained)
        records = await read_topic(kafka_bootstrap, topic_prefix + TOPIC, expect=total, settle=2.0)
        ids = [json.loads(r.value)["id"] for r in records]
        assert len(ids) == total and len(set(ids)) == total, "each row exactly once"
        by_key: dict[str, list[tuple[int, int, int]]] = defaultdict(list)  # (seq, partition, offset) as read
        for r in records:
            by_key[r.key.decode()].append((json.loads(r.value)["data"]["seq"], r.partition, r.offset))
        out_of_order = {k: got for k, got in by_key.items() if [s for s, _, _ in got] != sorted(s for s, _, _ in got)}
        assert not out_of_order, f"order per key holds; (seq, partition, offset) read: {out_of_order}"
        async with sessions_a() as s:
            published_by = await s.execute(select(func.count()).where(OutboxMessage.published_at.is_not(None)))
            assert published_by.scalar_one() == total
    finally:
        await bus_a.stop()
        await bus_b.stop()
        await engine_a.dispose()
        await engine_b.dispose()


async def test_a_relay_never_publishes_a_keys_row_past_an_earlier_one_another_relay_holds(pg_url) -> None:
    """The interleaving behind a once-seen CI failure: relay B's transaction holds row 2 of a key (claimed, held
    back), and relay A claims rows 1 and 3 of that key around it (FOR UPDATE SKIP LOCKED). A may publish row 1,
    never row 3: B would publish row 2 after it."""
    engine = create_engine(pg_url)
    await create_all(engine, SampleBase.metadata)
    sessions = session_factory(engine)
    try:
        async with transaction(sessions) as s:
            for seq in (1, 2, 3):
                outbox.add(s, ThingHappened(thing_id="k", seq=seq, amount=Decimal(1), name="n"), events=events)
        async with sessions() as other_relay, other_relay.begin():
            second = select(OutboxMessage.id).order_by(OutboxMessage.id).offset(1).limit(1).scalar_subquery()
            held = select(OutboxMessage).where(OutboxMessage.id == second).with_for_update()  # row 2 alone
            assert json.loads((await other_relay.execute(held)).scalar_one().payload)["data"]["seq"] == 2
            bus = MemoryBus()
            relay = OutboxRelay(service="a", sessions=sessions, bus=bus, database_url=pg_url)
            assert await relay.relay_once() == 1
            assert [json.loads(m.value)["data"]["seq"] for m in bus.messages(TOPIC)] == [1]
        # the other relay's transaction ended without publishing row 2: now rows 2 and 3 go, in that order
        assert await relay.relay_once() == 2
        assert [json.loads(m.value)["data"]["seq"] for m in bus.messages(TOPIC)] == [1, 2, 3]
    finally:
        await engine.dispose()


async def test_a_relay_publishes_a_batch_in_two_statements(pg_url) -> None:
    """One claim (with its key-order check) and one UPDATE per batch, whatever its size: every statement is a round
    trip on each hop of the pipeline."""
    engine = create_engine(pg_url)
    await create_all(engine, SampleBase.metadata)
    sessions = session_factory(engine)
    statements: list[str] = []
    try:
        await _write(sessions, 30, keys=4)
        sa_event.listen(engine.sync_engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        bus = MemoryBus()
        assert await OutboxRelay(service="t", sessions=sessions, bus=bus, database_url=pg_url).relay_once() == 30
        assert [json.loads(m.value)["data"]["seq"] for m in bus.messages(TOPIC)] == list(range(30))
        assert len(statements) == 2, statements
    finally:
        await engine.dispose()


async def _zero(sessions) -> bool:
    return await _pending(sessions) == 0


async def test_rows_written_while_the_broker_is_down_are_published_after_it_returns(
    pg_url, kafka_bootstrap, topic_prefix, broker_control
) -> None:
    engine = create_engine(pg_url)
    await create_all(engine, SampleBase.metadata)
    sessions = session_factory(engine)
    bus = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[TOPIC], request_timeout_ms=5000)
    relay = OutboxRelay(service="t", sessions=sessions, bus=bus, database_url=pg_url)
    try:
        await _write(sessions, 10, keys=3)
        await _run_relays([relay], lambda: eventually(lambda: _zero(sessions), timeout=30))

        broker_control.stop()

        async def outage_then_recovery() -> None:
            await _write(sessions, 40, keys=3, start=10)
            await asyncio.sleep(3)  # the relay tries and fails meanwhile
            assert await _pending(sessions) == 40
            broker_control.start()
            await eventually(lambda: _zero(sessions), timeout=90)

        await _run_relays([relay], outage_then_recovery)
        records = await read_topic(kafka_bootstrap, topic_prefix + TOPIC, expect=50, settle=2.0)
        seqs = sorted(json.loads(r.value)["data"]["seq"] for r in records)
        assert seqs == list(range(50)), "nothing lost and nothing published twice"
    finally:
        await bus.stop()
        await engine.dispose()


@pytest.mark.parametrize(("database", "n"), [("sqlite", 300), ("postgresql", 300), ("postgresql", 12)])
async def test_many_events_added_alike_are_published_in_order_and_only_if_committed(
    database, n, sqlite_url, pg_url
) -> None:
    """`add_alike` (COPY on PostgreSQL from a hundred rows, a multi-row INSERT below and elsewhere): one envelope
    copied with what differs — each event its own id and key, published in the order given, gone with a rollback
    like any other write."""
    url = pg_url if database == "postgresql" else sqlite_url
    engine = create_engine(url)
    await create_all(engine, SampleBase.metadata)
    sessions = session_factory(engine)
    try:
        template = ThingHappened(thing_id="k0", seq=0, amount=Decimal("2.50"), name="الكويت")
        variants = [{"thing_id": f"k{i % 3}", "seq": i} for i in range(n)]
        with pytest.raises(RuntimeError):
            async with transaction(sessions) as s:
                outbox.add_alike(s, template, variants[:10], events=events)
                raise RuntimeError("the caller's work failed")
        async with transaction(sessions) as s:
            outbox.add_alike(s, template, variants, events=events)
        bus = MemoryBus()
        relay = OutboxRelay(service="test", sessions=sessions, bus=bus, database_url="sqlite://", batch_size=500)
        assert await relay.relay_once() == n
        messages = bus.messages(TOPIC)
        published = [json.loads(m.value) for m in messages]
        assert [e["data"]["seq"] for e in published] == list(range(n))
        assert [m.key for m in messages[:4]] == ["k0", "k1", "k2", "k0"]
        assert [e["subject"] for e in published[:4]] == ["k0", "k1", "k2", "k0"]
        assert len({e["id"] for e in published}) == n, "every event its own id"
        assert published[1]["data"]["name"] == "الكويت" and published[1]["data"]["amount"] == "2.50"
        assert {e["type"] for e in published} == {events.for_payload(template).type}
        async with transaction(sessions) as s:
            assert await s.scalar(select(func.count()).where(OutboxMessage.published_at.is_(None))) == 0
    finally:
        await engine.dispose()


async def test_a_relay_is_woken_once_by_the_commit_not_by_each_savepoint(sessions) -> None:
    """A consumer batch handles each event in a savepoint of its own: releasing one must not send the relay to
    look for rows nobody can see yet (a claim query per event) — and the real commit must still wake it."""
    relay = OutboxRelay(service="t", sessions=sessions, bus=MemoryBus(), database_url="sqlite://")
    relay._wake.clear()
    async with transaction(sessions) as s:
        for seq in range(3):
            async with s.begin_nested():
                outbox.add(s, ThingHappened(thing_id="k", seq=seq, amount=Decimal(1), name="n"), events=events)
            assert not relay._wake.is_set(), "woken by a released savepoint"
        with pytest.raises(RuntimeError):
            async with s.begin_nested():  # one event fails: its savepoint rolls back, the others still commit
                outbox.add(s, ThingHappened(thing_id="k", seq=9, amount=Decimal(1), name="n"), events=events)
                raise RuntimeError("handler failed")
    assert relay._wake.is_set(), "the commit wakes the relay"
    assert await relay.relay_once() == 3

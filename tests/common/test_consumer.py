"""The consumer against real PostgreSQL and Kafka: effects once on redelivery and after a crash before the
offset commit; poison messages to the dead-letter topic while the consumer carries on."""

from __future__ import annotations

import asyncio
import subprocess
import sys

import pytest
from aiokafka import AIOKafkaProducer
from sqlalchemy import func, select

from aid_common.consumer import EventConsumer
from aid_common.db import create_all, create_engine, session_factory
from aid_common.events import DEADLETTER_TOPIC
from aid_common.kafka import KafkaBus
from aid_common.subscriptions import on
from aid_common.tables import InboxMessage
from tests.common.sample import (
    TOPIC,
    Effect,
    SampleBase,
    ThingHappened,
    count_effects,
    events,
    record_effect,
    thing_event,
)
from tests.conftest import REPO
from tests.helpers import eventually, read_topic


@pytest.fixture
async def db(pg_url):
    engine = create_engine(pg_url)
    await create_all(engine, SampleBase.metadata)
    yield session_factory(engine)
    await engine.dispose()


async def _produce(bootstrap: str, topic: str, values: list[bytes], key: bytes = b"t-1") -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for v in values:
            await producer.send_and_wait(topic, v, key=key)
    finally:
        await producer.stop()


def _consumer(bus, sessions, name="projects", handler=record_effect, **kw) -> EventConsumer:
    return EventConsumer(
        service="test",
        name=name,
        bus=bus,
        topics=[TOPIC],
        subscriptions=[on(ThingHappened, handler, events=events)],
        sessions=sessions,
        registry=events,
        retry_base_seconds=0.01,
        **kw,
    )


async def _run_until(consumer: EventConsumer, condition, timeout: float = 30) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await eventually(condition, timeout=timeout)
    finally:
        stop.set()
        await task


async def test_the_same_event_delivered_twice_takes_effect_once(db, kafka_bootstrap, topic_prefix) -> None:
    event = thing_event()
    await _produce(kafka_bootstrap, topic_prefix + TOPIC, [event.to_json().encode()] * 2)
    bus = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[TOPIC, DEADLETTER_TOPIC])
    consumer = _consumer(bus, db)

    async def both_seen() -> bool:
        return consumer.outcomes["handled"] + consumer.outcomes["duplicate"] == 2

    await _run_until(consumer, both_seen)
    await bus.stop()
    assert consumer.outcomes == {"handled": 1, "duplicate": 1}
    async with db() as s:
        assert await count_effects(s) == 1
        effect = (await s.execute(select(Effect))).scalar_one()
        assert effect.name == "هلال أحمر 🌙"


async def test_a_consumer_killed_before_its_offset_commit_does_not_apply_the_event_twice(
    db, pg_url, kafka_bootstrap, topic_prefix
) -> None:
    await _produce(kafka_bootstrap, topic_prefix + TOPIC, [thing_event().to_json().encode()])
    proc = subprocess.run(
        [sys.executable, "-m", "tests.common.crash_consumer", pg_url, kafka_bootstrap, topic_prefix],
        cwd=REPO,
        timeout=120,
        capture_output=True,
        text=True,
    )
    assert proc.returncode == -9, f"expected death by SIGKILL, got {proc.returncode}: {proc.stderr[-2000:]}"
    async with db() as s:
        assert await count_effects(s) == 1, "the handler's transaction committed before the kill"

    bus = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix)
    restarted = _consumer(bus, db, name="crashy")  # same group: the offset was never committed
    await _run_until(restarted, lambda: restarted.outcomes["duplicate"] == 1)
    await bus.stop()
    async with db() as s:
        assert await count_effects(s) == 1
        assert (await s.execute(select(func.count()).select_from(InboxMessage))).scalar_one() == 1


async def test_poison_messages_go_to_the_dead_letter_topic_and_the_next_message_is_handled(
    db, kafka_bootstrap, topic_prefix
) -> None:
    good = thing_event(thing_id="t-1", seq=3)
    wrong_schema = thing_event(thing_id="t-1", seq=2)
    wrong_schema.data = {"thing_id": "t-1", "amount": "not a number"}
    await _produce(
        kafka_bootstrap,
        topic_prefix + TOPIC,
        [b"\xff not json at all", wrong_schema.to_json().encode(), good.to_json().encode()],
    )
    bus = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[TOPIC, DEADLETTER_TOPIC])
    consumer = _consumer(bus, db)
    await _run_until(consumer, lambda: consumer.outcomes["handled"] == 1)
    await bus.stop()
    assert consumer.outcomes["deadlettered"] == 2
    dead = await read_topic(kafka_bootstrap, topic_prefix + DEADLETTER_TOPIC, expect=2)
    assert dead[0].value == b"\xff not json at all"
    headers = [dict(d.headers) for d in dead]
    assert headers[0]["aid-original-topic"] == TOPIC.encode()
    assert {h["aid-error-reason"] for h in headers} == {b"not-a-cloudevent", b"invalid-data"}
    assert [int(h["aid-original-offset"]) for h in headers] == [0, 1]
    assert all("aid-error" in h and h["aid-original-partition"] for h in headers)
    async with db() as s:
        assert await count_effects(s) == 1


async def test_a_handler_that_keeps_failing_is_dead_lettered_after_its_attempts(db, kafka_bootstrap, topic_prefix):
    calls = 0

    async def broken(session, payload, event) -> None:
        nonlocal calls
        calls += 1
        raise ValueError("rule violated")

    await _produce(kafka_bootstrap, topic_prefix + TOPIC, [thing_event().to_json().encode()])
    bus = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[TOPIC, DEADLETTER_TOPIC])
    consumer = _consumer(bus, db, handler=broken, max_attempts=3)
    await _run_until(consumer, lambda: consumer.outcomes["deadlettered"] == 1)
    await bus.stop()
    assert calls == 3
    dead = await read_topic(kafka_bootstrap, topic_prefix + DEADLETTER_TOPIC, expect=1)
    assert b"rule violated" in dict(dead[0].headers)["aid-error"]
    async with db() as s:
        assert (await s.execute(select(func.count()).select_from(InboxMessage))).scalar_one() == 0


async def test_a_batch_with_one_failing_event_commits_the_others_and_dead_letters_only_that_one(sqlite_url) -> None:

    engine = create_engine(sqlite_url)
    await create_all(engine, SampleBase.metadata)
    sessions = session_factory(engine)

    async def sometimes(session, payload: ThingHappened, event) -> None:
        if payload.seq == 3:
            raise ValueError("this one is broken")
        await record_effect(session, payload, event)

    bus = await _six_things()
    consumer = _consumer(bus, sessions, handler=sometimes, max_attempts=2)
    done = await consumer.process_batch(await _poll_all(bus), asyncio.Event())
    assert len(done) == 6, "every message is done: five handled in one transaction, one dead-lettered"
    async with sessions() as s:
        assert await count_effects(s) == 5
    assert consumer.outcomes["handled"] == 5 and consumer.outcomes["deadlettered"] == 1
    [dead] = bus.messages(DEADLETTER_TOPIC)
    assert b"this one is broken" in dict(dead.headers)["aid-error"]
    await engine.dispose()


async def test_a_batch_without_a_failing_event_takes_no_savepoint_and_one_with_one_commits_the_others_once(
    db,
) -> None:
    """Savepoints (two round trips per event) only when an event of the round fails: then the round is rolled
    back and run again with them, and the events before the failing one take effect once, not twice."""
    from sqlalchemy import event as sa_event

    from aid_common.bus import OutgoingMessage
    from aid_common.memory_bus import MemoryBus

    async def sometimes(session, payload: ThingHappened, event) -> None:
        if payload.seq == 9:
            raise ValueError("this one is broken")
        await record_effect(session, payload, event)

    statements: list[str] = []
    engine = db.kw["bind"].sync_engine
    sa_event.listen(engine, "before_cursor_execute", lambda c, cur, statement, *a: statements.append(statement))
    bus = MemoryBus()
    consumer = _consumer(bus, db, handler=sometimes, max_attempts=1)
    subscriber = bus.subscriber(group="batch", topics=[TOPIC])
    await subscriber.start()
    for seqs in ((1, 2, 3, 4, 5, 6), (7, 8, 9, 10)):
        await bus.publish(
            [
                OutgoingMessage(topic=TOPIC, key=f"t-{i}", value=thing_event(f"t-{i}", seq=i).to_json().encode())
                for i in seqs
            ]
        )
        statements.clear()
        done = await consumer.process_batch(await subscriber.poll(timeout=0.1, max_records=100), asyncio.Event())
        assert len(done) == len(seqs)
        savepoints = [s for s in statements if s.startswith("SAVEPOINT")]
        if 9 not in seqs:
            assert savepoints == [], "a clean batch takes no savepoint"
        else:
            assert len(savepoints) >= 3, "run again with a savepoint per event"
    async with db() as s:
        assert await count_effects(s) == 9  # 1–8 and 10, each once
    assert consumer.outcomes["handled"] == 9 and consumer.outcomes["deadlettered"] == 1


async def _six_things():
    """An in-process bus holding six thing events (seq 1–6), each on its own key."""
    from aid_common.bus import OutgoingMessage
    from aid_common.memory_bus import MemoryBus

    bus = MemoryBus()
    await bus.publish(
        [
            OutgoingMessage(topic=TOPIC, key=f"t-{i}", value=thing_event(f"t-{i}", seq=i).to_json().encode())
            for i in range(1, 7)
        ]
    )
    return bus


async def _poll_all(bus):
    subscriber = bus.subscriber(group="batch", topics=[TOPIC])
    await subscriber.start()
    return await subscriber.poll(timeout=0.1, max_records=100)


async def test_a_batch_does_what_its_free_locks_cover_first_and_the_rest_after_keeping_each_keys_order(
    sqlite_url,
) -> None:
    """A worker whose batch mixes earmarks it can lock now with one another worker holds does the free ones at once
    (first transaction) and waits only for the rest (second) — never running a key's later event before its
    earlier one."""
    from aid_common.bus import OutgoingMessage
    from aid_common.memory_bus import MemoryBus

    engine = create_engine(sqlite_url)
    await create_all(engine, SampleBase.metadata)
    sessions = session_factory(engine)
    order: list[int] = []
    calls: list[tuple[list[int], bool]] = []

    async def note(session, payload: ThingHappened, event) -> None:
        order.append(payload.seq)
        await record_effect(session, payload, event)

    async def busy_odd_seqs(session, payloads, wait: bool):  # odd ones busy at first; waiting, it gets them all
        calls.append(([p.seq for p in payloads], wait))
        if wait:
            return None
        return {i for i, p in enumerate(payloads) if p.seq % 2 == 0} if len(calls) == 1 else set()

    keys = {1: "a", 2: "b", 3: "c", 4: "c", 5: "d", 6: "e"}  # 4 follows 3 on key c: it waits with it
    bus = MemoryBus()
    await bus.publish(
        [
            OutgoingMessage(topic=TOPIC, key=k, value=thing_event(f"t-{seq}", seq=seq).to_json().encode())
            for seq, k in keys.items()
        ]
    )
    consumer = _consumer(bus, sessions, handler=note, before_batch=busy_odd_seqs)
    done = await consumer.process_batch(await _poll_all(bus), asyncio.Event())
    assert len(done) == 6 and consumer.outcomes["handled"] == 6
    assert calls == [([1, 2, 3, 4, 5, 6], False), ([1, 3, 4, 5], False), ([1, 3, 4, 5], True)]
    assert order == [2, 6, 1, 3, 4, 5], "free ones first; 4 after 3 (same key) although its lock was free"
    async with sessions() as s:
        assert await count_effects(s) == 6
    await engine.dispose()


async def test_a_batch_over_many_partitions_commits_its_offsets_in_one_request(
    db, kafka_bootstrap, topic_prefix, monkeypatch
) -> None:
    """One OffsetCommit per batch, whatever the number of partitions in it (there was one per partition), and
    every partition's committed offset is past its last message."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        sent = [
            await producer.send_and_wait(
                topic_prefix + TOPIC, thing_event(f"t-{i}").to_json().encode(), key=f"t-{i}".encode()
            )
            for i in range(30)
        ]
    finally:
        await producer.stop()
    ends: dict[int, int] = {}
    for record in sent:
        ends[record.partition] = max(ends.get(record.partition, 0), record.offset + 1)
    assert len(ends) > 1, "the keys spread over several partitions"

    requests: list[set[int]] = []
    batches: list[set[int]] = []
    original_commit, original_batch = AIOKafkaConsumer.commit, EventConsumer.process_batch

    async def commit(self, offsets=None):
        requests.append({tp.partition for tp in offsets})
        return await original_commit(self, offsets)

    async def process_batch(self, messages, stop=None):
        done = await original_batch(self, messages, stop)
        if done:
            batches.append({m.partition for m in done})
        return done

    monkeypatch.setattr(AIOKafkaConsumer, "commit", commit)
    monkeypatch.setattr(EventConsumer, "process_batch", process_batch)
    bus = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[TOPIC, DEADLETTER_TOPIC])
    consumer = _consumer(bus, db)
    await _run_until(consumer, lambda: consumer.outcomes["handled"] == 30)
    await bus.stop()
    assert any(len(b) > 1 for b in batches), "a batch spanned partitions"
    assert requests == batches  # one request per batch, naming every partition it handled

    check = AIOKafkaConsumer(bootstrap_servers=kafka_bootstrap, group_id=topic_prefix + "projects")
    await check.start()
    try:
        for partition, end in ends.items():
            assert await check.committed(TopicPartition(topic_prefix + TOPIC, partition)) == end
    finally:
        await check.stop()


async def test_what_a_round_kept_is_forgotten_with_the_event_whose_savepoint_is_rolled_back(sqlite_url) -> None:
    """A handler may carry a figure forward through its round (`kept`) instead of reading it per event. An event
    that fails took its part of the figure with it when its savepoint was rolled back: the events after it see the
    figure as the database holds it, never one that counts the undone event."""
    from aid_common.db import kept

    engine = create_engine(sqlite_url)
    await create_all(engine, SampleBase.metadata)
    sessions = session_factory(engine)

    async def running_total(session, payload: ThingHappened, event) -> None:
        figures = kept(session, "effects")
        if "total" not in figures:
            figures["total"] = await count_effects(session)  # what the database holds
        figures["total"] += 1
        if payload.seq == 3:
            raise ValueError("this one is broken")
        await record_effect(session, payload.model_copy(update={"name": str(figures["total"])}), event)

    bus = await _six_things()
    consumer = _consumer(bus, sessions, handler=running_total, max_attempts=1)
    await consumer.process_batch(await _poll_all(bus), asyncio.Event())
    async with sessions() as s:
        names = sorted(int(n) for n in (await s.execute(select(Effect.name))).scalars())
    assert names == [1, 2, 3, 4, 5], "each handled event counted once; the failed one not at all"
    await engine.dispose()


async def test_a_write_the_database_refuses_when_the_round_ends_fails_its_event_alone(db) -> None:
    """Handlers' rows go in together when the round ends (a statement per table). A row the database refuses
    there fails the event that wrote it, not the round: the others are handled once, that one is dead-lettered."""

    async def too_long_for_one(session, payload: ThingHappened, event) -> None:
        name = "x" * 300 if payload.seq == 3 else payload.name  # the column holds 200: refused only at the flush
        await record_effect(session, payload.model_copy(update={"name": name}), event)

    bus = await _six_things()
    consumer = _consumer(bus, db, handler=too_long_for_one, max_attempts=1)
    done = await consumer.process_batch(await _poll_all(bus), asyncio.Event())
    assert len(done) == 6
    async with db() as s:
        assert await count_effects(s) == 5
    assert consumer.outcomes["handled"] == 5 and consumer.outcomes["deadlettered"] == 1
    [dead] = bus.messages(DEADLETTER_TOPIC)
    assert dict(dead.headers)["aid-original-offset"] == b"2"

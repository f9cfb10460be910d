"""The Kafka bus against the real broker: what a tail reader (the console's live feed) sees and leaves behind."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient

from aid_common.bus import OutgoingMessage
from aid_common.kafka import KafkaBus, delete_topics
from tests.helpers import eventually

TOPIC = "aid.sample.v1"


async def test_a_tail_reader_starts_at_the_latest_messages_follows_new_ones_and_joins_no_group(
    kafka_bootstrap, topic_prefix
) -> None:
    bus = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[TOPIC])
    await bus.start()
    try:
        await bus.publish([OutgoingMessage(topic=TOPIC, key="agreement-1", value=f"m{i}".encode()) for i in range(5)])
        reader = bus.subscriber(group="console-live", topics=[TOPIC], tail=2)
        await reader.start()
        try:
            seen = [m.value for m in await reader.poll(timeout=5, max_records=100)]
            assert seen == [b"m3", b"m4"], "only the last two of the partition, not the whole history"
            await bus.publish([OutgoingMessage(topic=TOPIC, key="agreement-1", value=b"m5")])
            new = []
            for _ in range(20):
                new += [m.value for m in await reader.poll(timeout=0.5, max_records=100)]
                if new:
                    break
            assert new == [b"m5"]
        finally:
            await reader.stop()
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            groups = [g[0] for g in await admin.list_consumer_groups()]
        finally:
            await admin.close()
        assert not [g for g in groups if g.startswith(topic_prefix)], "a live view leaves no consumer group behind"
    finally:
        await bus.stop()


async def test_a_throwaway_prefix_s_topics_are_deleted_and_no_other(kafka_bootstrap) -> None:
    mine, other = f"t{uuid.uuid4().hex[:10]}.", f"t{uuid.uuid4().hex[:10]}."
    for prefix in (mine, other):
        bus = KafkaBus(kafka_bootstrap, topic_prefix=prefix, create_topics=[TOPIC, "aid.other.v1"])
        await bus.start()
        await bus.stop()
    assert sorted(await delete_topics(kafka_bootstrap, prefix=mine)) == [mine + "aid.other.v1", mine + TOPIC]

    async def topics() -> set[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
        await admin.start()
        try:
            return set(await admin.list_topics())
        finally:
            await admin.close()

    async def mine_gone() -> bool:  # the broker removes a deleted topic from its metadata shortly after
        return not [t for t in await topics() if t.startswith(mine)]

    await eventually(mine_gone, timeout=20)
    assert {other + TOPIC, other + "aid.other.v1"} <= await topics()
    await delete_topics(kafka_bootstrap, prefix=other)
    with pytest.raises(ValueError):
        await delete_topics(kafka_bootstrap, prefix="")

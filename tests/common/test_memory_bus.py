"""The in-process bus (embedded mode): a tail reader sees the latest messages and is nobody's backlog."""

from __future__ import annotations

from aid_common.bus import OutgoingMessage
from aid_common.memory_bus import MemoryBus

TOPIC = "aid.sample.v1"


async def test_a_tail_reader_starts_at_the_latest_messages_and_adds_no_backlog() -> None:
    bus = MemoryBus()
    await bus.publish([OutgoingMessage(topic=TOPIC, key="a", value=f"m{i}".encode()) for i in range(5)])
    reader = bus.subscriber(group="console-live", topics=[TOPIC], tail=2)
    await reader.start()
    assert [m.value for m in await reader.poll(timeout=0.1, max_records=100)] == [b"m3", b"m4"]
    await bus.publish([OutgoingMessage(topic=TOPIC, key="a", value=b"m5")])
    [new] = await reader.poll(timeout=0.1, max_records=100)
    await reader.commit(new)
    assert new.value == b"m5"
    assert bus.backlog() == 0, "a shutdown would drop nothing that any consumer group still needs"

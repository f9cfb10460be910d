"""An in-process bus for the embedded mode and fast tests: one partition per topic, offsets per group.

Not durable: it lives as long as the process. The outbox keeps unpublished events across restarts.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence

from aid_common.bus import Bus, IncomingMessage, OutgoingMessage, Subscriber


class MemoryBus(Bus):
    def __init__(self) -> None:
        self.topics: dict[str, list[IncomingMessage]] = defaultdict(list)
        self.committed: dict[tuple[str, str], int] = defaultdict(int)  # (group, topic) -> next offset
        self.groups: dict[str, set[str]] = defaultdict(set)  # group -> the topics it reads
        self._changed = asyncio.Condition()

    async def start(self) -> None:
        return None

    async def stop(self) -> None:
        return None

    async def ping(self) -> None:
        return None

    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        async with self._changed:
            for m in messages:
                log = self.topics[m.topic]
                log.append(IncomingMessage(m.topic, 0, len(log), m.key, m.value, list(m.headers)))
            self._changed.notify_all()

    def subscriber(self, *, group: str, topics: Sequence[str], tail: int | None = None) -> Subscriber:
        if tail is None:  # a tail reader is no group member: what it has not read is nobody's backlog
            self.groups[group].update(topics)
        return _MemorySubscriber(self, group, list(topics), tail)

    def backlog(self) -> int:
        """Messages some consumer group has not committed yet: what a shutdown now would drop."""
        return sum(
            len(self.topics.get(t, [])) - self.committed[(g, t)] for g, topics in self.groups.items() for t in topics
        )

    def messages(self, topic: str) -> list[IncomingMessage]:
        return list(self.topics.get(topic, []))


class _MemorySubscriber(Subscriber):
    def __init__(self, bus: MemoryBus, group: str, topics: list[str], tail: int | None = None) -> None:
        self.bus, self.group, self.topics, self.tail = bus, group, topics, tail
        self.position: dict[str, int] = {}

    async def start(self) -> None:
        if self.tail is not None:
            self.position = {t: max(0, len(self.bus.topics.get(t, [])) - self.tail) for t in self.topics}
        else:
            self.position = {t: self.bus.committed[(self.group, t)] for t in self.topics}

    async def stop(self) -> None:
        return None

    def _available(self, max_records: int) -> list[IncomingMessage]:
        out: list[IncomingMessage] = []
        for t in self.topics:
            log = self.bus.topics.get(t, [])
            out.extend(log[self.position[t] : self.position[t] + max_records - len(out)])
            if len(out) >= max_records:
                break
        return out

    async def poll(self, *, timeout: float, max_records: int) -> list[IncomingMessage]:
        async with self.bus._changed:
            batch = self._available(max_records)
            if not batch:
                try:
                    await asyncio.wait_for(self.bus._changed.wait(), timeout)
                except TimeoutError:
                    return []
                batch = self._available(max_records)
        for m in batch:
            self.position[m.topic] = m.offset + 1
        return batch

    async def commit(self, *messages: IncomingMessage) -> None:
        if self.tail is not None:
            return
        for message in messages:
            key = (self.group, message.topic)
            self.bus.committed[key] = max(self.bus.committed[key], message.offset + 1)

    async def lag(self) -> dict[tuple[str, int], int]:
        return {(t, 0): len(self.bus.topics.get(t, [])) - self.bus.committed[(self.group, t)] for t in self.topics}

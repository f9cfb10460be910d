"""The event bus interface: Kafka in production, an in-process bus for the embedded mode and fast tests.

Both deliver at least once and in order per key; consumers commit an offset only after the message's
handler transaction has committed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field


class BusUnavailable(RuntimeError):
    """The broker cannot be reached or did not acknowledge in time: try again later."""


@dataclass(frozen=True)
class OutgoingMessage:
    topic: str
    key: str
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)


@dataclass(frozen=True)
class IncomingMessage:
    topic: str
    partition: int
    offset: int
    key: str | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)

    def header(self, name: str) -> str | None:
        for k, v in self.headers:
            if k == name:
                return v.decode("utf-8", "replace")
        return None


class Subscriber(ABC):
    """One member of a consumer group."""

    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def poll(self, *, timeout: float, max_records: int) -> list[IncomingMessage]:
        """The next messages, in order within each partition."""

    @abstractmethod
    async def commit(self, *messages: IncomingMessage) -> None:
        """Mark each message and everything before it in its partition as done for the group (all of them in one
        request, where the bus has requests)."""

    async def lag(self) -> dict[tuple[str, int], int]:
        """Messages not yet consumed per (topic, partition), where the bus knows it."""
        return {}


class Bus(ABC):
    @abstractmethod
    async def start(self) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def publish(self, messages: Sequence[OutgoingMessage]) -> None:
        """Publish all `messages` in order; return once every one is acknowledged, else raise BusUnavailable."""

    @abstractmethod
    def subscriber(self, *, group: str, topics: Sequence[str], tail: int | None = None) -> Subscriber:
        """A member of consumer group `group`; with `tail`, instead a reader outside any group that starts at the
        last `tail` messages of each partition and keeps no offsets (commit does nothing): a live view."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise BusUnavailable unless the broker answers."""

"""The live feed: funding events as they happen, read from the bus by the console itself (the latest events of
each partition and what follows, outside any consumer group), kept in a short ring and pushed to each open page
as server-sent events — filtered by what that person's token may see (aid_common.visibility: agreements only
with pledges:read)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections import Counter, deque
from collections.abc import AsyncIterator, Callable

import structlog

from aid_common import visibility
from aid_common.aio import sleep_or_stop
from aid_common.bus import Bus, BusUnavailable
from aid_common.events import CloudEvent
from aid_contracts import PLEDGES_TOPIC, PROJECTS_TOPIC

log = structlog.get_logger("aid.console.feed")
SHOWN = ("aid.project.funding_updated", "aid.project.fully_funded", "aid.project.created", "aid.agreement.")


def summary(event: CloudEvent) -> dict:
    data = event.data or {}
    return {
        "id": event.id,
        "type": event.type,
        "time": event.time.isoformat(),
        "what": data.get("code") or data.get("reference") or event.subject,
        "title": data.get("title"),
        "names": data.get("names") or {},
        "amount_usd": data.get("delta_usd") or data.get("amount_usd"),
        "coverage": data.get("coverage"),
        "correlation_id": event.correlationid,
    }


class Feed:
    def __init__(self, bus: Bus, *, keep: int = 200) -> None:
        self.bus = bus
        self.recent: deque[CloudEvent] = deque(maxlen=keep)
        self.listeners: set[asyncio.Queue[CloudEvent]] = set()
        self.open_by: Counter[str] = Counter()  # streams open, by token digest

    async def run(self, stop: asyncio.Event) -> None:
        # A tail reader, not a group member: it starts with the latest events of each partition, reads no
        # history beyond them and leaves no committed offsets behind at each start.
        subscriber = self.bus.subscriber(
            group=f"console-{uuid.uuid4().hex[:12]}", topics=[PLEDGES_TOPIC, PROJECTS_TOPIC], tail=self.recent.maxlen
        )
        while not stop.is_set():
            try:
                await subscriber.start()
                break
            except BusUnavailable as exc:
                log.warning("feed.bus_unavailable", error=str(exc))
                await sleep_or_stop(stop, 2)
        while not stop.is_set():
            try:
                messages = await subscriber.poll(timeout=0.5, max_records=200)
            except BusUnavailable:
                await sleep_or_stop(stop, 2)
                continue
            for message in messages:
                with contextlib.suppress(ValueError):
                    event = CloudEvent.from_json(message.value)
                    if event.type.startswith(SHOWN):
                        self.recent.append(event)
                        for queue in list(self.listeners):
                            with contextlib.suppress(asyncio.QueueFull):
                                queue.put_nowait(event)
                await subscriber.commit(message)
        with contextlib.suppress(Exception):
            await subscriber.stop()

    def full(self, key: str, *, per_key: int, total: int) -> bool:
        """Whether one more stream for `key` (a token's digest) would pass the caps."""
        return self.open_by[key] >= per_key or sum(self.open_by.values()) >= total

    async def stream(
        self,
        granted: frozenset[str],
        *,
        key: str,
        caps: tuple[int, int],
        still_valid: Callable[[], bool],
        closes_at: float,  # epoch seconds: a time, not money
        backlog: int = 20,
        heartbeat: float = 15.0,  # seconds
    ) -> AsyncIterator[str]:
        """Server-sent events for one page: the last few it may see, then each new one, and a heartbeat. The token
        is checked again at every heartbeat and event (`still_valid`: revoked?) and the stream ends at its expiry
        (`closes_at`) with a `signin` event; streams are counted per token and in all (`caps`)."""
        if self.full(key, per_key=caps[0], total=caps[1]):  # taken since the route looked: the browser waits
            yield "retry: 60000\nevent: busy\ndata: {}\n\n"
            return
        self.open_by[key] += 1
        queue: asyncio.Queue[CloudEvent] = asyncio.Queue(maxsize=500)
        self.listeners.add(queue)
        try:
            visible = [e for e in self.recent if visibility.may_receive(granted, e.type)]
            for event in visible[-backlog:]:
                yield _sse(event)
            while (left := closes_at - time.time()) > 0 and still_valid():
                try:
                    event = await asyncio.wait_for(queue.get(), timeout=min(heartbeat, left))
                except TimeoutError:
                    yield ": still here\n\n"
                    continue
                if visibility.may_receive(granted, event.type):
                    yield _sse(event)
            yield "event: signin\ndata: {}\n\n"  # expired or revoked: the page asks to sign in again
        finally:
            self.listeners.discard(queue)
            self.open_by[key] -= 1
            if not self.open_by[key]:
                del self.open_by[key]


def _sse(event: CloudEvent) -> str:
    return f"id: {event.id}\nevent: aid\ndata: {json.dumps(summary(event), ensure_ascii=False)}\n\n"

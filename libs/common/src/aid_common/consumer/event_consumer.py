"""Runs a service's event handlers on a consumer group: inbox for effect-once, retries, dead letters.

For each message, in order per partition:
  not a CloudEvent, or data that does not match its registered schema → dead-letter topic at once;
  a type this service does not handle → skipped;
  otherwise the handler and the inbox row commit in one transaction (a redelivered event is a no-op);
  a handler that keeps failing → dead-letter topic after `max_attempts`; a database that is down → wait.
Only then is the offset committed.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_common import inbox
from aid_common.aio import quietly, sleep_or_stop
from aid_common.bus import Bus, BusUnavailable, IncomingMessage, OutgoingMessage, Subscriber
from aid_common.consumer.decoding import Poison, decode
from aid_common.consumer.lanes import Lanes
from aid_common.consumer.rounds import Ready, Round, run_rounds
from aid_common.context import bound, clean_traceparent
from aid_common.db import is_transient, transaction
from aid_common.events import DEADLETTER_TOPIC, CloudEvent, EventRegistry
from aid_common.metrics import CONSUMER_LAG, EVENTS_CONSUMED, EVENTS_DEADLETTERED, HANDLER_LATENCY
from aid_common.subscriptions import BatchHook, Subscription

log = structlog.get_logger("aid.consumer")


class EventConsumer:
    def __init__(
        self,
        *,
        service: str,
        name: str,
        bus: Bus,
        topics: Sequence[str],
        subscriptions: Sequence[Subscription],
        sessions: async_sessionmaker[AsyncSession],
        registry: EventRegistry,
        max_attempts: int = 5,
        retry_base_seconds: float = 0.2,
        after_handle: Callable[[IncomingMessage], Awaitable[None]] | None = None,
        stall_seconds: float = 60.0,
        before_batch: BatchHook | None = None,
    ) -> None:
        self.service = service
        self.name = name
        self.bus = bus
        self.topics = list(topics)
        self.handlers = {s.event_type: s.handler for s in subscriptions}
        self.sessions = sessions
        self.registry = registry
        self.max_attempts = max_attempts
        self.retry_base_seconds = retry_base_seconds
        self.stall_seconds = stall_seconds  # lag but no message for this long: the consumer is recreated
        self.lanes = Lanes(before_batch)
        self.after_handle = after_handle  # a test seam: runs after the transaction, before the offset commit
        self.outcomes: Counter[str] = Counter()  # handled / duplicate / ignored / deadlettered, for tests and logs

    async def run(self, stop: asyncio.Event) -> None:
        subscriber: Subscriber | None = None
        backoff = 0.5
        loop = asyncio.get_running_loop()
        last_progress = loop.time()
        while not stop.is_set():
            try:
                if subscriber is None:
                    subscriber = self.bus.subscriber(group=self.name, topics=self.topics)
                    await subscriber.start()
                    log.info("consumer.started", consumer=self.name, topics=self.topics)
                messages = await subscriber.poll(timeout=0.5, max_records=100)
                if messages:
                    last_progress = loop.time()
                handled: dict[tuple[str, int], IncomingMessage] = {}
                for message in await self.process_batch(messages, stop):
                    handled[(message.topic, message.partition)] = message
                # One offset commit for the batch's partitions, after every handler's transaction: a crash before
                # it redelivers messages whose effects are already in (the inbox makes them no-ops).
                if handled:
                    await subscriber.commit(*handled.values())
                lag = await self._report_lag(subscriber)
                if lag > 0 and loop.time() - last_progress > self.stall_seconds:
                    # aiokafka #1154: after a broker restart a consumer can stay stuck with lag; start afresh.
                    log.warning("consumer.stalled", consumer=self.name, lag=lag, recreating=True)
                    await quietly(subscriber.stop())
                    subscriber, last_progress = None, loop.time()
                backoff = 0.5
            except BusUnavailable as exc:
                log.warning("consumer.bus_unavailable", consumer=self.name, error=str(exc), retry_in=backoff)
                if subscriber is not None:
                    await quietly(subscriber.stop())
                    subscriber = None
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
        if subscriber is not None:
            await quietly(subscriber.stop())

    async def _report_lag(self, subscriber: Subscriber) -> int:
        lags = await subscriber.lag()
        for (topic, partition), lag in lags.items():
            CONSUMER_LAG.labels(self.service, self.name, topic, str(partition)).set(lag)
        return sum(lags.values())

    async def process_batch(
        self, messages: Sequence[IncomingMessage], stop: asyncio.Event | None = None
    ) -> list[IncomingMessage]:
        """Handle a polled batch in rounds (`rounds`): one database transaction, or a few when the lanes policy
        covers it lane by lane (what is free first, then the rest). An event that fails is then retried, and
        dead-lettered if it keeps failing, on its own, with every later event of the same key after it, in order.
        A batch with a poison message, or of one message, goes one by one. Returns the messages done, in batch
        order (their offsets may be committed); it stops early only when `stop` is set."""
        ready = self._decode_batch(messages)
        rounds = await run_rounds(self, ready, stop) if ready is not None and len(ready) > 1 else None
        if rounds is None:
            return await self._one_by_one(messages, stop)
        finished = await self._record(rounds)
        deferred = sorted(i for r in rounds for i in r.deferred)  # batch order: a key's events stay in order
        again = await self._one_by_one([messages[i] for i in deferred], stop) if deferred else []
        # Offsets are committed per partition up to the last message handled: report the batch's order.
        done_ids = {id(m) for m in finished} | {id(m) for m in again}
        in_order = []
        for message in messages:
            if id(message) not in done_ids:
                break
            in_order.append(message)
        return in_order

    def _decode_batch(self, messages: Sequence[IncomingMessage]) -> list[Ready] | None:
        """Every message decoded, or None when one is poison (the one-by-one path dead-letters it in order)."""
        ready = []
        for message in messages:
            try:
                event, payload = decode(message, handled=self.handlers, registry=self.registry)
            except Poison:
                return None
            ready.append(Ready(message, event, payload))
        return ready

    async def _record(self, rounds: list[Round]) -> list[IncomingMessage]:
        finished = []
        for done_round in rounds:
            for message, event, outcome, seconds in done_round.done:
                if outcome == "handled" and event is not None:
                    HANDLER_LATENCY.labels(self.service, event.type).observe(seconds)
                if self.after_handle is not None and event is not None:
                    await self.after_handle(message)
                EVENTS_CONSUMED.labels(self.service, self.name, event.type if event else "unknown", outcome).inc()
                self.outcomes[outcome] += 1
                finished.append(message)
        return finished

    async def _one_by_one(
        self, messages: Sequence[IncomingMessage], stop: asyncio.Event | None
    ) -> list[IncomingMessage]:
        done = []
        for message in messages:
            if stop is not None and stop.is_set():
                break  # not committed: redelivered to whoever consumes next
            if await self.process(message, stop) == "interrupted":
                break
            done.append(message)
        return done

    async def apply(self, session: AsyncSession, event: CloudEvent, payload: Any, *, claimed: bool = False) -> str:
        """Run the event's handler in `session` (its inbox row claimed here unless the caller did)."""
        with bound(correlation=event.correlationid, trace=clean_traceparent(event.traceparent)):
            if not claimed and not await inbox.claim(
                session, consumer=self.name, event_id=event.id, event_type=event.type
            ):
                return "duplicate"
            await self.handlers[event.type](session, payload, event)
        return "handled"

    async def process(self, message: IncomingMessage, stop: asyncio.Event | None = None) -> str:
        """Handle one message completely (effects, inbox, or dead letter). Returns the outcome."""
        try:
            event, payload = decode(message, handled=self.handlers, registry=self.registry)
        except Poison as poison:
            await self._dead_letter(message, poison.reason, str(poison))
            self.outcomes["deadlettered"] += 1
            return "deadlettered"
        if event is None:
            EVENTS_CONSUMED.labels(self.service, self.name, "unknown", "ignored").inc()
            self.outcomes["ignored"] += 1
            return "ignored"
        attempt = 0
        while True:
            attempt += 1
            try:
                outcome = await self._handle(event, payload)
                break
            except Exception as exc:
                if is_transient(exc):  # the infrastructure, not the message: wait, never dead-letter
                    log.warning(
                        "consumer.transient_failure", consumer=self.name, event_id=event.id, error=str(exc)[:300]
                    )
                    await sleep_or_stop(stop, min(self.retry_base_seconds * 2 ** min(attempt, 6), 10.0))
                    if stop is not None and stop.is_set():
                        return "interrupted"  # not committed: handled after the restart
                    continue
                if attempt >= self.max_attempts:
                    log.error(
                        "consumer.handler_failed",
                        consumer=self.name,
                        event_id=event.id,
                        type=event.type,
                        attempts=attempt,
                        error=repr(exc)[:500],
                    )
                    await self._dead_letter(message, "handler-failed", repr(exc))
                    self.outcomes["deadlettered"] += 1
                    return "deadlettered"
                await asyncio.sleep(self.retry_base_seconds * 2 ** (attempt - 1))
        if self.after_handle is not None:
            await self.after_handle(message)
        EVENTS_CONSUMED.labels(self.service, self.name, event.type, outcome).inc()
        self.outcomes[outcome] += 1
        return outcome

    async def _handle(self, event: CloudEvent, payload: Any) -> str:
        start = time.perf_counter()
        async with transaction(self.sessions) as session:
            outcome = await self.apply(session, event, payload)
        if outcome == "handled":
            HANDLER_LATENCY.labels(self.service, event.type).observe(time.perf_counter() - start)
        return outcome

    async def _dead_letter(self, message: IncomingMessage, reason: str, error: str) -> None:
        headers = [h for h in message.headers if not h[0].startswith("aid-")] + [
            ("aid-error", error[:4000].encode("utf-8", "replace")),
            ("aid-error-reason", reason.encode()),
            ("aid-original-topic", message.topic.encode()),
            ("aid-original-partition", str(message.partition).encode()),
            ("aid-original-offset", str(message.offset).encode()),
            ("aid-consumer", self.name.encode()),
        ]
        await self.bus.publish(
            [OutgoingMessage(topic=DEADLETTER_TOPIC, key=message.key or "", value=message.value, headers=headers)]
        )
        EVENTS_DEADLETTERED.labels(self.service, self.name, reason).inc()
        EVENTS_CONSUMED.labels(self.service, self.name, "unknown", "deadlettered").inc()
        log.warning(
            "consumer.dead_lettered",
            consumer=self.name,
            reason=reason,
            topic=message.topic,
            partition=message.partition,
            offset=message.offset,
            error=error[:500],
        )

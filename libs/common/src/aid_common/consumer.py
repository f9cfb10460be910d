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
from dataclasses import dataclass
from typing import Any

import structlog
from pydantic import BaseModel, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_common import inbox
from aid_common.aio import quietly, sleep_or_stop
from aid_common.bus import Bus, BusUnavailable, IncomingMessage, OutgoingMessage, Subscriber
from aid_common.context import bound, clean_traceparent
from aid_common.db import is_transient, transaction
from aid_common.events import (
    DEADLETTER_TOPIC,
    CloudEvent,
    EventRegistry,
    InvalidEventData,
    UnknownEventType,
)
from aid_common.metrics import CONSUMER_LAG, EVENTS_CONSUMED, EVENTS_DEADLETTERED, HANDLER_LATENCY
from aid_common.subscriptions import BatchHook, Subscription

log = structlog.get_logger("aid.consumer")


@dataclass
class _Round:
    """What one transaction of a batch did (positions in the batch): handled, to retry one by one, left for the
    next round (its locks were busy)."""

    done: list[tuple[IncomingMessage, CloudEvent, str, float]]
    deferred: list[int]
    postponed: list[int]


class _Undo(Exception):
    """An event failed in a round run without savepoints: the round's transaction is rolled back and run again
    with them."""


class _Poison(Exception):
    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason


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
        self.before_batch = before_batch
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
        """Handle a polled batch in one database transaction (a few, when the batch hook covers it lane by lane:
        what is free first, then the rest). A round runs first without savepoints; if an event fails, the round
        is rolled back and run again with each event in a savepoint of its own, so the one that fails is rolled
        back alone and then retried (and dead-lettered if it keeps failing) on its own, with every later event of
        the same key after it, in order. Returns the messages done, in order (their offsets may be
        committed); it stops early only when `stop` is set."""
        ready: list[tuple[IncomingMessage, CloudEvent, Any]] = []
        for message in messages:
            try:
                event, payload = self._decode(message)
            except _Poison as poison:
                ready.append((message, None, poison))  # type: ignore[arg-type]
                continue
            ready.append((message, event, payload))
        if any(isinstance(payload, _Poison) for _, _, payload in ready) or len(ready) <= 1:
            return await self._one_by_one([m for m, _, _ in ready], stop)  # poison inside, or just one: plain path
        rounds: list[_Round] = []
        todo = list(range(len(ready)))
        blocked: set[tuple[str, str | None]] = set()
        wait = False
        try:
            while todo:
                try:  # most batches hold no failing event: no savepoints, two round trips per event fewer
                    done_round = await self._round(ready, todo, stop, blocked=blocked, wait=wait, savepoints=False)
                except _Undo:  # one failed: nothing of this round committed; again, each event in a savepoint
                    done_round = await self._round(ready, todo, stop, blocked=blocked, wait=wait, savepoints=True)
                rounds.append(done_round)
                stuck = len(done_round.postponed) == len(todo)  # what was free lies behind its key's busy events
                if stuck and wait:  # a hook that covers nothing even when it may wait: the plain path, in order
                    done_round.deferred.extend(done_round.postponed)
                    break
                todo, wait = done_round.postponed, stuck
                if stop is not None and stop.is_set():
                    break
        except Exception as exc:
            if not rounds:
                # The database went away mid-batch (or the batch could not take its locks): nothing of it
                # committed; the plain path waits it out, one event at a time.
                if not is_transient(exc):
                    log.warning("consumer.batch_failed", consumer=self.name, error=repr(exc)[:300])
                return await self._one_by_one([m for m, _, _ in ready], stop)
            # The first round committed: the rest goes the plain way, in order.
            todo = sorted({*rounds[-1].postponed, *todo})
            rounds.append(_Round(done=[], deferred=todo, postponed=[]))
        finished = []
        for done_round in rounds:
            for message, event, outcome, seconds in done_round.done:
                if outcome == "handled":
                    HANDLER_LATENCY.labels(self.service, event.type).observe(seconds)
                if self.after_handle is not None and event is not None:
                    await self.after_handle(message)
                EVENTS_CONSUMED.labels(self.service, self.name, event.type if event else "unknown", outcome).inc()
                self.outcomes[outcome] += 1
                finished.append(message)
        deferred = sorted(i for r in rounds for i in r.deferred)  # batch order: a key's events stay in order
        again = await self._one_by_one([ready[i][0] for i in deferred], stop) if deferred else []
        # Offsets are committed per partition up to the last message handled: report the batch's order.
        done_ids = {id(m) for m in finished} | {id(m) for m in again}
        in_order = []
        for message, _, _ in ready:
            if id(message) not in done_ids:
                break
            in_order.append(message)
        return in_order

    async def _round(
        self,
        ready: list[tuple[IncomingMessage, CloudEvent, Any]],
        todo: list[int],
        stop: asyncio.Event | None,
        *,
        blocked: set[tuple[str, str | None]],
        wait: bool,
        savepoints: bool,
    ) -> _Round:
        """One transaction over the events at positions `todo` that the batch hook covers (what is free now, or
        else — or with `wait` — what the first one needs, waited for), each in a savepoint of its own. An event
        that fails blocks its key (`blocked`, shared across rounds): it and every later event of that key are
        deferred, to be retried one by one in order; an event not covered, and every later event of its key, is
        postponed to the next round. Without `savepoints`, a failing event raises _Undo instead (the caller runs
        the round again with them)."""
        result = _Round(done=[], deferred=[], postponed=[])
        async with transaction(self.sessions) as session:
            covered: set[int] | None = None
            if self.before_batch is not None:
                payloads = [ready[i][2] if ready[i][1] is not None else None for i in todo]
                chosen = None if wait else await self.before_batch(session, payloads, False)
                if wait or (chosen is not None and not chosen):  # all busy: wait for what the first one needs
                    chosen = await self.before_batch(session, payloads, True)
                covered = None if chosen is None else {todo[j] for j in chosen}
            # Every event's inbox row in one statement; what is not handled below is released before commit.
            claimed = await inbox.claim_many(
                session, consumer=self.name, events={ready[i][1].id: ready[i][1].type for i in todo if ready[i][1]}
            )
            later: set[tuple[str, str | None]] = set()
            for i in todo:
                message, event, payload = ready[i]
                if stop is not None and stop.is_set():
                    break
                key = (message.topic, message.key)
                if key in later or (covered is not None and i not in covered):
                    later.add(key)
                    result.postponed.append(i)
                    continue
                if event is None:  # a type this service does not handle
                    result.done.append((message, None, "ignored", 0.0))  # type: ignore[arg-type]
                    continue
                if key in blocked:
                    result.deferred.append(i)
                    continue
                if event.id not in claimed:  # handled before (or twice in this batch)
                    result.done.append((message, event, "duplicate", 0.0))
                    continue
                start = time.perf_counter()
                try:
                    if savepoints:
                        async with session.begin_nested():
                            outcome = await self._apply(session, event, payload, claimed=True)
                    else:
                        outcome = await self._apply(session, event, payload, claimed=True)
                except Exception as exc:
                    if is_transient(exc):
                        raise
                    if not savepoints:
                        raise _Undo from exc
                    blocked.add(key)
                    result.deferred.append(i)
                    continue
                claimed.discard(event.id)
                result.done.append((message, event, outcome, time.perf_counter() - start))
            await inbox.release(session, consumer=self.name, event_ids=claimed)  # failed, deferred, not reached
        return result

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

    async def _apply(self, session: AsyncSession, event: CloudEvent, payload: Any, *, claimed: bool = False) -> str:
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
            event, payload = self._decode(message)
        except _Poison as poison:
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

    def _decode(self, message: IncomingMessage) -> tuple[CloudEvent | None, BaseModel | None]:
        try:
            event = CloudEvent.from_json(message.value)
        except (ValidationError, ValueError) as exc:
            raise _Poison("not-a-cloudevent", f"not a CloudEvents JSON message: {exc}") from exc
        if event.type not in self.handlers:
            return None, None
        et = self.registry.get(event.type)
        if event.source != et.source or message.topic != et.topic:
            # Only the service that owns a topic publishes there, with its own source: a forged or misrouted
            # event (e.g. an agreement "signed" by someone other than the pledges service) is not acted on.
            raise _Poison(
                "wrong-source",
                f"{event.type} comes from {et.source} on {et.topic}; this one says {event.source} on {message.topic}",
            )
        try:
            return event, self.registry.parse(event)
        except (InvalidEventData, UnknownEventType) as exc:
            raise _Poison("invalid-data", str(exc)) from exc

    async def _handle(self, event: CloudEvent, payload: Any) -> str:
        start = time.perf_counter()
        async with transaction(self.sessions) as session:
            outcome = await self._apply(session, event, payload)
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

"""A polled batch in as few transactions as the lanes policy allows: rounds.

A round is one transaction over the events its lanes cover, run first `WITHOUT_SAVEPOINTS` and, if an event fails,
again `WITH_SAVEPOINTS` (see `modes`). An event that fails blocks its key (`blocked`, shared across rounds): it and
every later event of that key are deferred, to be retried one by one in order. An event not covered, and every
later event of its key, is postponed to the next round. Each event's inbox row is claimed for the whole round in one
statement; what a round does not handle is released before it commits.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import structlog
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_common import inbox
from aid_common.bus import IncomingMessage
from aid_common.consumer.lanes import Lanes
from aid_common.consumer.modes import WITH_SAVEPOINTS, WITHOUT_SAVEPOINTS, RoundMode, Undo
from aid_common.db import is_transient, transaction
from aid_common.events import CloudEvent

log = structlog.get_logger("aid.consumer")
Key = tuple[str, str | None]  # topic and message key: the order that must hold


@dataclass(frozen=True)
class Ready:
    """One message of a batch, decoded (`event` None: a type this service does not handle)."""

    message: IncomingMessage
    event: CloudEvent | None
    payload: Any

    @property
    def key(self) -> Key:
        return (self.message.topic, self.message.key)


@dataclass
class Round:
    """What one transaction of a batch did (positions in the batch): handled, to retry one by one, left for the
    next round (its locks were busy)."""

    done: list[tuple[IncomingMessage, CloudEvent | None, str, float]] = field(default_factory=list)
    deferred: list[int] = field(default_factory=list)
    postponed: list[int] = field(default_factory=list)


class Handling(Protocol):
    """What rounds need of the consumer that runs them."""

    name: str
    sessions: async_sessionmaker[AsyncSession]
    lanes: Lanes

    async def apply(self, session: AsyncSession, event: CloudEvent, payload: Any, *, claimed: bool = False) -> str: ...


async def run_rounds(consumer: Handling, ready: list[Ready], stop: asyncio.Event | None) -> list[Round] | None:
    """The rounds that handled `ready`, in order; None when nothing committed (the database went away, or the
    batch could not take its locks): then the caller goes one by one, which waits such failures out."""
    rounds: list[Round] = []
    todo, blocked, wait = list(range(len(ready))), set[Key](), False
    try:
        while todo:
            done = await _round_in_best_mode(consumer, ready, todo, stop, blocked=blocked, wait=wait)
            rounds.append(done)
            stuck = len(done.postponed) == len(todo)  # what was free lies behind its key's busy events
            if stuck and wait:  # a hook that covers nothing even when it may wait: the plain path, in order
                done.deferred.extend(done.postponed)
                break
            todo, wait = done.postponed, stuck
            if stop is not None and stop.is_set():
                break
    except Exception as exc:
        if not rounds:
            if not is_transient(exc):
                log.warning("consumer.batch_failed", consumer=consumer.name, error=repr(exc)[:300])
            return None
        # The first round committed: the rest goes the plain way, in order.
        rounds.append(Round(deferred=sorted({*rounds[-1].postponed, *todo})))
    return rounds


async def _round_in_best_mode(
    consumer: Handling, ready: list[Ready], todo: list[int], stop: asyncio.Event | None, **how: Any
) -> Round:
    try:
        return await run_round(consumer, ready, todo, stop, mode=WITHOUT_SAVEPOINTS, **how)
    except Undo:  # one failed: nothing of this round committed; again, each event in a savepoint
        return await run_round(consumer, ready, todo, stop, mode=WITH_SAVEPOINTS, **how)


@dataclass
class _Turn:
    """One round's transaction, as its events go through it."""

    session: AsyncSession
    mode: RoundMode
    covered: set[int] | None
    claimed: set[str]
    blocked: set[Key]
    later: set[Key] = field(default_factory=set)
    result: Round = field(default_factory=Round)


async def run_round(
    consumer: Handling,
    ready: list[Ready],
    todo: list[int],
    stop: asyncio.Event | None,
    *,
    blocked: set[Key],
    wait: bool,
    mode: RoundMode,
) -> Round:
    """One transaction over the events at positions `todo` that the lanes cover, in `mode`."""
    async with transaction(consumer.sessions) as session:
        payloads = [ready[i].payload if ready[i].event is not None else None for i in todo]
        covered = await consumer.lanes.cover(session, payloads, todo, wait=wait)
        events = {r.event.id: r.event.type for r in (ready[i] for i in todo) if r.event is not None}
        claimed = await inbox.claim_many(session, consumer=consumer.name, events=events)
        turn = _Turn(session=session, mode=mode, covered=covered, claimed=claimed, blocked=blocked)
        for i in todo:
            if stop is not None and stop.is_set():
                break
            await _take(consumer, turn, i, ready[i])
        await mode.finish(session)
        await inbox.release(session, consumer=consumer.name, event_ids=turn.claimed)  # failed, deferred, not reached
    return turn.result


async def _take(consumer: Handling, turn: _Turn, i: int, item: Ready) -> None:
    result, event = turn.result, item.event
    if item.key in turn.later or (turn.covered is not None and i not in turn.covered):
        turn.later.add(item.key)
        result.postponed.append(i)
    elif event is None:  # a type this service does not handle
        result.done.append((item.message, None, "ignored", 0.0))
    elif item.key in turn.blocked:
        result.deferred.append(i)
    elif event.id not in turn.claimed:  # handled before (or twice in this batch)
        result.done.append((item.message, event, "duplicate", 0.0))
    else:
        await _handle(consumer, turn, i, item, event)


async def _handle(consumer: Handling, turn: _Turn, i: int, item: Ready, event: CloudEvent) -> None:
    start = time.perf_counter()
    try:
        outcome = await turn.mode.apply(
            turn.session, lambda: consumer.apply(turn.session, event, item.payload, claimed=True)
        )
    except Undo:
        raise
    except Exception as exc:
        if is_transient(exc):
            raise
        turn.blocked.add(item.key)
        turn.result.deferred.append(i)
        return
    turn.claimed.discard(event.id)
    turn.result.done.append((item.message, event, outcome, time.perf_counter() - start))

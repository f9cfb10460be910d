"""The transactional outbox: write an event with the state change, publish it afterwards.

`add` (or `add_alike`, for thousands at once) puts events in the caller's transaction; `insert_when` and `folded`
fold an event's row into a statement of the caller's; `insert_events` writes a batch's events in one
statement (`aid_common.group_commit`), `signal_commit` wakes the relay when that batch commits. No other module
names the outbox table or its columns.

`OutboxRelay` publishes pending rows in id order, a batch at a time (one produce of many records, then one UPDATE
marking them published), and is safe with several relays at once: rows are claimed with FOR UPDATE SKIP LOCKED, and
a row is held back while an earlier row with the same key is still pending and not claimed by this relay, so order
per key holds.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from typing import Any

import orjson
import structlog
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Insert, Select, bindparam, delete, func, insert, select, update
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from aid_common import commit_signals, pg_listen
from aid_common.aio import sleep_or_stop, wait_any
from aid_common.bus import Bus, BusUnavailable, OutgoingMessage
from aid_common.db import defer_rows, insert_rows, transaction, utcnow
from aid_common.events import CLOUDEVENTS_CONTENT_TYPE, CloudEvent, EventRegistry, EventType, registry
from aid_common.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_AGE
from aid_common.tables import OUTBOX_CHANNEL, OutboxMessage

log = structlog.get_logger("aid.outbox")

OUTBOX_SIGNAL = "outbox"  # a relay in this process hears about new rows the moment their transaction commits


_OUTBOX = OutboxMessage.__table__
_COLUMNS = ("event_id", "topic", "key", "event_type", "payload", "created_at", "published_at", "attempts", "last_error")


def _row(et: EventType, *, event_id: uuid.UUID, key: str, payload: str, now: dt.datetime) -> dict[str, Any]:
    """The one shape of an outbox row: every column, for whichever way it is written."""
    return {
        "event_id": event_id,
        "topic": et.topic,
        "key": key,
        "event_type": et.type,
        "payload": payload,
        "created_at": now,
        "published_at": None,
        "attempts": 0,
        "last_error": None,
    }


def _entry(session: AsyncSession, payload: BaseModel, events: EventRegistry) -> tuple[dict[str, Any], CloudEvent]:
    et, event = events.envelope(payload)
    commit_signals.signal(session, OUTBOX_SIGNAL)
    values = _row(et, event_id=uuid.UUID(event.id), key=event.subject or "", payload=event.to_json(), now=utcnow())
    return values, event


def row(payload: BaseModel, *, events: EventRegistry = registry) -> dict[str, Any]:
    """`payload`'s outbox row, for a writer with no session: a data migration announcing what already exists."""
    et, event = events.envelope(payload)
    return _row(et, event_id=uuid.UUID(event.id), key=event.subject or "", payload=event.to_json(), now=utcnow())


def add(session: AsyncSession, payload: BaseModel, *, events: EventRegistry = registry) -> CloudEvent:
    """Queue `payload` as a CloudEvent in `session`'s transaction; it is published only if that commits."""
    values, event = _entry(session, payload, events)
    session.add(OutboxMessage(**values))
    return event


def insert_when(condition: ColumnElement[bool], *, prefix: str = "o_") -> Insert:
    """An INSERT of one outbox row that writes only when `condition` holds, for a caller to fold into a statement
    of its own (e.g. as a CTE beside the INSERT of what the event reports: one round trip). Its values are bound
    parameters named `prefix` + column: `folded` gives them. Build it once; it depends on no event."""
    values = select(*(bindparam(f"{prefix}{c}", type_=_OUTBOX.c[c].type).label(c) for c in _COLUMNS))
    return insert(_OUTBOX).from_select(_COLUMNS, values.where(condition))


def folded(
    session: AsyncSession, payload: BaseModel, *, prefix: str = "o_", events: EventRegistry = registry
) -> dict[str, Any]:
    """The parameters of `insert_when`'s statement for `payload`, in `session`'s transaction."""
    values, _ = _entry(session, payload, events)
    return {f"{prefix}{c}": v for c, v in values.items()}


async def insert_events(
    connection: AsyncConnection, payloads: list[BaseModel], *, events: EventRegistry = registry
) -> None:
    """Write one event per payload, in order, in one statement, in `connection`'s transaction; the caller's
    session then calls `signal_commit`."""
    rows = []
    for payload in payloads:
        et, event = events.envelope(payload)
        rows.append(
            _row(et, event_id=uuid.UUID(event.id), key=event.subject or "", payload=event.to_json(), now=utcnow())
        )
    await insert_rows(connection, _OUTBOX, rows)


def signal_commit(session: AsyncSession) -> None:
    """Events were written in `session`'s transaction by `insert_events`: wake this process's relay once it
    commits."""
    commit_signals.signal(session, OUTBOX_SIGNAL)


def add_alike(
    session: AsyncSession, payload: BaseModel, variants: list[dict[str, Any]], *, events: EventRegistry = registry
) -> None:
    """Queue one event per variant: `payload` with the variant's top-level data fields replaced (JSON values),
    each with an id of its own. The envelope is serialized once and copied — for a fan-out of thousands of events
    that share a large body (the same time, correlation id and trace: they come from one moment and one cause).
    The rows are deferred (`aid_common.db.deferred`): a consumer round's go in together when it finishes."""
    if not variants:
        return
    et, first = events.envelope(payload)
    template = orjson.loads(first.to_json())
    now = utcnow()
    rows = []
    for variant in variants:
        event_id = uuid.uuid4()
        data = {**template["data"], **variant}
        key = str(data[et.key_field])
        body = {**template, "id": str(event_id), "subject": key, "data": data}
        rows.append(_row(et, event_id=event_id, key=key, payload=orjson.dumps(body).decode(), now=now))
    defer_rows(session, _OUTBOX, rows)
    commit_signals.signal(session, OUTBOX_SIGNAL)


class OutboxRelay:
    def __init__(
        self,
        *,
        service: str,
        sessions: async_sessionmaker[AsyncSession],
        bus: Bus,
        database_url: str,
        batch_size: int = 200,
        poll_seconds: float = 1.0,
        retention: dt.timedelta = dt.timedelta(days=7),
    ) -> None:
        self.service = service
        self.sessions = sessions
        self.bus = bus
        self.database_url = database_url
        self.batch_size = batch_size
        self._claim = _claim_statement(batch_size)  # built once: building it cost ~1 ms of every relay turn
        self.poll_seconds = poll_seconds
        self.retention = retention
        self._wake = asyncio.Event()
        self._listener: Any = None
        self._last_gauges = 0.0
        self._last_cleanup = 0.0
        commit_signals.listen(OUTBOX_SIGNAL, self)

    def wake(self) -> None:
        self._wake.set()

    async def relay_once(self) -> int:
        """Publish one batch. Returns how many rows were published (0: nothing pending).
        Raises BusUnavailable after recording the failed attempt on the rows."""
        failure: BusUnavailable | None = None
        async with transaction(self.sessions) as session:
            sendable = await self._claim_in_key_order(session)
            if not sendable:
                return 0
            try:
                await self.bus.publish(
                    [
                        OutgoingMessage(
                            topic=r.topic,
                            key=r.key,
                            value=r.payload.encode("utf-8"),
                            headers=[("content-type", CLOUDEVENTS_CONTENT_TYPE.encode())],
                        )
                        for r in sendable
                    ]
                )
            except BusUnavailable as exc:
                for r in sendable:
                    r.attempts += 1
                    r.last_error = str(exc)[:2000]
                failure = exc
            else:
                await self._mark_published(session, sendable)
        if failure is not None:
            raise failure
        return len(sendable)

    async def _mark_published(self, session: AsyncSession, sendable: list[OutboxMessage]) -> None:
        """One UPDATE for the whole batch (the rows stay locked by this transaction until it commits)."""
        table = OutboxMessage.__table__
        await session.execute(
            update(table)
            .where(table.c.id.in_([r.id for r in sendable]))
            .values(published_at=utcnow(), attempts=table.c.attempts + 1)
        )
        for topic, count in Counter(r.topic for r in sendable).items():
            EVENTS_PUBLISHED.labels(self.service, topic).inc(count)

    async def _claim_in_key_order(self, session: AsyncSession) -> list[OutboxMessage]:
        """Claim the oldest pending rows no other relay holds (FOR UPDATE SKIP LOCKED) and return those with no
        pending row of their key before them that this relay does not hold — one statement, the claim as a CTE.

        Comparing with the key's first pending row is not enough: claims skip locked rows, so a claim can hold
        rows 1 and 3 of a key while another relay's open transaction holds row 2 (claimed and held back) — row 3
        must wait for it. Rows held back stay locked until this transaction ends, then wait for the next turn."""
        rows = await session.execute(self._claim)
        return [row for row, held_back in rows.all() if not held_back]

    async def run(self, stop: asyncio.Event) -> None:
        await self._listen()
        backoff = 0.2
        try:
            while not stop.is_set():
                try:
                    self._wake.clear()
                    published = await self.relay_once()
                    backoff = 0.2
                    await self._housekeeping()
                    if published >= self.batch_size:
                        continue
                except BusUnavailable as exc:
                    log.warning("outbox.publish_failed", service=self.service, error=str(exc), retry_in=backoff)
                    await sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                except (OperationalError, DBAPIError, OSError) as exc:
                    log.warning("outbox.database_unavailable", service=self.service, error=str(exc)[:500])
                    await sleep_or_stop(stop, backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if self._listener is None:
                    await self._listen()
                await wait_any(self._wake, stop, timeout=self.poll_seconds)
        finally:
            await self._unlisten()

    async def _housekeeping(self) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - self._last_gauges >= 5:
            self._last_gauges = loop.time()
            async with self.sessions() as session:
                count, oldest = (
                    await session.execute(
                        select(func.count(), func.min(OutboxMessage.created_at)).where(
                            OutboxMessage.published_at.is_(None)
                        )
                    )
                ).one()
            OUTBOX_BACKLOG.labels(self.service).set(count)
            age = (utcnow() - oldest.replace(tzinfo=dt.UTC)).total_seconds() if oldest else 0
            OUTBOX_OLDEST_AGE.labels(self.service).set(max(0.0, age))
        if loop.time() - self._last_cleanup >= 3600:
            self._last_cleanup = loop.time()
            async with transaction(self.sessions) as session:
                await session.execute(
                    delete(OutboxMessage).where(OutboxMessage.published_at < utcnow() - self.retention)
                )

    async def _listen(self) -> None:
        """PostgreSQL: LISTEN on a connection of its own so commits in other processes wake this relay."""
        self._listener = await pg_listen.listen(
            self.database_url, OUTBOX_CHANNEL, on_notify=lambda _: self._wake.set(), on_lost=self._lost_listener
        )

    def _lost_listener(self) -> None:
        self._listener = None
        self._wake.set()

    async def _unlisten(self) -> None:
        if self._listener is not None:
            conn, self._listener = self._listener, None
            await pg_listen.close(conn)


def _claim_statement(batch_size: int) -> Select:
    """`OutboxRelay._claim_in_key_order`'s statement: the claim (a CTE) and, for each row claimed, whether a pending
    row of its key before it lies outside the claim."""
    claimed = (
        select(OutboxMessage)
        .where(OutboxMessage.published_at.is_(None))
        .order_by(OutboxMessage.id)
        .limit(batch_size)
        .with_for_update(skip_locked=True)
        .cte("claimed")
    )
    mine, other = aliased(OutboxMessage, claimed), aliased(OutboxMessage)
    earlier_elsewhere = (
        select(other.id)
        .where(
            other.published_at.is_(None),
            other.key == mine.key,
            other.id < mine.id,
            other.id.not_in(select(claimed.c.id)),
        )
        .exists()
    )
    return select(mine, earlier_elsewhere).order_by(mine.id)

"""Group commit: the writes of concurrent requests in one transaction, each request with its own outcome.

A write request's unit of work (`aid_common.db.unit_of_work`) hands its new aggregates (`aid_common.insert_new`)
and what goes with its commit (the stored Idempotency-Key answer, `Transaction.at_commit`) to its process's
`GroupCommit` instead of writing them on its own connection. Units of work whose first writes keep coming (each
within `window` seconds of the one before, for at most `longest`), or until `most` are waiting, form a batch: one
transaction where each kind of row is one statement for the whole batch — the aggregates (INSERT … ON CONFLICT DO
NOTHING RETURNING their keys, so a taken key skips that aggregate alone), their dependent rows, their outbox
rows — then, once every member's route has returned, the statements at commit (one executemany each) and one
COMMIT. Routes and services do not know: they call `insert_new` and return, as before, and a unit of work that
writes anything else through its own session is not grouped.

What each member hears:
- its key taken: `insert_new` says so (False) and nothing of it is written; its route fails alone (409);
- the batch's commit: its own commit succeeds or fails with the batch (the database away: 503, nothing written);
- another member fails after its rows were written (its route raised later, its request was cancelled): the
  batch rolls back and writes the others again from their data in a new transaction; a member whose aggregate
  could not be written again (its key was taken meanwhile) is told to retry.
A crash before COMMIT leaves nothing of the batch, and no member had answered: answers go out after the commit.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from pydantic import BaseModel
from sqlalchemy import Table
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker

from aid_common import outbox
from aid_common.db import Gather, Transaction, check_values, insert_rows, session_factory
from aid_common.db.gather import In, Out, RunBatch, Window
from aid_common.metrics import GROUP_COMMIT_BATCH, GROUP_COMMIT_REWRITES

log = structlog.get_logger("aid.group_commit")

# How long a batch waits for its members' routes to return after its rows were written: far longer than any
# route takes; a member still silent then is treated as failed (the others must not wait on it forever).
SETTLE_SECONDS = 30.0


@dataclass(frozen=True)
class Dependents:
    """Rows of `table` written with a new aggregate, in order (their ids keep the order things happened in)."""

    table: Table
    columns: tuple[str, ...]
    rows: Sequence[Mapping[str, Any]]


@dataclass(frozen=True)
class NewAggregate:
    """What one `insert_new` call writes: a row of `table` unless its `conflict` key is taken, the rows that belong
    to it and the event that reports it."""

    table: Table
    values: Mapping[str, Any]
    conflict: tuple[str, ...]
    dependents: Sequence[Dependents]
    event: BaseModel

    @property
    def key(self) -> tuple[Any, ...]:
        return tuple(self.values[c.key] for c in self.table.primary_key.columns)

    def check(self, dialect: Dialect) -> None:
        """Its values through their columns' own checks (`check_values`): a bad one fails this aggregate alone,
        before it joins a batch."""
        check_values(self.table, [self.values], dialect)
        for d in self.dependents:
            check_values(d.table, d.rows, dialect)


class RetryLater(OperationalError):
    """A member whose rows could not be written again after another member of its batch failed: nothing of it is
    written; like a database that went away, the request answers 503 and the client retries with its key."""

    def __init__(self, detail: str) -> None:
        super().__init__(detail, None, ConnectionResetError(detail))


@dataclass(eq=False)
class _Member:
    work: Transaction
    written: list[NewAggregate] = field(default_factory=list)
    settled: bool = False
    committing: bool = False
    outcome: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())


@dataclass(eq=False)
class _Batch:
    members: list[_Member] = field(default_factory=list)
    waiting: list[tuple[_Member, NewAggregate, asyncio.Future[bool]]] = field(default_factory=list)
    session: AsyncSession | None = None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    settled: asyncio.Event = field(default_factory=asyncio.Event)

    def note_settled(self) -> None:
        if all(m.settled for m in self.members):
            self.settled.set()


class GroupCommit:
    """One per process and database (`ServiceRuntime.group_commit`)."""

    def __init__(self, engine: AsyncEngine, *, service: str, window: float, longest: float, most: int) -> None:
        self.engine = engine  # its own pool: see `ServiceRuntime`
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(engine)
        self.service = service
        self.window = window
        self.longest = longest
        self.most = most
        self._gathering: _Batch | None = None
        self._open: Window | None = None
        self._members: dict[int, tuple[_Batch, _Member]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._gathers: dict[str, Gather[Any, Any]] = {}

    def gather(self, name: str, run: RunBatch[In, Out]) -> Gather[In, Out]:
        """The process's `Gather` called `name`, with this group's window and size: the one-row statements every
        write request makes before its unit of work (the write limit, the Idempotency-Key reservation), many
        requests' in one statement, on the group's own connections (`engine`)."""
        if name not in self._gathers:
            self._gathers[name] = Gather(run, window=self.window, longest=self.longest, most=self.most)
        return self._gathers[name]

    def joined(self, work: Transaction) -> bool:
        return id(work) in self._members

    async def write_new(self, work: Transaction, new: NewAggregate) -> bool:
        """Write `new` in `work`'s batch (joining the batch now gathering); False when its key is taken."""
        if id(work) in self._members:  # a second aggregate of the same unit of work: written in its batch at once
            batch, member = self._members[id(work)]
            assert batch.session is not None
            async with batch.lock:
                (written,) = await write_aggregates(await batch.session.connection(), [new])
            if written:
                member.written.append(new)
            return written
        if self._gathering is None:
            self._gathering = _Batch()
            self._open = Window(self._flush, window=self.window, longest=self.longest)
        elif self._open is not None:
            self._open.joined()
        batch = self._gathering
        member = _Member(work)
        batch.members.append(member)
        self._members[id(work)] = (batch, member)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        batch.waiting.append((member, new, future))
        if len(batch.waiting) >= self.most:
            self._flush()
        return await future

    async def commit(self, work: Transaction) -> None:
        """The member's route returned: commit with its batch (raises what the batch's commit raised)."""
        found = self._members.get(id(work))
        if found is None:  # its batch has ended without it (it failed, or its member was silent too long)
            raise RetryLater("its batch ended before it committed; retry")
        batch, member = found
        member.committing = True
        self._settle(batch, member)
        await asyncio.shield(member.outcome)

    def abandon(self, work: Transaction) -> None:
        """The member's route failed: whatever it wrote is not committed (its batch writes the others again)."""
        found = self._members.get(id(work))
        if found is not None and not found[1].settled:
            self._settle(*found)

    def _settle(self, batch: _Batch, member: _Member) -> None:
        member.settled = True
        batch.note_settled()

    def _flush(self) -> None:
        if self._open is not None:
            self._open.cancel()
            self._open = None
        batch, self._gathering = self._gathering, None
        if batch is not None:
            task = asyncio.create_task(self._run(batch))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _run(self, batch: _Batch) -> None:
        try:
            async with self.sessions() as session:
                batch.session = session
                await self._write_first(batch, session)
                try:
                    await asyncio.wait_for(batch.settled.wait(), SETTLE_SECONDS)
                except TimeoutError:
                    log.error("group_commit.member_silent", members=len(batch.members))
                    for member in batch.members:
                        member.settled = True
                await self._finish(batch, session)
        except BaseException as exc:
            for member in batch.members:
                if not member.outcome.done():
                    member.outcome.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
        finally:
            for member in batch.members:
                self._members.pop(id(member.work), None)
                if not member.outcome.done():
                    member.outcome.cancel()
                else:
                    member.outcome.exception()  # retrieved: a member that went away does not log it as lost

    async def _write_first(self, batch: _Batch, session: AsyncSession) -> None:
        news = [new for _, new, _ in batch.waiting]
        try:
            written = await write_aggregates(await session.connection(), news)
        except BaseException as exc:
            for _, _, future in batch.waiting:
                if not future.done():
                    future.set_exception(exc)
            raise
        for (member, new, future), ok in zip(batch.waiting, written, strict=True):
            if ok:
                member.written.append(new)
            if not future.done():
                future.set_result(ok)

    async def _finish(self, batch: _Batch, session: AsyncSession) -> None:
        committing = [m for m in batch.members if m.committing]
        GROUP_COMMIT_BATCH.labels(self.service).observe(len(batch.members))
        if any(m.written and not m.committing for m in batch.members):
            GROUP_COMMIT_REWRITES.labels(self.service).inc()
            await session.rollback()  # a member failed after its rows were written: write the others again
            committing = await _write_again(session, committing)
        statements: dict[Any, list[Mapping[str, Any]]] = {}
        for member in committing:
            for statement, params in member.work.at_commit_statements:
                statements.setdefault(statement, []).append(params)
        for statement, many in statements.items():
            await session.execute(statement, many)
        if any(m.written for m in committing):
            outbox.signal_commit(session)
        await session.commit()
        for member in committing:
            if not member.outcome.done():
                member.outcome.set_result(None)


async def _write_again(session: AsyncSession, members: list[_Member]) -> list[_Member]:
    """Write the members' aggregates again in a new transaction; one that no longer can is told to retry, and
    the others are written once more without it."""
    while True:
        news = [new for m in members for new in m.written]
        written = await write_aggregates(await session.connection(), news)
        lost = {new.key for new, ok in zip(news, written, strict=True) if not ok}
        failed = [m for m in members if any(new.key in lost for new in m.written)]
        if not failed:
            return members
        await session.rollback()
        for member in failed:
            member.outcome.set_exception(RetryLater("another request in its batch failed; retry"))
        members = [m for m in members if m not in failed]


async def write_aggregates(connection: AsyncConnection, news: Sequence[NewAggregate]) -> list[bool]:
    """Each aggregate unless its key is taken, then the dependents and events of those written: a statement per
    table, whatever the number of aggregates. Whether each was written, in order."""
    written_keys: set[tuple[Any, ...]] = set()
    for (table, conflict), group in _by_shape(news).items():
        keys = [c.key for c in table.primary_key.columns]
        returned = await insert_rows(connection, table, [n.values for n in group], conflict=conflict, returning=keys)
        written_keys.update(tuple(r) for r in returned)
    written = [n.key in written_keys for n in news]
    dependents: dict[tuple[Table, tuple[str, ...]], list[Mapping[str, Any]]] = {}
    events = []
    for new, ok in zip(news, written, strict=True):
        if not ok:
            continue
        for d in new.dependents:
            dependents.setdefault((d.table, d.columns), []).extend({c: r[c] for c in d.columns} for r in d.rows)
        events.append(new.event)
    for (table, _), rows in dependents.items():
        await insert_rows(connection, table, rows)
    await outbox.insert_events(connection, events)
    return written


def _by_shape(news: Sequence[NewAggregate]) -> dict[tuple[Table, tuple[str, ...]], list[NewAggregate]]:
    shapes: dict[tuple[Table, tuple[str, ...]], list[NewAggregate]] = {}
    for new in news:
        shapes.setdefault((new.table, new.conflict), []).append(new)
    return shapes

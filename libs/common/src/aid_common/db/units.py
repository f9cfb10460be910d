"""Units of work: the only ways anything commits.

- `unit_of_work`: a transaction with rollback hooks; the request's (`aid_common.uow` hands it to write routes)
  and any other writer that must undo something outside the database when it rolls back.
- `transaction`: a plain unit of work for background code (consumers, relays, workers, seeds).
- `run_alone`: one statement that commits on its own, with no BEGIN and COMMIT around it — the one-statement
  writes every POST makes before its unit of work (the write limit, the Idempotency-Key reservation). On
  PostgreSQL asyncpg runs it itself: SQLAlchemy's execution path was a third of their CPU. The statement is the
  same Core statement SQLite runs, compiled once (`statements.for_driver`).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, Protocol

from sqlalchemy import event as sa_event
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql.dml import UpdateBase

from aid_common.db.deferred import write_deferred
from aid_common.db.engine import TRANSIENT_SQLSTATE_CLASSES
from aid_common.db.statements import for_driver

RollbackHook = Callable[[], Awaitable[None]]


class Grouping(Protocol):
    """Where a unit of work's writes may go to be committed with other requests' (`aid_common.group_commit`)."""

    def joined(self, work: Transaction) -> bool: ...

    async def commit(self, work: Transaction) -> None: ...

    def abandon(self, work: Transaction) -> None: ...


_UNIT = "aid_unit_of_work"
_WROTE = "aid_wrote_itself"


class Transaction:
    """A session in a transaction that its `unit_of_work` commits or rolls back."""

    def __init__(self, session: AsyncSession, group: Grouping | None = None) -> None:
        self.session = session
        self.group = group
        self.at_commit_statements: list[tuple[Any, Mapping[str, Any]]] = []
        self._after_rollback: list[RollbackHook] = []
        session.sync_session.info[_UNIT] = self

    @staticmethod
    def of(session: AsyncSession) -> Transaction | None:
        """The unit of work `session` belongs to, if a request's."""
        unit = session.sync_session.info.get(_UNIT)
        return unit if isinstance(unit, Transaction) else None

    def after_rollback(self, hook: RollbackHook) -> None:
        """Run `hook` if this unit of work does not commit (e.g. release an idempotency reservation)."""
        self._after_rollback.append(hook)

    def at_commit(self, statement: Any, params: Mapping[str, Any]) -> None:
        """Run `statement` as part of this unit of work's commit (a stored answer): in its own transaction, or
        in its batch's (one executemany for the batch)."""
        self.at_commit_statements.append((statement, params))

    def can_group(self) -> bool:
        """Whether its writes may go to its group: it has one, its own session has written and locked nothing
        (what it wrote would be in another transaction than its batch's), and it opened no savepoint (a unit of
        work that undoes its steps one by one — an import, flow by flow — writes through its own session)."""
        sync = self.session.sync_session
        if self.group is None or sync.info.get(_WROTE) or sync.in_nested_transaction():
            return False
        return not (sync.new or sync.dirty or sync.deleted)

    @property
    def grouped(self) -> bool:
        return self.group is not None and self.group.joined(self)

    async def rolled_back(self) -> None:
        for hook in self._after_rollback:
            await hook()


def _wrote_itself(session: Session) -> None:
    unit = session.info.get(_UNIT)
    if isinstance(unit, Transaction) and unit.grouped:
        raise RuntimeError("a unit of work whose writes went to its group cannot also write through its own session")
    session.info[_WROTE] = True


def _before_flush(session: Session, *_: Any) -> None:
    if session.new or session.dirty or session.deleted:
        _wrote_itself(session)


def _on_execute(state: ORMExecuteState) -> None:
    statement: Any = state.statement
    if not state.is_select or getattr(statement, "_for_update_arg", None) is not None:
        _wrote_itself(state.session)


sa_event.listen(Session, "before_flush", _before_flush)
sa_event.listen(Session, "do_orm_execute", _on_execute)


@asynccontextmanager
async def unit_of_work(
    factory: async_sessionmaker[AsyncSession], *, group: Grouping | None = None
) -> AsyncIterator[Transaction]:
    """Commits when the block ends; on any exception rolls back and runs the rollback hooks. With `group`, writes
    that can go to it (`aid_common.insert_new`) are committed with other units of work's."""
    async with factory() as session:
        work = Transaction(session, group)
        try:
            yield work
            if work.grouped:
                assert group is not None
                await group.commit(work)
                await session.rollback()  # its own session only read
            else:
                await write_deferred(session)
                for statement, params in work.at_commit_statements:
                    await session.execute(statement, params)
                await session.commit()
        except BaseException:
            if group is not None:
                group.abandon(work)
            with contextlib.suppress(Exception):  # the database may be the reason we are here
                await session.rollback()
            await work.rolled_back()
            raise
        finally:
            session.sync_session.info.pop(_UNIT, None)
            session.sync_session.info.pop(_WROTE, None)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends (with the rows it deferred), rolls back on any exception."""
    async with factory() as session, session.begin():
        yield session
        await write_deferred(session)


async def run_alone(engine: AsyncEngine, statement: UpdateBase, params: Mapping[str, Any] | None = None) -> Any:
    """Run `statement` so that it commits on its own; the first value of its first row (None without one)."""
    params = params or {}
    if engine.dialect.name != "postgresql":
        async with engine.begin() as conn:
            result = await conn.execute(statement, dict(params))
            return result.scalar() if result.returns_rows else None
    return await _run_on_driver(engine, statement, params, every_row=False)


async def fetch_alone(engine: AsyncEngine, statement: Any, params: Mapping[str, Any]) -> list[tuple[Any, ...]]:
    """Run `statement` so that it commits on its own, as `run_alone` does; every row it returns (as the driver
    gives them: no column type processing, so for plain text and numbers)."""
    if engine.dialect.name != "postgresql":
        async with engine.begin() as conn:
            return [tuple(r) for r in await conn.execute(statement, dict(params))]
    return [tuple(r) for r in await _run_on_driver(engine, statement, params, every_row=True)]


async def _run_on_driver(engine: AsyncEngine, statement: Any, params: Mapping[str, Any], *, every_row: bool) -> Any:
    import asyncpg

    compiled = for_driver(statement, engine.dialect)
    args = compiled.arguments(params)
    async with engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        try:
            if every_row:
                return await driver.fetch(compiled.sql, *args)
            return await driver.fetchval(compiled.sql, *args)
        except asyncpg.exceptions.InternalClientError as exc:
            # The connection was left mid-operation by a failure (a database restart): it goes, and the caller
            # hears what `is_transient` says of the same error on SQLAlchemy's path — the database is away (503).
            await conn.invalidate()
            raise OperationalError(compiled.sql, args, exc) from exc
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # Raised as SQLAlchemy would have: `is_transient` and the problem handlers (503 while the database
            # restarts) know its errors, not the driver's; a connection that failed is not handed out again.
            sqlstate = getattr(exc, "sqlstate", None) or ""
            if not isinstance(exc, asyncpg.PostgresError) or sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES:
                await conn.invalidate()
                raise OperationalError(compiled.sql, args, exc) from exc
            raise DBAPIError(compiled.sql, args, exc) from exc

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
from typing import Any

from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.sql.dml import UpdateBase

from aid_common.db.engine import TRANSIENT_SQLSTATE_CLASSES
from aid_common.db.statements import for_driver

RollbackHook = Callable[[], Awaitable[None]]


class Transaction:
    """A session in a transaction that its `unit_of_work` commits or rolls back."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_rollback: list[RollbackHook] = []

    def after_rollback(self, hook: RollbackHook) -> None:
        """Run `hook` if this unit of work does not commit (e.g. release an idempotency reservation)."""
        self._after_rollback.append(hook)

    async def rolled_back(self) -> None:
        for hook in self._after_rollback:
            await hook()


@asynccontextmanager
async def unit_of_work(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[Transaction]:
    """Commits when the block ends; on any exception rolls back and runs the rollback hooks."""
    async with factory() as session:
        work = Transaction(session)
        try:
            yield work
            await session.commit()
        except BaseException:
            with contextlib.suppress(Exception):  # the database may be the reason we are here
                await session.rollback()
            await work.rolled_back()
            raise


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends, rolls back on any exception."""
    async with factory() as session, session.begin():
        yield session


async def run_alone(engine: AsyncEngine, statement: UpdateBase, params: Mapping[str, Any] | None = None) -> Any:
    """Run `statement` so that it commits on its own; the first value of its first row (None without one)."""
    params = params or {}
    if engine.dialect.name != "postgresql":
        async with engine.begin() as conn:
            result = await conn.execute(statement, dict(params))
            return result.scalar() if result.returns_rows else None
    return await _run_on_driver(engine, statement, params)


async def _run_on_driver(engine: AsyncEngine, statement: UpdateBase, params: Mapping[str, Any]) -> Any:
    import asyncpg

    compiled = for_driver(statement, engine.dialect)
    args = compiled.arguments(params)
    async with engine.connect() as conn:
        driver: Any = (await conn.get_raw_connection()).driver_connection
        try:
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

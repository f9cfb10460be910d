"""Async engines and sessions for PostgreSQL (asyncpg) and SQLite (aiosqlite), and column types that keep
money exact and times in UTC on both."""

from __future__ import annotations

import datetime as dt
import operator
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Numeric, Table, event, insert, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator, TypeEngine
from sqlalchemy.util import await_

# Stable constraint names, so Alembic migrations are the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class AmountOutOfRange(ValueError):
    """A value the column cannot hold: the caller's input, not a fault of the server (422, naming the limit)."""


_SQLITE_INTEGER_MAX = 2**63 - 1


class Amount(TypeDecorator[Decimal]):
    """An exact decimal. NUMERIC on PostgreSQL; on SQLite (which would go through float) an integer count of
    the smallest unit, so sums and comparisons in SQL stay exact there too."""

    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int = 2, precision: int = 20) -> None:
        super().__init__()
        self.scale = scale
        self.precision = precision

    def __repr__(self) -> str:  # what Alembic writes into migrations
        return f"Amount(scale={self.scale}, precision={self.precision})"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def limit(self, dialect: Dialect) -> Decimal:
        """The largest magnitude this column holds: NUMERIC(precision, scale), and on SQLite also what an integer
        count of the smallest unit can hold. One limit, derived from the column's type."""
        numeric = Decimal(10) ** (self.precision - self.scale) - Decimal(1).scaleb(-self.scale)
        if dialect.name == "sqlite":
            return min(
                numeric, Decimal(_SQLITE_INTEGER_MAX).scaleb(-self.scale).quantize(Decimal(1).scaleb(-self.scale))
            )
        return numeric

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if not value.is_finite() or abs(value) > self.limit(dialect):
            raise AmountOutOfRange(f"{value} is beyond what is stored (at most {self.limit(dialect)} in magnitude)")
        if dialect.name == "sqlite":
            scaled = value.scaleb(self.scale)
            if scaled != scaled.to_integral_value():
                raise ValueError(f"{value} has more than {self.scale} decimal places")
            return int(scaled)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)).scaleb(-self.scale)).quantize(Decimal(1).scaleb(-self.scale))
        return Decimal(value)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def __repr__(self) -> str:
        return "UtcDateTime()"

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# An auto-incrementing big integer key that SQLite also understands (it only autoincrements INTEGER).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PlatformBase(DeclarativeBase):
    """Tables of the shared mechanics (outbox, inbox, idempotency keys) that live in every service's database."""

    metadata = new_metadata()


def create_engine(url: str, *, pool_size: int = 20) -> AsyncEngine:
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        _serialize_sqlite_writers(engine)
        return engine
    if not url.startswith("postgresql+asyncpg://"):
        raise ValueError(
            f"unsupported DATABASE_URL scheme in {url.split('://')[0]!r}: "
            "use postgresql+asyncpg://… or sqlite+aiosqlite:///…"
        )
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size // 2,
        json_serializer=_json_text,
        json_deserializer=orjson.loads,  # a fan-out reads thousands of subscriptions' JSON columns
    )
    event.listen(engine.sync_engine.pool, "checkin", _note_checkin)
    event.listen(engine.sync_engine.pool, "checkout", _check_on_checkout)
    _name_savepoints_by_depth(engine.sync_engine.dialect)
    return engine


def _name_savepoints_by_depth(dialect: Dialect) -> None:
    """Name each savepoint by how deep it is (`aid_savepoint_1` for an event's own savepoint in a consumer batch),
    not by SQLAlchemy's running count (`sa_savepoint_1` … `sa_savepoint_100` in a batch of 100). asyncpg runs
    every statement as a prepared statement cached by its text: a new name per savepoint cost a Parse round trip
    for each SAVEPOINT and RELEASE, and 200 new texts per batch pushed the batch's real statements out of the
    connection's cache (100 entries). Savepoints are released or rolled back innermost first, so a name per
    depth is unambiguous; PostgreSQL lets a newer savepoint of the same name hide an older one (one rolled back
    to stays defined) and RELEASE/ROLLBACK TO use the newest."""
    save, rollback_to, release = dialect.do_savepoint, dialect.do_rollback_to_savepoint, dialect.do_release_savepoint

    def open_(connection: Any) -> dict[str, str]:
        # Per SQLAlchemy Connection (one per session transaction): the savepoints now open, their names by depth.
        return connection.__dict__.setdefault("_aid_savepoints", {})

    def do_savepoint(connection: Any, name: str) -> None:
        names = open_(connection)
        names[name] = f"aid_savepoint_{len(names) + 1}"
        save(connection, names[name])

    def do_rollback_to_savepoint(connection: Any, name: str) -> None:
        rollback_to(connection, open_(connection).pop(name, name))

    def do_release_savepoint(connection: Any, name: str) -> None:
        release(connection, open_(connection).pop(name, name))

    dialect.do_savepoint = do_savepoint  # type: ignore[method-assign]
    dialect.do_rollback_to_savepoint = do_rollback_to_savepoint  # type: ignore[method-assign]
    dialect.do_release_savepoint = do_release_savepoint  # type: ignore[method-assign]


# A connection back in the pool for less than this is handed out again without a round trip to the server.
PING_AFTER_IDLE_SECONDS = 1.0


def _note_checkin(dbapi_connection: Any, record: Any) -> None:
    record.info["aid_checked_in"] = time.monotonic()


def _check_on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    """Pessimistic disconnect handling (a connection from the pool is checked before it is handed out, so a request
    after a database restart is served, not failed), at the least cost:

    - a connection the server closed (a restart, `pg_terminate_backend`) is known closed to asyncpg as soon as its
      socket reports it: checked on every checkout, no round trip;
    - one that sat idle for more than PING_AFTER_IDLE_SECONDS (where a silent failure could hide) gets `SELECT 1`,
      simple protocol. Pinging every checkout cost ~0.2 ms CPU and a round trip each, three per agreement POST;
      SQLAlchemy's own `pool_pre_ping` on asyncpg is worse: BEGIN … ROLLBACK around it, three round trips.

    A connection found dead invalidates the pool (every older connection is replaced: after a restart they are all
    dead) and the checkout is retried on a new one; a connection just opened is not checked."""
    raw = dbapi_connection.driver_connection
    idle_since = record.info.pop("aid_checked_in", None)
    if raw.is_closed():
        raise InvalidatePoolError("connection found closed on checkout")
    if idle_since is None or time.monotonic() - idle_since <= PING_AFTER_IDLE_SECONDS:
        return  # just opened, or in use a moment ago
    try:
        await_(raw.execute("SELECT 1"))
    except Exception as exc:  # closed, reset, half-read, shut down: whatever it is, a new connection is the cure
        raise InvalidatePoolError(f"connection found dead on checkout: {exc!r}") from exc


def _json_text(value: Any) -> str:
    return orjson.dumps(value).decode()


def _serialize_sqlite_writers(engine: AsyncEngine) -> None:
    """SQLite allows one writer: take the write lock at BEGIN (and wait for it) instead of failing on the
    first write of a transaction that began as a read."""

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(factory: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    """One unit of work: commits when the block ends, rolls back on any exception."""
    async with factory() as session, session.begin():
        yield session


@asynccontextmanager
async def autocommit(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection on which each statement commits alone: one round trip for a one-statement write, no BEGIN and
    COMMIT around it (SQLite: an ordinary transaction, committed when the block ends)."""
    if engine.dialect.name == "sqlite":
        async with engine.begin() as conn:
            yield conn
        return
    async with engine.connect() as conn:
        yield await conn.execution_options(isolation_level="AUTOCOMMIT")


async def driver_fetchval(engine: AsyncEngine, sql: str, *args: Any) -> Any:
    """PostgreSQL: one statement outside any transaction (so it commits alone), run by asyncpg itself on a pooled
    connection — the first value of its first row. For the one-statement writes every POST makes before its unit of
    work (the write limit, the Idempotency-Key reservation): SQLAlchemy's execution path cost a third of their CPU.
    `sql` uses asyncpg's $1 placeholders; arguments go as they are (aware datetimes, not naive)."""
    import asyncpg
    from sqlalchemy.exc import DBAPIError, OperationalError

    async with engine.connect() as conn:
        driver = (await conn.get_raw_connection()).driver_connection
        try:
            return await driver.fetchval(sql, *args)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            # Raised as SQLAlchemy would have: `is_transient` and the problem handlers (503 while the database
            # restarts) know its errors, not the driver's; a connection that failed is not handed out again.
            sqlstate = getattr(exc, "sqlstate", None) or ""
            if not isinstance(exc, asyncpg.PostgresError) or sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES:
                await conn.invalidate()
                raise OperationalError(sql, args, exc) from exc
            raise DBAPIError(sql, args, exc) from exc


def upsert_insert(bound: AsyncSession | AsyncEngine | str) -> Any:
    """The dialect's INSERT that supports ON CONFLICT (PostgreSQL or SQLite) for a session's or engine's database
    (or a dialect named)."""
    from sqlalchemy.dialects import postgresql, sqlite

    if isinstance(bound, str):
        dialect = bound
    else:
        engine = bound if isinstance(bound, AsyncEngine) else bound.bind
        dialect = engine.dialect.name if engine is not None else "postgresql"
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


# SQLSTATE classes of a database that is away, not of a bad statement: 08 connection exception,
# 57 operator intervention (shutting down, starting up), 53 insufficient resources (too many connections).
_TRANSIENT_SQLSTATE_CLASSES = ("08", "57", "53", "40")  # 40: deadlock / serialization: run it again


def is_transient(exc: BaseException) -> bool:
    """A failure of the database connection (down, restarting, unreachable), not of the statement."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    if isinstance(exc, (OperationalError, InterfaceError, OSError, ConnectionError)):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:
        return True
    sqlstate = getattr(exc.orig, "sqlstate", None) or ""
    if sqlstate[:2] in _TRANSIENT_SQLSTATE_CLASSES:
        return True
    # asyncpg's client-side state errors: a connection left mid-operation by a failure; the pool drops it.
    cause = getattr(exc.orig, "__cause__", None)
    return type(cause).__name__ in ("InternalClientError", "ConnectionDoesNotExistError")


# From this many rows on, COPY: several times faster than multi-row INSERTs for thousands of rows, but each one
# first asks the server for the table's column types — for a handful of rows (a fan-out matching one or two
# subscriptions, its one alert) that costs more than the INSERT.
COPY_FROM_ROWS = 100


async def bulk_insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: PostgreSQL COPY from COPY_FROM_ROWS rows, otherwise one
    executemany (multi-row INSERTs). Rows carry every column they set: Python-side column defaults are not
    applied."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql" or len(rows) < COPY_FROM_ROWS:
        await connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    if not driver.is_in_transaction():  # type: ignore[union-attr]
        # SQLAlchemy begins the database transaction at its first statement; COPY on the driver connection
        # before that would commit on its own.
        await connection.execute(text("SELECT 1"))
    # itemgetter builds each record in C: a generator per row cost ~0.2 s CPU for a fan-out's 20 000 rows.
    record = operator.itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    await driver.copy_records_to_table(  # type: ignore[union-attr]
        table.name, records=[record(row) for row in rows], columns=columns
    )


async def lock_for_transaction(session: AsyncSession, name: str, *, shared: bool = False) -> None:
    """Hold a named lock until this transaction ends, so writers of one aggregate take turns (PostgreSQL
    advisory lock; SQLite writers are serialized already by BEGIN IMMEDIATE). Shared holders do not wait for
    each other, only for an exclusive one."""
    await _advisory_lock(session, name, shared=shared, wait=True)


async def try_lock_for_transaction(session: AsyncSession, name: str, *, shared: bool = False) -> bool:
    """`lock_for_transaction` if the lock is free now (True), else nothing (False) — never waits. SQLite: True."""
    return await _advisory_lock(session, name, shared=shared, wait=False)


async def _advisory_lock(session: AsyncSession, name: str, *, shared: bool, wait: bool) -> bool:
    if session.bind is None or session.bind.dialect.name != "postgresql":
        return True
    function = f"pg_{'' if wait else 'try_'}advisory_xact_lock{'_shared' if shared else ''}"
    got = await session.scalar(text(f"SELECT {function}(hashtext(:name))"), {"name": name})
    return wait or bool(got)  # the waiting functions return void


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def create_all(engine: AsyncEngine, *metadatas: MetaData) -> None:
    """Create tables directly: only for tests and the embedded mode (production uses Alembic)."""
    from aid_common import tables  # noqa: F401  (registers the platform tables)

    async with engine.begin() as conn:
        for md in (PlatformBase.metadata, *metadatas):
            await conn.run_sync(md.create_all)

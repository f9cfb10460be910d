"""Engines and their pools: how a connection is opened, checked before it is handed out, and told apart when the
database is away. PostgreSQL through asyncpg; SQLite (the one-process embedded mode) through aiosqlite."""

from __future__ import annotations

import time
from typing import Any

import orjson
from sqlalchemy import MetaData, event, text
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import InvalidatePoolError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.util import await_

from aid_common.db.types import PlatformBase


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


# SQLSTATE classes of a database that is away, not of a bad statement: 08 connection exception,
# 57 operator intervention (shutting down, starting up), 53 insufficient resources (too many connections).
TRANSIENT_SQLSTATE_CLASSES = ("08", "57", "53", "40")  # 40: deadlock / serialization: run it again


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
    if sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES:
        return True
    # asyncpg's client-side state errors: a connection left mid-operation by a failure; the pool drops it.
    cause = getattr(exc.orig, "__cause__", None)
    return type(cause).__name__ in ("InternalClientError", "ConnectionDoesNotExistError")


# From this many rows on, COPY: several times faster than multi-row INSERTs for thousands of rows, but each one
# first asks the server for the table's column types — for a handful of rows (a fan-out matching one or two
async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def create_all(engine: AsyncEngine, *metadatas: MetaData) -> None:
    """Create tables directly: only for tests and the embedded mode (production uses Alembic)."""
    from aid_common import tables  # noqa: F401  (registers the platform tables)

    async with engine.begin() as conn:
        for md in (PlatformBase.metadata, *metadatas):
            await conn.run_sync(md.create_all)

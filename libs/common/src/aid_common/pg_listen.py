"""PostgreSQL LISTEN on a connection of its own (not the pool's: a pooled connection is handed to requests, and
its listeners would go with it). Used by the outbox relay (commits in other processes wake it) and by
`notified_cache` (a change committed anywhere drops a cached row everywhere)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import structlog

log = structlog.get_logger("aid.pg_listen")


async def listen(
    database_url: str, channel: str, *, on_notify: Callable[[str], None], on_lost: Callable[[], None]
) -> Any | None:
    """A new asyncpg connection LISTENing on `channel`: `on_notify(payload)` for each notification, `on_lost()`
    once if the connection goes. None for a database other than PostgreSQL, or if it cannot be reached (logged;
    the caller tries again later)."""
    if not database_url.startswith("postgresql"):
        return None
    import asyncpg

    dsn = database_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    try:
        # named, so that an operator can tell it in pg_stat_activity
        conn = await asyncpg.connect(dsn, timeout=5, server_settings={"application_name": f"listen:{channel}"})
        await conn.add_listener(channel, lambda _conn, _pid, _channel, payload: on_notify(payload))
        conn.add_termination_listener(lambda _conn: on_lost())
        return conn
    except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
        log.warning("pg_listen.failed", channel=channel, error=str(exc))
        return None


async def alive(conn: Any, *, timeout: float = 5.0) -> bool:
    """Whether a listening connection still answers: a connection cut without a FIN or RST (a dropped network
    path) is noticed by no one until something is sent on it."""
    try:
        await asyncio.wait_for(conn.execute("SELECT 1"), timeout)
        return True
    except Exception:
        return False


async def close(conn: Any) -> None:
    try:
        await asyncio.wait_for(conn.close(), timeout=2)
    except Exception:
        conn.terminate()

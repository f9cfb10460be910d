"""The connection pool (real PostgreSQL): a pooled connection is checked in one round trip before it is handed out,
reused while healthy, and replaced when the server dropped it (a restart) without failing the request."""

from __future__ import annotations

import asyncpg
from sqlalchemy import text

from aid_common.db import create_engine


async def _backend(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def test_a_healthy_pooled_connection_is_reused_after_one_cheap_check(pg_url) -> None:
    engine = create_engine(pg_url)
    statements: list[str] = []
    try:
        async with engine.connect() as conn:  # opened now: the one connection in the pool
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            raw = (await conn.get_raw_connection()).driver_connection
            raw.add_query_logger(lambda record: statements.append(record.query))
        again = [await _backend(engine) for _ in range(3)]
        assert again == [first] * 3, "the same connection, not a new one per checkout"
        assert statements.count("SELECT 1") == 3, statements  # one check per checkout, nothing around it
    finally:
        await engine.dispose()


async def test_connections_the_server_dropped_are_replaced_without_failing_the_caller(pg_url, pg_admin_dsn) -> None:
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as a, engine.connect() as b:  # two connections in the pool
            pids = {
                (await a.execute(text("SELECT pg_backend_pid()"))).scalar_one(),
                (await b.execute(text("SELECT pg_backend_pid()"))).scalar_one(),
            }
        admin = await asyncpg.connect(pg_admin_dsn)
        try:  # what a database restart does to every open connection
            killed = await admin.fetchval(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1",
                pg_url.rsplit("/", 1)[1],
            )
        finally:
            await admin.close()
        assert killed == 2
        served = [await _backend(engine) for _ in range(3)]  # each would fail on a dead connection
        assert not set(served) & pids, "served on new connections"
    finally:
        await engine.dispose()

"""The connection pool (real PostgreSQL): a pooled connection is handed out again at no cost while it is in use,
checked in one round trip after it sat idle, and replaced when the server dropped it (a restart, a terminated
backend) without failing the request."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from sqlalchemy import text

from aid_common import db
from aid_common.db import create_engine, is_transient, run_alone


async def _backend(engine) -> int:
    async with engine.connect() as conn:
        return (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()


async def test_a_healthy_pooled_connection_is_reused_and_checked_only_after_sitting_idle(pg_url, monkeypatch) -> None:
    monkeypatch.setattr(db.engine, "PING_AFTER_IDLE_SECONDS", 0.3)
    engine = create_engine(pg_url)
    statements: list[str] = []
    try:
        async with engine.connect() as conn:  # opened now: the one connection in the pool
            first = (await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one()
            raw = (await conn.get_raw_connection()).driver_connection
            raw.add_query_logger(lambda record: statements.append(record.query))
        again = [await _backend(engine) for _ in range(3)]
        assert again == [first] * 3, "the same connection, not a new one per checkout"
        assert "SELECT 1" not in statements, "no round trip for a connection in use a moment ago"
        await asyncio.sleep(0.4)
        assert await _backend(engine) == first
        assert statements.count("SELECT 1") == 1, statements  # one check after the idle time, nothing around it
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
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = $1 AND usename = current_user AND pid <> pg_backend_pid()",
                pg_url.rsplit("/", 1)[1],
            )
        finally:
            await admin.close()
        assert killed == 2
        await _until_gone(pg_admin_dsn, pg_url)  # no idle time passes: the pool sees them closed, no ping needed
        served = [await _backend(engine) for _ in range(3)]  # each would fail on a dead connection
        assert not set(served) & pids, "served on new connections"
    finally:
        await engine.dispose()


async def _until_gone(admin_dsn: str, pg_url: str) -> None:
    admin = await asyncpg.connect(admin_dsn)
    try:
        for _ in range(100):
            left = await admin.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND usename = current_user",
                pg_url.rsplit("/", 1)[1],
            )
            if left == 0:
                return
            await asyncio.sleep(0.02)
        raise AssertionError("the terminated backends are still there")
    finally:
        await admin.close()


async def test_savepoints_reuse_their_statements_and_roll_back_to_the_right_one(pg_url) -> None:
    """A consumer batch opens a savepoint per event: a hundred of them must not be a hundred new prepared
    statements (each a Parse round trip, pushing the batch's own statements out of the connection's cache) —
    and with names reused per depth, rolling back still undoes exactly what it should."""
    engine = create_engine(pg_url)
    try:
        async with engine.connect() as conn:
            await conn.execute(text("CREATE TABLE t (v int)"))
            await conn.commit()
        async with engine.connect() as conn, conn.begin():
            for v in range(100):  # one savepoint per event, each released
                async with conn.begin_nested():
                    await conn.execute(text("INSERT INTO t VALUES (:v)"), {"v": v})
            outer = await conn.begin_nested()
            await conn.execute(text("INSERT INTO t VALUES (1000)"))
            inner = await conn.begin_nested()
            await conn.execute(text("INSERT INTO t VALUES (2000)"))
            await inner.rollback()  # the inner one alone
            await conn.execute(text("INSERT INTO t VALUES (3000)"))
            async with conn.begin_nested():  # the same depth as the rolled-back one, released
                await conn.execute(text("INSERT INTO t VALUES (4000)"))
            await outer.rollback()  # back to before 1000: not to the inner savepoint that is still defined
            async with conn.begin_nested():
                await conn.execute(text("INSERT INTO t VALUES (5000)"))
            prepared = (
                await conn.execute(
                    text(
                        "SELECT count(*) FROM pg_prepared_statements"
                        " WHERE statement ILIKE '%SAVEPOINT%' AND statement NOT ILIKE '%pg_prepared_statements%'"
                    )
                )
            ).scalar_one()
        async with engine.connect() as conn:
            kept = (await conn.execute(text("SELECT v FROM t ORDER BY v"))).scalars().all()
        assert kept == [*range(100), 5000]
        # SAVEPOINT, RELEASE and ROLLBACK TO at two depths, whatever the count of savepoints
        assert prepared <= 6, f"{prepared} savepoint statements prepared for 104 savepoints"
    finally:
        await engine.dispose()


async def test_a_driver_run_statement_cut_by_a_restart_fails_as_the_database_being_away(pg_url, pg_admin_dsn) -> None:
    """The write limit and the Idempotency-Key run on asyncpg itself (`run_alone`): when the server goes
    mid-statement, the error is the one the API answers 503 for (not a 500), and the next call gets a working
    connection."""
    engine = create_engine(pg_url)
    try:
        sleeping = asyncio.create_task(run_alone(engine, text("SELECT pg_sleep(30)")))
        admin = await asyncpg.connect(pg_admin_dsn)
        try:
            for _ in range(100):  # once the sleep is running, end it as a restart would
                if await admin.fetchval(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(30)'"
                ):
                    break
                await asyncio.sleep(0.05)
        finally:
            await admin.close()
        with pytest.raises(Exception) as failed:
            await sleeping
        assert is_transient(failed.value), repr(failed.value)
        assert await run_alone(engine, text("SELECT 1")) == 1
    finally:
        await engine.dispose()

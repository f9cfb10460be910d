"""Rows deferred to the end of a transaction (`aid_common.db.deferred`): a statement per table, in the order the
tables were first deferred, gone with a rolled-back savepoint, and never silently dropped by a commit."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, event, func, select

from aid_common.db import (
    create_all,
    create_engine,
    defer_rows,
    deferred_rows,
    forget,
    session_factory,
    transaction,
    write_deferred,
)

metadata = MetaData()
parents = Table("parents", metadata, Column("id", Integer, primary_key=True), Column("name", String(40)))
children = Table(
    "children", metadata, Column("id", Integer, primary_key=True), Column("parent_id", ForeignKey("parents.id"))
)


@pytest.fixture(params=["sqlite", "postgresql"])
async def sessions(request, sqlite_url, pg_url):
    engine = create_engine(sqlite_url if request.param == "sqlite" else pg_url)
    async with engine.begin() as conn:
        await conn.run_sync(metadata.drop_all)
    await create_all(engine, metadata)
    yield session_factory(engine)
    await engine.dispose()


async def _count(sessions, table) -> int:
    async with transaction(sessions) as session:
        return await session.scalar(select(func.count()).select_from(table))


async def test_a_transactions_rows_go_in_a_statement_per_table_parents_first(sessions) -> None:
    inserts: list[str] = []
    engine = sessions.kw["bind"].sync_engine

    def listener(conn, cursor, statement, *args) -> None:
        if statement.startswith("INSERT"):
            inserts.append(statement.split("(")[0].strip().replace('"', ""))

    event.listen(engine, "before_cursor_execute", listener)
    try:
        async with transaction(sessions) as session:
            for i in range(1, 6):  # event by event, as a consumer round's handlers add them
                defer_rows(session, parents, [{"id": i, "name": f"p{i}"}])
                defer_rows(session, children, [{"id": 10 + i, "parent_id": i}])
                defer_rows(session, parents, [{"id": 1, "name": "again"}], conflict=("id",))  # a taken key: skipped
            assert len(deferred_rows(session, children)) == 5
            assert await session.scalar(select(func.count()).select_from(parents)) == 0, "not written yet"
    finally:
        event.remove(engine, "before_cursor_execute", listener)
    assert inserts == ["INSERT INTO parents", "INSERT INTO children", "INSERT INTO parents"]
    assert (await _count(sessions, parents), await _count(sessions, children)) == (5, 5)


async def test_a_rolled_back_savepoint_forgets_its_rows_and_a_bare_commit_refuses_unwritten_ones(sessions) -> None:
    async with transaction(sessions) as session:
        defer_rows(session, parents, [{"id": 1, "name": "kept"}])
        await write_deferred(session)
        with pytest.raises(RuntimeError, match="failed"):
            async with session.begin_nested():
                defer_rows(session, parents, [{"id": 2, "name": "rolled back"}])
                raise RuntimeError("the event failed")
        forget(session)  # as a consumer round does when an event's savepoint rolls back
    assert await _count(sessions, parents) == 1

    async with sessions() as session:
        await session.begin()
        defer_rows(session, parents, [{"id": 3, "name": "never written"}])
        with pytest.raises(RuntimeError, match="parents were not written"):
            await session.commit()
    assert await _count(sessions, parents) == 1

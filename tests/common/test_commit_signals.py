"""Work handed to a loop of this process by the transaction that writes it (`commit_signals.hand`): received
when the transaction commits, given back when it rolls back or is abandoned, refused inside a SAVEPOINT."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from aid_common import commit_signals
from aid_common.db import create_engine, session_factory


class Loop:
    def __init__(self) -> None:
        self.received: list[str] = []
        self.released: list[str] = []

    def receive(self, items: list[str]) -> None:
        self.received += items

    def release(self, items: list[str]) -> None:
        self.released += items


@pytest.fixture
async def sessions(tmp_path):
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'h.db'}")
    yield session_factory(engine)
    await engine.dispose()


async def test_items_arrive_only_when_the_transaction_commits(sessions) -> None:
    loop = Loop()
    async with sessions() as session, session.begin():
        await session.execute(text("SELECT 1"))
        commit_signals.hand(session, loop, ["a", "b"])
        async with session.begin_nested():  # a savepoint released inside it is not the commit
            await session.execute(text("SELECT 1"))
        assert loop.received == []
    assert (loop.received, loop.released) == (["a", "b"], [])


async def test_a_rolled_back_or_abandoned_transaction_gives_its_items_back(sessions) -> None:
    loop = Loop()
    with pytest.raises(RuntimeError, match="a later write failed"):
        async with sessions() as session, session.begin():
            commit_signals.hand(session, loop, ["rolled back"])
            raise RuntimeError("a later write failed")
    async with sessions() as session:
        await session.execute(text("SELECT 1"))
        commit_signals.hand(session, loop, ["abandoned"])
    assert (loop.received, loop.released) == ([], ["rolled back", "abandoned"])


async def test_nothing_is_handed_inside_a_savepoint(sessions) -> None:
    loop = Loop()
    async with sessions() as session, session.begin():
        assert commit_signals.can_hand(session)
        async with session.begin_nested():
            assert not commit_signals.can_hand(session)
            with pytest.raises(RuntimeError, match="SAVEPOINT"):
                commit_signals.hand(session, loop, ["x"])
    assert (loop.received, loop.released) == ([], [])

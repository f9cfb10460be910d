"""One unit of work per request: the only way a route writes.

A write route takes `uow: UnitOfWork`, hands `uow.session` to its service and returns. The transaction commits
after the route returns and before the answer is sent (so an answer never claims what did not commit), and
rolls back on any error (`aid_common.db.units.unit_of_work`); with the process's group commit
(`aid_common.group_commit`, on by default) concurrent requests' new aggregates commit together.
Read routes take `ReadSession`: a session whose transaction is simply closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import Transaction, unit_of_work
from aid_common.state import runtime_of

__all__ = ["ReadSession", "StreamSession", "Transaction", "UnitOfWork"]


async def _unit_of_work(request: Request) -> AsyncIterator[Transaction]:
    runtime = runtime_of(request.app)
    async with unit_of_work(runtime.sessions, group=runtime.group_commit) as work:
        yield work


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with runtime_of(request.app).sessions() as session:
        yield session


# scope="function": the commit runs when the route returns, before the response goes out.
UnitOfWork = Annotated[Transaction, Depends(_unit_of_work, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(_read_session, scope="function")]
# For a streamed answer: the session stays open until the last byte is sent.
StreamSession = Annotated[AsyncSession, Depends(_read_session, scope="request")]

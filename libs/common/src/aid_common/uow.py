"""One unit of work per request: the only way a route writes.

A write route takes `uow: UnitOfWork`, hands `uow.session` to its service and returns. The transaction commits
after the route returns and before the answer is sent (so an answer never claims what did not commit), and
rolls back on any error. Read routes take `ReadSession`: a session whose transaction is simply closed.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

RollbackHook = Callable[[], Awaitable[None]]


class Transaction:
    """The request's session, in a transaction that the `UnitOfWork` dependency commits or rolls back."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._after_rollback: list[RollbackHook] = []

    def after_rollback(self, hook: RollbackHook) -> None:
        """Run `hook` if this unit of work does not commit (e.g. release an idempotency reservation)."""
        self._after_rollback.append(hook)

    async def rolled_back(self) -> None:
        for hook in self._after_rollback:
            await hook()


def _sessions(request: Request) -> async_sessionmaker[AsyncSession]:
    return request.app.state.runtime.sessions


async def _unit_of_work(request: Request) -> AsyncIterator[Transaction]:
    async with _sessions(request)() as session:
        work = Transaction(session)
        try:
            yield work
            await session.commit()
        except BaseException:
            with contextlib.suppress(Exception):  # the database may be the reason we are here
                await session.rollback()
            await work.rolled_back()
            raise


async def _read_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with _sessions(request)() as session:
        yield session


# scope="function": the commit runs when the route returns, before the response goes out.
UnitOfWork = Annotated[Transaction, Depends(_unit_of_work, scope="function")]
ReadSession = Annotated[AsyncSession, Depends(_read_session, scope="function")]
# For a streamed answer: the session stays open until the last byte is sent.
StreamSession = Annotated[AsyncSession, Depends(_read_session, scope="request")]

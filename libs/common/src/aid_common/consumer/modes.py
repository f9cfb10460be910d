"""How a batch round runs each event: the execution modes of a consumer round, as named strategies.

- `WITHOUT_SAVEPOINTS`: most batches hold no failing event, so a round first runs them all in its transaction
  with no SAVEPOINT/RELEASE around each (two round trips per event fewer), and their writes (ORM rows, deferred
  rows: `aid_common.db.deferred`) go in together when the round finishes. An event that fails, or a write that
  fails then, raises `Undo`: the round's transaction is rolled back, nothing of it committed, and the round is run
  again in the next mode.
- `WITH_SAVEPOINTS`: each event in a savepoint of its own, so the one that fails is rolled back alone; the round
  defers it (and every later event of its key) to be retried one by one.

The third mode, one event per transaction with retries and dead letters, is `EventConsumer.process`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import forget, is_transient, write_deferred

Step = Callable[[], Awaitable[str]]


class Undo(Exception):
    """An event failed in a round run without savepoints: roll the round back and run it again with them."""


class RoundMode(Protocol):
    name: str

    async def apply(self, session: AsyncSession, step: Step) -> str:
        """Run one event's `step` in the round's `session`. A failure that this mode leaves to the round (to defer
        the event) is raised as it is; `Undo` asks for the whole round again in another mode."""
        ...

    async def finish(self, session: AsyncSession) -> None:
        """Write what the round's events left unflushed, before it commits. Handlers write into the session and
        flush only when they must read, so a round's rows of one table go in as one multi-row statement here; a
        write that fails here fails the round as one of its events would (`Undo`)."""
        ...


class WithoutSavepoints:
    name = "rounds without savepoints"

    async def apply(self, session: AsyncSession, step: Step) -> str:
        try:
            return await step()
        except Exception as exc:
            if is_transient(exc):
                raise
            raise Undo from exc

    async def finish(self, session: AsyncSession) -> None:
        try:
            await write_deferred(session)
            await session.flush()
        except Exception as exc:
            if is_transient(exc):
                raise
            raise Undo from exc


class WithSavepoints:
    name = "rounds with a savepoint per event"

    async def apply(self, session: AsyncSession, step: Step) -> str:
        try:
            async with session.begin_nested():
                done = await step()
                await write_deferred(session)  # inside its savepoint: an event's rows go, or fail, with it
                return done
        except BaseException:
            forget(session)  # what the transaction kept may have moved in the savepoint rolled back
            raise

    async def finish(self, session: AsyncSession) -> None:
        await session.flush()  # each savepoint wrote its event's rows as it was released


WITHOUT_SAVEPOINTS: RoundMode = WithoutSavepoints()
WITH_SAVEPOINTS: RoundMode = WithSavepoints()

"""Named locks held until the transaction ends, so writers of one aggregate take turns: PostgreSQL advisory locks;
SQLite writers are serialized already (BEGIN IMMEDIATE, see `engine`)."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


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

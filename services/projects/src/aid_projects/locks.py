"""The ledger lock. Allocations read gaps and pool balances and write them back, so two writers at once (two
consumer replicas, an API call changing a project) take turns instead of spending the same gap or pool twice.
Whoever changes a project's requirements or status takes it before reading the project."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import lock_for_transaction


async def lock_ledger(session: AsyncSession) -> None:
    await lock_for_transaction(session, "aid-projects-ledger")

"""The idempotent-consumer inbox: a handler's effects and its inbox row commit together, so an event
delivered twice takes effect once."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import upsert_insert
from aid_common.tables import InboxMessage


async def claim(session: AsyncSession, *, consumer: str, event_id: str, event_type: str) -> bool:
    """Record that `consumer` handles `event_id` in this transaction. False if it already has."""
    stmt = (
        upsert_insert(session)(InboxMessage)
        .values(consumer=consumer, event_id=event_id, event_type=event_type)
        .on_conflict_do_nothing(index_elements=["consumer", "event_id"])
        .returning(InboxMessage.event_id)
    )
    return (await session.execute(stmt)).first() is not None

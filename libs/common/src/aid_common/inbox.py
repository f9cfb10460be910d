"""The idempotent-consumer inbox: a handler's effects and its inbox row commit together, so an event
delivered twice takes effect once."""

from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import insert_or_skip, utcnow
from aid_common.tables import InboxMessage

_CONFLICT = ("consumer", "event_id")


async def claim(session: AsyncSession, *, consumer: str, event_id: str, event_type: str) -> bool:
    """Record that `consumer` handles `event_id` in this transaction. False if it already has."""
    stmt = (
        insert_or_skip(InboxMessage, conflict=_CONFLICT, on=session)
        .values(consumer=consumer, event_id=event_id, event_type=event_type)
        .returning(InboxMessage.event_id)
    )
    return (await session.execute(stmt)).first() is not None


async def claim_many(session: AsyncSession, *, consumer: str, events: dict[str, str]) -> set[str]:
    """Claim a batch's events (id → type) in one statement; returns the ids this transaction claimed. Whoever
    claims in bulk releases (`release`) every claimed event it then does not handle in this transaction."""
    if not events:
        return set()
    now = utcnow()
    rows = [{"consumer": consumer, "event_id": i, "event_type": t, "handled_at": now} for i, t in events.items()]
    stmt = insert_or_skip(InboxMessage, conflict=_CONFLICT, on=session).values(rows).returning(InboxMessage.event_id)
    return {row[0] for row in (await session.execute(stmt)).all()}


async def release(session: AsyncSession, *, consumer: str, event_ids: set[str]) -> None:
    """Give back claims of events not handled after all (they fail, or wait behind one that did)."""
    if event_ids:
        await session.execute(
            delete(InboxMessage).where(InboxMessage.consumer == consumer, InboxMessage.event_id.in_(event_ids))
        )

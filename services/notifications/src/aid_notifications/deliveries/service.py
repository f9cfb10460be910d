"""Deliveries: created when an event matches a subscription, listed and retried through the API, replayed."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.auth import Caller
from aid_common.db import upsert_insert, utcnow
from aid_common.errors import Conflict, NotFound
from aid_common.events import CloudEvent
from aid_common.pagination import keyset, page
from aid_contracts.notifications import AlertCreated
from aid_notifications.deliveries.models import Delivery, DeliveryAttempt, DeliveryStatus, SeenEvent
from aid_notifications.partners.service import visible_partner
from aid_notifications.subscriptions.matching import dimensions, filter_matches, type_matches
from aid_notifications.subscriptions.models import Subscription, SubscriptionStatus


def matches(subscription: Subscription, event_type: str, data: dict) -> bool:
    return type_matches(subscription.event_types, event_type) and filter_matches(
        countries=subscription.countries, sectors=subscription.sectors, appeals=subscription.appeals, data=data
    )


async def fan_out(session: AsyncSession, *, event: CloudEvent) -> int:
    """Keep the event for replays and create one delivery per matching active subscription, in the caller's
    transaction (with the consumer's inbox row: an event is matched exactly once)."""
    data = event.data if isinstance(event.data, dict) else {}
    await session.execute(
        upsert_insert(session)(SeenEvent)
        .values(
            event_id=event.id, type=event.type, body=event.to_json(), dimensions=dimensions(data), received_at=utcnow()
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
    )
    active = (
        await session.execute(select(Subscription).where(Subscription.status == SubscriptionStatus.ACTIVE.value))
    ).scalars()
    created = 0
    for subscription in active:
        if matches(subscription, event.type, data):
            await _queue(session, subscription=subscription, event_id=event.id, event_type=event.type, event=event)
            created += 1
    return created


async def _queue(
    session: AsyncSession, *, subscription: Subscription, event_id: str, event_type: str, event: CloudEvent | None
) -> Delivery:
    """A pending delivery of this event to this subscription; a replay re-queues the existing one (same id)."""
    now = utcnow()
    existing = (
        await session.execute(
            select(Delivery).where(Delivery.subscription_id == subscription.id, Delivery.event_id == event_id)
        )
    ).scalar_one_or_none()
    if existing is not None:
        existing.status, existing.attempts, existing.next_attempt_at = DeliveryStatus.PENDING.value, 0, now
        return existing
    delivery = Delivery(
        id=uuid.uuid4(),
        subscription_id=subscription.id,
        partner_id=subscription.partner_id,
        event_id=event_id,
        event_type=event_type,
        status=DeliveryStatus.PENDING.value,
        attempts=0,
        next_attempt_at=now,
        created_at=now,
    )
    session.add(delivery)
    await session.flush()
    if event is not None:
        outbox.add(
            session,
            AlertCreated(
                delivery_id=delivery.id,
                partner_id=subscription.partner_id,
                subscription_id=subscription.id,
                event_id=event_id,
                event_type=event_type,
                created_at=now,
                event=event.model_dump(mode="json"),
            ),
        )
    return delivery


async def replay(*, session: AsyncSession, subscription: Subscription, since: dt.datetime) -> int:
    """Queue again every kept event since `since` that the subscription matches (its current filter)."""
    seen = (
        await session.execute(
            select(SeenEvent).where(SeenEvent.received_at >= since).order_by(SeenEvent.received_at, SeenEvent.event_id)
        )
    ).scalars()
    count = 0
    for event in seen:
        data = CloudEvent.from_json(event.body).data
        if matches(subscription, event.type, data if isinstance(data, dict) else {}):
            await _queue(session, subscription=subscription, event_id=event.event_id, event_type=event.type, event=None)
            count += 1
    return count


async def get_visible(*, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID) -> Delivery:
    delivery = await session.get(Delivery, delivery_id)
    only = visible_partner(caller)
    if delivery is None or (only is not None and delivery.partner_id != only):
        raise NotFound(f"no delivery with id {delivery_id}")
    return delivery


async def history(*, session: AsyncSession, delivery_id: uuid.UUID) -> list[DeliveryAttempt]:
    rows = await session.execute(
        select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id).order_by(DeliveryAttempt.number)
    )
    return list(rows.scalars())


async def attempts_made(*, session: AsyncSession, delivery_id: uuid.UUID) -> int:
    """Every attempt ever made (the delivery's own counter restarts when it is retried or replayed)."""
    return int(await session.scalar(select(func.count()).where(DeliveryAttempt.delivery_id == delivery_id)) or 0)


async def retry(*, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID) -> Delivery:
    delivery = await get_visible(session=session, caller=caller, delivery_id=delivery_id)
    subscription = await session.get(Subscription, delivery.subscription_id)
    if subscription is None or subscription.status != SubscriptionStatus.ACTIVE.value:
        raise Conflict(f"the subscription of delivery {delivery_id} is disabled; enable it first, then retry")
    delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.PENDING.value, 0, utcnow()
    await session.flush()
    return delivery


async def list_(
    *,
    session: AsyncSession,
    caller: Caller,
    subscription_id: uuid.UUID | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Delivery], str | None]:
    stmt = select(Delivery)
    only = visible_partner(caller)
    if only is not None:
        stmt = stmt.where(Delivery.partner_id == only)
    if subscription_id:
        stmt = stmt.where(Delivery.subscription_id == subscription_id)
    if status:
        stmt = stmt.where(Delivery.status == status)
    rows = (await session.execute(keyset(stmt, Delivery, cursor=cursor, limit=limit))).scalars().all()
    return page(rows, limit=limit)


async def queue_figures(session: AsyncSession) -> tuple[int, float]:
    """How many deliveries wait (pending or failed), and the age in seconds of the oldest."""
    waiting = (DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)
    count, oldest = (
        await session.execute(select(func.count(), func.min(Delivery.created_at)).where(Delivery.status.in_(waiting)))
    ).one()
    return int(count), (utcnow() - oldest).total_seconds() if oldest else 0.0

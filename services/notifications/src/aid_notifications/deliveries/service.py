"""Deliveries, and every change of their state: queued when an event matches a subscription (or replayed),
retried or recovered by hand, forgotten after retention. A worker's turn — claiming due deliveries (a lease) and
recording what each attempt got by the retry policy — is `attempts.py`; `worker.py` is only the loop."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import commit_signals, outbox, visibility
from aid_common.auth import Caller
from aid_common.db import defer_rows, kept, utcnow
from aid_common.errors import Conflict, NotFound
from aid_common.events import CloudEvent
from aid_common.pagination import keyset, page
from aid_contracts.notifications import AlertCreated
from aid_notifications.deliveries import digests, direct
from aid_notifications.deliveries.models import (
    WAITING,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    DigestItem,
    SeenEvent,
)
from aid_notifications.partners.service import visible_partner
from aid_notifications.subscriptions import service as subscriptions
from aid_notifications.subscriptions.matching import dimensions, filter_matches, type_matches
from aid_notifications.subscriptions.models import Subscription, SubscriptionLike, SubscriptionStatus

# A delivery worker in this process claims the moment deliveries due now are committed, not at its next poll.
DELIVERIES_SIGNAL = "deliveries"


def matches(subscription: SubscriptionLike, event_type: str, data: dict) -> bool:
    """Its types and filter match, and it may carry this event at all (checked again at every event, whatever
    its types say: aid_common.visibility)."""
    return (
        visibility.may_receive(subscription.entitled, event_type)
        and type_matches(subscription.event_types, event_type)
        and filter_matches(
            countries=subscription.countries, sectors=subscription.sectors, appeals=subscription.appeals, data=data
        )
    )


async def fan_out(*, session: AsyncSession, event: CloudEvent) -> int:
    """Keep the event for replays and create one delivery per matching active subscription, in the caller's
    transaction (with the consumer's inbox row: an event is matched exactly once), each with its
    aid.alert.created. Subscriptions are read as plain rows and the rows deferred (`defer_rows`): a consumer
    round's events, and one event's tens of thousands of deliveries, go in a statement per table (no ORM objects:
    for each they would cost more than the matching). What this process's
    delivery worker has room for is handed to it leased (`direct`); the rest is due now, for any worker's claim."""
    data = event.data if isinstance(event.data, dict) else {}
    body = event.to_json()
    now = utcnow()
    seen = {"event_id": event.id, "type": event.type, "body": body, "dimensions": dimensions(data), "received_at": now}
    defer_rows(session, SeenEvent.__table__, [seen], conflict=("event_id",))
    queued: list[tuple[dict[str, Any], Any]] = []
    for subscription in await _active(session):
        if not matches(subscription, event.type, data):
            continue
        way = await digests.route(session=session, subscription=subscription, event=event, data=data)
        if way is digests.Route.NOW:
            queued.append((pending(subscription, event_id=event.id, event_type=event.type, now=now), subscription))
        elif way is not digests.Route.SKIP:
            digests.hold(
                session=session, subscription=subscription, event_id=event.id, overflow=way is digests.Route.OVERFLOW
            )
    if not queued:
        return 0
    handed = await direct.hand_over(session=session, queued=queued, body=body)
    deliveries = [row for row, _ in queued]
    defer_rows(session, Delivery.__table__, deliveries)
    _alerts(session, deliveries, event=event, now=now)
    if handed < len(deliveries):
        commit_signals.signal(session, DELIVERIES_SIGNAL)
    return len(deliveries)


async def _active(session: AsyncSession) -> list[Any]:
    """The active subscriptions, read once per transaction: a consumer round's events are matched against the
    same set (one taken out meanwhile is refused by the delivery worker; one added meanwhile matches from the next
    round on, as it would had the round come a moment earlier)."""
    active = kept(session, "notifications.active_subscriptions")
    if "rows" not in active:
        rows = await session.execute(
            select(*Subscription.__table__.c).where(Subscription.status == SubscriptionStatus.ACTIVE.value)
        )
        active["rows"] = rows.all()
    return active["rows"]


def pending(subscription: SubscriptionLike, *, event_id: str, event_type: str, now: dt.datetime) -> dict[str, Any]:
    """A new delivery, due now: the one shape every delivery is created in (a fan-out's multi-row INSERT, a
    replay's or a digest's ORM row)."""
    return {
        "id": uuid.uuid4(),
        "subscription_id": subscription.id,
        "partner_id": subscription.partner_id,
        "event_id": event_id,
        "event_type": event_type,
        "status": DeliveryStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _alerts(session: AsyncSession, deliveries: list[dict[str, Any]], *, event: CloudEvent, now: dt.datetime) -> None:
    """One aid.alert.created per delivery, alike but for the delivery, partner and subscription ids: the
    envelope is serialized once (a fan-out can make 10 000)."""
    first = deliveries[0]
    template = AlertCreated(
        delivery_id=first["id"],
        partner_id=first["partner_id"],
        subscription_id=first["subscription_id"],
        event_id=event.id,
        event_type=event.type,
        created_at=now,
        event=event.model_dump(mode="json"),
    )
    differing = [
        {
            "delivery_id": str(d["id"]),
            "partner_id": str(d["partner_id"]),
            "subscription_id": str(d["subscription_id"]),
        }
        for d in deliveries
    ]
    outbox.add_alike(session, template, differing)


async def queue(*, session: AsyncSession, subscription: Subscription, event_id: str, event_type: str) -> Delivery:
    """A pending delivery of this event to this subscription; a replay re-queues the existing one (same id).
    No aid.alert.created: that announces an event's first match, made once by `fan_out`."""
    now = utcnow()
    existing = (
        await session.execute(
            select(Delivery).where(Delivery.subscription_id == subscription.id, Delivery.event_id == event_id)
        )
    ).scalar_one_or_none()
    commit_signals.signal(session, DELIVERIES_SIGNAL)
    if existing is not None:
        _requeue(existing, now)
        return existing
    delivery = Delivery(**pending(subscription, event_id=event_id, event_type=event_type, now=now))
    session.add(delivery)
    await session.flush()
    return delivery


def _requeue(delivery: Delivery, now: dt.datetime) -> None:
    """Due again now, with a fresh schedule (replay, recover, retry by hand); its id, so its webhook-id, stays."""
    delivery.status, delivery.attempts, delivery.next_attempt_at = DeliveryStatus.PENDING.value, 0, now


async def send_digests(*, session: AsyncSession, now: dt.datetime | None = None) -> list[Delivery]:
    """Queue every digest whose period has ended (see digests.service)."""
    due = await digests.collect_due(session=session, now=now)
    return [
        await queue(session=session, subscription=subscription, event_id=event_id, event_type=digests.DIGEST_TYPE)
        for subscription, event_id in due
    ]


async def replay(
    *, session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, since: dt.datetime
) -> tuple[int, dt.datetime]:
    """Queue again every kept event since `since` that the subscription matches (its current filter) — never one
    from before the subscription existed. Returns the count and the moment actually replayed from."""
    subscription = await subscriptions.get_visible(session=session, caller=caller, subscription_id=subscription_id)
    subscriptions.check_active(subscription)
    since = max(since, subscription.created_at)
    seen = (
        await session.execute(
            select(SeenEvent).where(SeenEvent.received_at >= since).order_by(SeenEvent.received_at, SeenEvent.event_id)
        )
    ).scalars()
    count = 0
    for event in seen:
        data = CloudEvent.from_json(event.body).data
        if matches(subscription, event.type, data if isinstance(data, dict) else {}):
            await queue(session=session, subscription=subscription, event_id=event.event_id, event_type=event.type)
            count += 1
    return count, since


async def recover(
    *, session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, since: dt.datetime
) -> tuple[int, dt.datetime]:
    """Re-queue every failed or dead delivery of the subscription created since `since` (like Svix's recover),
    each with a fresh schedule and its webhook-id. Returns the count and the moment actually recovered from."""
    subscription = await subscriptions.get_visible(session=session, caller=caller, subscription_id=subscription_id)
    subscriptions.check_active(subscription)
    since = max(since, subscription.created_at)
    rows = await session.execute(
        select(Delivery).where(
            Delivery.subscription_id == subscription.id,
            Delivery.status.in_((DeliveryStatus.FAILED.value, DeliveryStatus.DEAD.value)),
            Delivery.created_at >= since,
        )
    )
    count = 0
    now = utcnow()
    for delivery in rows.scalars():
        _requeue(delivery, now)
        count += 1
    commit_signals.signal(session, DELIVERIES_SIGNAL)
    return count, since


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


async def retry(*, session: AsyncSession, caller: Caller, delivery_id: uuid.UUID) -> Delivery:
    delivery = await get_visible(session=session, caller=caller, delivery_id=delivery_id)
    subscription = await session.get(Subscription, delivery.subscription_id)
    if subscription is None or subscription.status != SubscriptionStatus.ACTIVE.value:
        raise Conflict(f"the subscription of delivery {delivery_id} is disabled; enable it first, then retry")
    _requeue(delivery, utcnow())
    commit_signals.signal(session, DELIVERIES_SIGNAL)
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


async def queue_figures(*, session: AsyncSession) -> tuple[int, float]:
    """How many deliveries wait (pending or failed), and the age in seconds of the oldest."""
    count, oldest = (
        await session.execute(select(func.count(), func.min(Delivery.created_at)).where(Delivery.status.in_(WAITING)))
    ).one()
    return int(count), (utcnow() - oldest).total_seconds() if oldest else 0.0


async def forget_old_events(*, session: AsyncSession, retention: dt.timedelta) -> None:
    """Events past retention go, with their finished deliveries; anything still waiting stays."""
    cutoff = utcnow() - retention
    old = select(SeenEvent.event_id).where(SeenEvent.received_at < cutoff)
    waiting = (
        select(Delivery.event_id)
        .where(Delivery.status.in_(WAITING))
        .union(
            select(DigestItem.event_id).where(DigestItem.digest_event_id.is_(None))  # still to go in a digest
        )
    )
    await session.execute(
        delete(DigestItem).where(DigestItem.event_id.in_(old), DigestItem.digest_event_id.is_not(None))
    )
    old_deliveries = select(Delivery.id).where(Delivery.event_id.in_(old), Delivery.status.not_in(WAITING))
    await session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(old_deliveries)))
    await session.execute(delete(Delivery).where(Delivery.event_id.in_(old), Delivery.status.not_in(WAITING)))
    await session.execute(delete(SeenEvent).where(SeenEvent.received_at < cutoff, SeenEvent.event_id.not_in(waiting)))

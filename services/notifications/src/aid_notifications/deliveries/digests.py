"""Alerts without noise: which events a subscription hears at once, which wait for its digest, which it does not
hear at all — and the digests themselves, one signed `aid.digest` webhook per period with something in it.

- thresholds: an `aid.project.funding_updated` goes out only when the project's coverage crosses one of the
  subscription's levels, up or down (the event carries the new figures and the change, so no state is kept);
- `delivery: digest`: every event waits for the period's digest (`1h`, or `1d` at a given hour, in the
  subscription's time zone);
- `max_per_day`: past that many immediate webhooks since the day began (in the subscription's time zone), events
  wait for the next digest instead of being dropped; the digest says how many came that way.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import defer_rows, deferred_rows, utcnow
from aid_common.events import CloudEvent
from aid_notifications.deliveries.models import Delivery, DigestItem, SeenEvent
from aid_notifications.subscriptions.models import Subscription, SubscriptionLike, SubscriptionStatus

DIGEST_TYPE = "aid.digest"
FUNDING_UPDATED = "aid.project.funding_updated"


class Route(StrEnum):
    NOW = "now"
    DIGEST = "digest"
    OVERFLOW = "overflow"  # past the daily cap: into the next digest
    SKIP = "skip"  # crossed none of the thresholds


def crosses(thresholds: list[str], data: dict) -> bool:
    """Whether coverage moved across one of `thresholds` (either way) with this funding update."""
    try:
        requirements = Decimal(str(data["requirements_usd"]))
        funded = Decimal(str(data["funded_usd"]))
        before = funded - Decimal(str(data["delta_usd"]))
    except (KeyError, InvalidOperation):
        return True  # not a funding figure we can read: let it through rather than lose it
    if requirements <= 0:
        return False
    old, new = before / requirements, funded / requirements
    low, high = min(old, new), max(old, new)
    return (
        any(low < Decimal(t) <= high for t in thresholds)
        if old < new
        else any(low <= Decimal(t) < high for t in thresholds)
    )


def _zone(subscription: SubscriptionLike) -> ZoneInfo:
    return ZoneInfo(subscription.digest_timezone or "UTC")


async def route(*, session: AsyncSession, subscription: SubscriptionLike, event: CloudEvent, data: dict) -> Route:
    if subscription.thresholds and event.type == FUNDING_UPDATED and not crosses(subscription.thresholds, data):
        return Route.SKIP
    if subscription.delivery == "digest":
        return Route.DIGEST
    if subscription.max_per_day:
        local_midnight = dt.datetime.now(_zone(subscription)).replace(hour=0, minute=0, second=0, microsecond=0)
        today = await session.scalar(
            select(func.count()).where(
                Delivery.subscription_id == subscription.id, Delivery.created_at >= local_midnight.astimezone(dt.UTC)
            )
        )
        # and those this transaction queued and has not written yet (earlier events of the same consumer round)
        queued = sum(1 for d in deferred_rows(session, Delivery.__table__) if d["subscription_id"] == subscription.id)
        if (today or 0) + queued >= subscription.max_per_day:
            return Route.OVERFLOW
    return Route.NOW


def hold(*, session: AsyncSession, subscription: SubscriptionLike, event_id: str, overflow: bool) -> None:
    """Kept for the subscription's next digest; written with the event it refers to (both deferred, in order)."""
    item = {
        "id": uuid.uuid4(),
        "subscription_id": subscription.id,
        "event_id": event_id,
        "overflow": overflow,
        "created_at": utcnow(),
        "digest_event_id": None,
    }
    defer_rows(session, DigestItem.__table__, [item])


def period(subscription: Subscription, moment: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The digest period (start, end, in UTC) that `moment` falls in, by the subscription's own clock."""
    local = moment.astimezone(_zone(subscription))
    if (subscription.digest_every or "1d") == "1h":
        start = local.replace(minute=0, second=0, microsecond=0)
        return start.astimezone(dt.UTC), (start + dt.timedelta(hours=1)).astimezone(dt.UTC)
    hour, minute = (int(x) for x in (subscription.digest_at or "00:00").split(":"))
    start = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if start > local:
        start -= dt.timedelta(days=1)
    return start.astimezone(dt.UTC), (start + dt.timedelta(days=1)).astimezone(dt.UTC)


async def collect_due(*, session: AsyncSession, now: dt.datetime | None = None) -> list[tuple[Subscription, str]]:
    """For every subscription whose oldest waiting event's period has ended: one digest event (kept like any
    event, so it is signed, retried and replayable) with everything that waited until then. Returns each
    subscription with its digest's event id, for the delivery queue."""
    now = now or utcnow()
    oldest = await session.execute(
        select(DigestItem.subscription_id, func.min(DigestItem.created_at))
        .where(DigestItem.digest_event_id.is_(None))
        .group_by(DigestItem.subscription_id)
    )
    queued = []
    for subscription_id, first in oldest.all():
        subscription = await session.get(Subscription, subscription_id)
        if subscription is None or subscription.status != SubscriptionStatus.ACTIVE.value:
            continue
        start, end = period(subscription, first)
        if now < end:
            continue
        items = list(
            (
                await session.execute(
                    select(DigestItem)
                    .where(
                        DigestItem.subscription_id == subscription.id,
                        DigestItem.digest_event_id.is_(None),
                        DigestItem.created_at < end,
                    )
                    .order_by(DigestItem.created_at)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
        )
        if not items:
            continue
        digest = await _digest(session, subscription=subscription, items=items, start=start, end=end)
        session.add(
            SeenEvent(event_id=digest.id, type=DIGEST_TYPE, body=digest.to_json(), dimensions={}, received_at=now)
        )
        await session.flush()
        for item in items:
            item.digest_event_id = digest.id
        queued.append((subscription, digest.id))
    return queued


async def _digest(
    session: AsyncSession, *, subscription: Subscription, items: list[DigestItem], start: dt.datetime, end: dt.datetime
) -> CloudEvent:
    bodies = {
        e.event_id: CloudEvent.from_json(e.body)
        for e in (
            await session.execute(select(SeenEvent).where(SeenEvent.event_id.in_([i.event_id for i in items])))
        ).scalars()
    }
    events = [bodies[i.event_id] for i in items if i.event_id in bodies]
    projects: dict[str, dict] = {}
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for e in events:
        pid = e.data.get("project_id")
        if pid is None:
            continue
        row = projects.setdefault(pid, {"project_id": pid, "code": e.data.get("code"), "events": 0})
        row["events"] += 1
        if e.type == FUNDING_UPDATED:
            totals[pid] += Decimal(str(e.data.get("delta_usd", "0")))
            row["funded_usd"], row["coverage"] = e.data.get("funded_usd"), e.data.get("coverage")
    for pid, total in totals.items():
        projects[pid]["delta_usd"] = format(total.quantize(Decimal("0.01")), "f")
    return CloudEvent(
        id=str(uuid.uuid4()),
        source="/notifications",
        type=DIGEST_TYPE,
        subject=str(subscription.id),
        time=utcnow(),
        data={
            "subscription_id": str(subscription.id),
            "partner_id": str(subscription.partner_id),
            "period": {"start": start.isoformat(), "end": end.isoformat(), "every": subscription.digest_every or "1d"},
            "count": len(events),
            "over_daily_cap": sum(1 for i in items if i.overflow),
            "projects": sorted(projects.values(), key=lambda p: p.get("code") or ""),
            "events": [e.model_dump(mode="json", exclude_none=True) for e in events],
        },
    )

"""A delivery worker's turn: lease due deliveries fairly across partners and subscriptions, then record what each
attempt got, moving the delivery on by the retry policy. State rules only; the loop is `worker.py`."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import utcnow
from aid_notifications.deliveries.models import WAITING, Delivery, DeliveryAttempt, DeliveryStatus, SeenEvent
from aid_notifications.deliveries.policy import RetryPolicy, Verdict
from aid_notifications.deliveries.sender import Outcome
from aid_notifications.subscriptions import service as subscriptions
from aid_notifications.subscriptions.models import Subscription, SubscriptionStatus
from aid_notifications.subscriptions.secrets import SecretBox, UnreadableSecret


@dataclass(frozen=True)
class Claimed:
    """What a worker needs to make one attempt, read inside the claim so the request runs outside any
    transaction."""

    delivery_id: uuid.UUID
    webhook_id: str
    subscription_id: uuid.UUID
    partner_id: uuid.UUID
    url: str
    body: str
    secrets: list[str]
    leased_until: dt.datetime | None = None  # a replay or retry meanwhile moves it: the attempt is then history only


async def claim(
    session: AsyncSession,
    *,
    limit: int,
    in_flight: Counter[uuid.UUID],
    per_subscription: int,
    per_partner: int,
    lease: dt.timedelta,
    box: SecretBox,
    slots: int | None = None,
) -> list[Claimed]:
    """Lease up to `limit` due deliveries (FOR UPDATE SKIP LOCKED: workers share the queue). A claimed row's
    next attempt moves forward by `lease`, so a worker that dies mid-request leaves it to be claimed again —
    at least once, with the same webhook-id. No subscription gets more than `per_subscription` requests in
    flight, nor any partner more than `per_partner` (counting `in_flight`, this worker's open requests by
    subscription and by partner id), so one slow partner cannot take every slot. When more partners wait than
    the worker has `slots`, each gets its fair share of them (at least one): a partner whose endpoint hangs then
    holds one slot, not `per_partner`, while the others go on."""
    now = utcnow()
    out: list[Claimed] = []
    due = (Delivery.status.in_(WAITING), Delivery.next_attempt_at <= now)
    if slots is not None:
        waiting = await session.scalar(select(func.count(func.distinct(Delivery.partner_id))).where(*due))
        per_partner = min(per_partner, -(-slots // max(waiting or 1, 1)))  # ceil: shares add up to every slot
    rows = (
        await session.execute(
            select(Delivery)
            .where(*due)
            # Ties (a fan-out queues thousands at one moment) broken by the random id: every partner is in reach.
            .order_by(Delivery.next_attempt_at, Delivery.id)
            .limit(limit * 16)
            .with_for_update(skip_locked=True)
        )
    ).scalars()
    taken: Counter[uuid.UUID] = Counter()
    targets: dict[uuid.UUID, tuple[Subscription | None, list[str], str]] = {}  # once per subscription and batch
    for d in rows:
        if len(out) >= limit:
            break
        if in_flight[d.subscription_id] + taken[d.subscription_id] >= per_subscription:
            continue  # this subscription has enough requests open; others go first
        if in_flight[d.partner_id] + taken[d.partner_id] >= per_partner:
            continue  # so has this partner, over all its subscriptions
        if d.subscription_id not in targets:
            targets[d.subscription_id] = await _target(session, d.subscription_id, box)
        subscription, secrets, why_not = targets[d.subscription_id]
        seen = await session.get(SeenEvent, d.event_id)
        if subscription is None or seen is None:
            # This delivery cannot be prepared: it fails alone, saying why; every other one goes on.
            d.status, d.next_attempt_at = DeliveryStatus.DEAD.value, None
            d.last_error = why_not or "the event is no longer kept (past retention)"
            continue
        d.next_attempt_at = now + lease
        taken[d.subscription_id] += 1
        taken[d.partner_id] += 1
        out.append(
            Claimed(
                d.id,
                d.webhook_id,
                d.subscription_id,
                d.partner_id,
                subscription.url,
                seen.body,
                secrets,
                d.next_attempt_at,
            )
        )
    return out


async def _target(
    session: AsyncSession, subscription_id: uuid.UUID, box: SecretBox
) -> tuple[Subscription | None, list[str], str]:
    """The subscription and its signing secrets, or None and why nothing can be sent to it."""
    subscription = await session.get(Subscription, subscription_id)
    if subscription is None or subscription.status != SubscriptionStatus.ACTIVE.value:
        return None, [], "the subscription is disabled"
    try:
        return (
            subscription,
            await subscriptions.signing_secrets(session=session, subscription_id=subscription_id, box=box),
            "",
        )
    except UnreadableSecret as exc:
        reason = f"its signing secret cannot be read: {exc}; restore the key, or rotate the secret, then re-enable"
        await subscriptions.flag_unusable(session=session, subscription=subscription, reason=reason)
        return None, [], f"not sent: the subscription's signing secret cannot be read ({exc})"


async def record_outcomes(
    session: AsyncSession, *, outcomes: list[tuple[Claimed, Outcome]], policy: RetryPolicy
) -> list[Verdict | None]:
    """Write each attempt and move each delivery on as the retry policy says (None: it was no longer waiting).
    The deliveries are locked in one query and their earlier attempts counted in another."""
    ids = [claimed.delivery_id for claimed, _ in outcomes]
    locked = await session.execute(select(Delivery).where(Delivery.id.in_(ids)).order_by(Delivery.id).with_for_update())
    deliveries = {d.id: d for d in locked.scalars()}
    counted = select(DeliveryAttempt.delivery_id, func.count()).where(DeliveryAttempt.delivery_id.in_(ids))
    made: dict[uuid.UUID, int] = dict((await session.execute(counted.group_by(DeliveryAttempt.delivery_id))).all())
    verdicts: list[Verdict | None] = []
    for claimed, outcome in outcomes:
        d = deliveries.get(claimed.delivery_id)
        if d is None or d.status not in WAITING:
            verdicts.append(None)
            continue
        made[d.id] = made.get(d.id, 0) + 1
        if claimed.leased_until is not None and d.next_attempt_at != claimed.leased_until:
            # Queued again (replay, retry) while this attempt was out: keep it as history, leave the new turn be.
            _attempt(session, d, outcome, number=made[d.id])
            verdicts.append(None)
            continue
        verdicts.append(await _record(session, d, outcome, policy, number=made[d.id]))
    return verdicts


def _attempt(session: AsyncSession, d: Delivery, outcome: Outcome, *, number: int) -> dt.datetime:
    now = utcnow()
    session.add(
        DeliveryAttempt(
            id=uuid.uuid4(),
            delivery_id=d.id,
            number=number,
            status_code=outcome.status_code,
            error=outcome.error,
            duration_ms=outcome.duration_ms,
            created_at=now,
        )
    )
    d.last_attempt_at, d.last_status_code, d.last_error = now, outcome.status_code, outcome.error
    d.last_duration_ms = outcome.duration_ms
    return now


async def _record(session: AsyncSession, d: Delivery, outcome: Outcome, policy: RetryPolicy, *, number: int) -> Verdict:
    now = _attempt(session, d, outcome, number=number)
    d.attempts += 1
    verdict, delay = policy.verdict(
        attempts=d.attempts, status_code=outcome.status_code, retry_after_seconds=outcome.retry_after_seconds
    )
    if verdict is Verdict.DELIVERED:
        d.status, d.delivered_at, d.next_attempt_at = DeliveryStatus.DELIVERED.value, now, None
    elif verdict is Verdict.FAILED:
        d.status, d.next_attempt_at = DeliveryStatus.FAILED.value, now + dt.timedelta(seconds=delay or 0)
    else:
        d.status, d.next_attempt_at = DeliveryStatus.DEAD.value, None
        if verdict is Verdict.GONE:
            await subscriptions.disable(
                session=session, subscription_id=d.subscription_id, reason="the receiver answered 410 Gone"
            )
    return verdict

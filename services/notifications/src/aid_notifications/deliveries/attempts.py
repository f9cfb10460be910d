"""A delivery worker's turn: lease due deliveries fairly across partners and subscriptions, then record what each
attempt got, moving the delivery on by the retry policy. State rules only; the loop is `worker.py`."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import AnyRow, defer_rows, utcnow
from aid_notifications.deliveries.models import (
    WAITING,
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    SeenEvent,
    webhook_id_of,
)
from aid_notifications.deliveries.policy import RetryPolicy, Verdict
from aid_notifications.deliveries.sender import Outcome
from aid_notifications.subscriptions import service as subscriptions
from aid_notifications.subscriptions.models import Subscription, SubscriptionStatus
from aid_notifications.subscriptions.secrets import SecretBox, UnreadableSecret

Candidate = TypeVar("Candidate")


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
    *,
    session: AsyncSession,
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
    at least once, with the same webhook-id. Which candidates are taken is `Caps.choose`; one that cannot be
    prepared (its secret unreadable, its event past retention) is marked dead, saying why, and the others go on.

    A fixed number of statements however many deliveries, subscriptions and events a claim takes: candidates
    with their subscription's address and state, then the signing secrets and the event bodies of those taken,
    then one lease UPDATE and one UPDATE per reason a delivery died."""
    now = utcnow()
    due = (Delivery.status.in_(WAITING), Delivery.next_attempt_at <= now)
    if slots is not None:
        waiting = await session.scalar(select(func.count(func.distinct(Delivery.partner_id))).where(*due))
        per_partner = fair_share(per_partner, slots=slots, waiting_partners=waiting or 1)
    candidates = await session.execute(
        select(
            Delivery.id,
            Delivery.subscription_id,
            Delivery.partner_id,
            Delivery.event_id,
            Subscription.url,
            Subscription.status,
            Subscription.max_in_flight,
        )
        .outerjoin(Subscription, Subscription.id == Delivery.subscription_id)
        .where(*due)
        # Ties (a fan-out queues thousands at one moment) broken by the random id: every partner is in reach.
        .order_by(Delivery.next_attempt_at, Delivery.id)
        .limit(limit * 16)
        .with_for_update(of=Delivery, skip_locked=True)
    )
    chosen = Caps(in_flight, per_subscription=per_subscription, per_partner=per_partner).choose(candidates.all(), limit)
    if not chosen:
        return []
    out, dead = await _prepare(session, chosen, box=box, leased_until=now + lease)
    await _lease(session, out, dead)
    return out


def fair_share(per_partner: int, *, slots: int, waiting_partners: int) -> int:
    """When more partners wait than a worker has `slots`, each gets its share of them (at least one), so a
    partner whose endpoint hangs holds one slot, not `per_partner`, while the others go on."""
    return min(per_partner, -(-slots // max(waiting_partners, 1)))  # ceil: shares add up to every slot


@dataclass
class Caps:
    """No subscription gets more than its own `max_in_flight` (or, unset, `per_subscription`) requests in flight,
    nor any partner more than `per_partner`, counting `in_flight` (this worker's open requests, by subscription
    and by partner id): one slow partner cannot take every slot."""

    in_flight: Counter[uuid.UUID]
    per_subscription: int
    per_partner: int

    def choose(self, candidates: Iterable[Candidate], limit: int) -> list[Candidate]:
        """Candidates (due rows, or deliveries offered at a fan-out) with status, subscription_id, partner_id and
        max_in_flight, in order, up to `limit`."""
        taken: Counter[uuid.UUID] = Counter()
        chosen: list[Candidate] = []
        for candidate in candidates:
            if len(chosen) >= limit:
                break
            row: Any = candidate
            if row.status != SubscriptionStatus.ACTIVE.value:
                chosen.append(candidate)  # to be marked dead: no request, so it takes no share of the caps
            elif self._has_room(row, taken):
                taken[row.subscription_id] += 1
                taken[row.partner_id] += 1
                chosen.append(candidate)
        return chosen

    def _has_room(self, row: Any, taken: Counter[uuid.UUID]) -> bool:
        open_here = self.in_flight[row.subscription_id] + taken[row.subscription_id]
        open_for_partner = self.in_flight[row.partner_id] + taken[row.partner_id]
        return open_here < (row.max_in_flight or self.per_subscription) and open_for_partner < self.per_partner


async def _prepare(
    session: AsyncSession, chosen: list[AnyRow], *, box: SecretBox, leased_until: dt.datetime
) -> tuple[list[Claimed], dict[uuid.UUID, str]]:
    """What each chosen delivery's attempt needs (its signing secrets and event body), and why each one that
    cannot be prepared must die."""
    secrets, why_not = await _secrets(
        session, {r.subscription_id for r in chosen if r.status == SubscriptionStatus.ACTIVE.value}, box
    )
    bodies = dict(
        (
            await session.execute(
                select(SeenEvent.event_id, SeenEvent.body).where(SeenEvent.event_id.in_({r.event_id for r in chosen}))
            )
        ).all()
    )
    out: list[Claimed] = []
    dead: dict[uuid.UUID, str] = {}
    for r in chosen:
        if r.subscription_id in secrets and r.event_id in bodies:
            body, signing = bodies[r.event_id], secrets[r.subscription_id]
            out.append(
                Claimed(r.id, webhook_id_of(r.id), r.subscription_id, r.partner_id, r.url, body, signing, leased_until)
            )
        elif r.subscription_id not in secrets:
            dead[r.id] = why_not.get(r.subscription_id) or "the subscription is disabled"
        else:
            dead[r.id] = "the event is no longer kept (past retention)"
    return out, dead


async def _lease(session: AsyncSession, out: list[Claimed], dead: dict[uuid.UUID, str]) -> None:
    """Move the claimed deliveries' next attempt to the end of their lease; the dead ones die, saying why (one
    UPDATE per reason, not per delivery)."""
    if out:
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_([c.delivery_id for c in out]))
            .values(next_attempt_at=out[0].leased_until)
        )
    for reason in set(dead.values()):
        await session.execute(
            update(Delivery)
            .where(Delivery.id.in_([i for i, why in dead.items() if why == reason]))
            .values(status=DeliveryStatus.DEAD.value, next_attempt_at=None, last_error=reason)
        )


async def _secrets(
    session: AsyncSession, subscription_ids: set[uuid.UUID], box: SecretBox
) -> tuple[dict[uuid.UUID, list[str]], dict[uuid.UUID, str]]:
    """The signing secrets of these (active) subscriptions, and why nothing can be sent to those whose secret
    cannot be read (they are flagged: disabled, saying why)."""
    sealed = await subscriptions.signing_secrets_of(session=session, subscription_ids=subscription_ids)
    secrets: dict[uuid.UUID, list[str]] = {subscription_id: [] for subscription_id in subscription_ids}
    why_not: dict[uuid.UUID, str] = {}
    for subscription_id, rows in sealed.items():
        try:
            secrets[subscription_id] = [box.open(s) for s in rows]
        except UnreadableSecret as exc:
            reason = f"its signing secret cannot be read: {exc}; restore the key, or rotate the secret, then re-enable"
            subscription = await session.get(Subscription, subscription_id)
            if subscription is not None:
                await subscriptions.flag_unusable(session=session, subscription=subscription, reason=reason)
            del secrets[subscription_id]
            why_not[subscription_id] = f"not sent: the subscription's signing secret cannot be read ({exc})"
    return secrets, why_not


async def record_outcomes(
    *, session: AsyncSession, outcomes: list[tuple[Claimed, Outcome]], policy: RetryPolicy
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
    attempt = {
        "id": uuid.uuid4(),
        "delivery_id": d.id,
        "number": number,
        "status_code": outcome.status_code,
        "error": outcome.error,
        "duration_ms": outcome.duration_ms,
        "created_at": now,
    }
    defer_rows(session, DeliveryAttempt.__table__, [attempt])  # a batch's attempts: one statement at its end
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

"""Subscriptions: a partner's URL, the event types it wants and an optional filter; its signing secrets."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import structlog
from prometheus_client import Counter
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import visibility
from aid_common.auth import Caller
from aid_common.db import utcnow
from aid_common.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unprocessable
from aid_common.events import registry
from aid_common.pagination import keyset, page
from aid_notifications.partners import service as partners
from aid_notifications.partners.service import visible_partner
from aid_notifications.subscriptions.matching import type_matches
from aid_notifications.subscriptions.models import (
    DeliveryMode,
    NoiseControls,
    SigningSecret,
    Subscription,
    SubscriptionCreate,
    SubscriptionStatus,
    SubscriptionUpdate,
)
from aid_notifications.subscriptions.secrets import SecretBox, UnreadableSecret, new_secret
from aid_notifications.subscriptions.ssrf import BlockedDestination, Destinations, check_url

ROTATION_OVERLAP = dt.timedelta(hours=24)
SUBSCRIPTIONS_FLAGGED = Counter(
    "aid_webhook_subscriptions_flagged_total", "Subscriptions stopped because they cannot be served", ["reason"]
)
log = structlog.get_logger("aid.subscriptions")


def _entitled_types(caller: Caller, patterns: list[str]) -> list[str]:
    """The audiences the caller may receive, after refusing what it may not subscribe to: a type that is never a
    webhook (422), or donor events without `pledges:read` (403 naming them)."""
    internal = [p for p in patterns if not p.endswith("*") and visibility.audience(p) is visibility.Audience.INTERNAL]
    if internal:
        raise Unprocessable(
            f"{', '.join(internal)} is not delivered as a webhook (alerts are the webhooks themselves; read them on "
            "Kafka aid.alerts.v1)",
            errors=[{"location": "body.event_types", "message": f"{t} is never a webhook"} for t in internal],
        )
    granted = visibility.entitlement(caller)
    expanded = [et.type for et in registry.all() if type_matches(patterns, et.type)]
    refused = [
        t for t in visibility.refused(granted, expanded) if visibility.audience(t) is not visibility.Audience.INTERNAL
    ]
    if refused:
        raise Forbidden(
            f"this token may not receive {', '.join(refused)}: donor agreements and disbursements need the scope "
            "pledges:read; subscribe to aid.project.* (funding figures are public)"
        )
    return sorted(granted)


def _quieten(subscription: Subscription, data: NoiseControls) -> None:
    """Set how often the subscription speaks: digest or immediate, coverage thresholds, a daily cap."""
    given = data.model_fields_set
    if "delivery" in given and data.delivery is not None:
        subscription.delivery = data.delivery.value
    if "digest" in given:
        digest = data.digest
        subscription.digest_every = digest.every if digest else None
        subscription.digest_at = digest.at if digest else None
        subscription.digest_timezone = digest.timezone if digest else "UTC"
    if subscription.delivery == DeliveryMode.DIGEST.value and not subscription.digest_every:
        subscription.digest_every = "1d"  # a digest with no period given: once a day
    if "thresholds" in given:
        levels = sorted({format(t.normalize(), "f") for t in data.thresholds or []}, key=Decimal)
        if levels and not type_matches(subscription.event_types, "aid.project.funding_updated"):
            raise Unprocessable(
                "thresholds apply to aid.project.funding_updated, which this subscription's types do not include",
                errors=[{"location": "body.thresholds", "message": "no aid.project.funding_updated to apply to"}],
            )
        subscription.thresholds = levels
    if "max_per_day" in given:
        subscription.max_per_day = data.max_per_day
    if "max_in_flight" in given:
        subscription.max_in_flight = data.max_in_flight


def _check_url(url: str, allow: Destinations) -> None:
    try:
        check_url(url, allow)
    except BlockedDestination as exc:
        raise Unprocessable(str(exc), errors=[{"location": "body.url", "message": str(exc)}]) from exc


async def create(
    *,
    session: AsyncSession,
    caller: Caller,
    data: SubscriptionCreate,
    box: SecretBox,
    allow: Destinations,
    max_per_partner: int = 25,
) -> tuple[Subscription, str]:
    await partners.check_may_act_for(session=session, caller=caller, partner_id=data.partner_id)
    _check_url(str(data.url), allow)
    held = await session.scalar(
        select(func.count()).where(
            Subscription.partner_id == data.partner_id, Subscription.disabled_reason.is_distinct_from("deleted")
        )
    )
    if held is not None and held >= max_per_partner:
        raise TooManyRequests(
            f"partner {data.partner_id} has {held} subscriptions, the most allowed "
            f"(AID_MAX_SUBSCRIPTIONS_PER_PARTNER={max_per_partner}); delete one or widen an existing one's types",
            retry_after=3600,
        )
    subscription = Subscription(
        id=uuid.uuid4(),
        partner_id=data.partner_id,
        url=str(data.url),
        description=data.description,
        event_types=data.event_types,
        countries=data.filter.countries,
        sectors=[s.value for s in data.filter.sectors],
        appeals=data.filter.appeals,
        status=SubscriptionStatus.ACTIVE.value,
        entitled=_entitled_types(caller, data.event_types),
        delivery=DeliveryMode.IMMEDIATE.value,
        digest_timezone="UTC",
        thresholds=[],
    )
    _quieten(subscription, data)
    session.add(subscription)
    await session.flush()
    secret = new_secret()
    session.add(SigningSecret(id=uuid.uuid4(), subscription_id=subscription.id, sealed=box.seal(secret)))
    await session.flush()
    return subscription, secret


async def get_visible(*, session: AsyncSession, caller: Caller, subscription_id: uuid.UUID) -> Subscription:
    subscription = await session.get(Subscription, subscription_id)
    only = visible_partner(caller)
    if (
        subscription is None
        or subscription.disabled_reason == "deleted"
        or (only is not None and subscription.partner_id != only)
    ):
        raise NotFound(f"no subscription with id {subscription_id}")
    return subscription


def check_active(subscription: Subscription) -> None:
    """Nothing is sent to a disabled subscription: say so instead of queueing deliveries that would go dead."""
    if subscription.status != SubscriptionStatus.ACTIVE.value:
        raise Conflict(
            f"subscription {subscription.id} is disabled ({subscription.disabled_reason}); "
            'enable it first with PATCH {"status": "active"}'
        )


async def update(
    *, session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, data: SubscriptionUpdate, allow: Destinations
) -> Subscription:
    subscription = await get_visible(session=session, caller=caller, subscription_id=subscription_id)
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise Unprocessable(
            "nothing to change: give url, event_types, filter, description, status, delivery, digest, thresholds, "
            "max_per_day or max_in_flight"
        )
    if data.url is not None:
        _check_url(str(data.url), allow)
        subscription.url = str(data.url)
    if data.event_types is not None:
        subscription.entitled = _entitled_types(caller, data.event_types)
        subscription.event_types = data.event_types
    if data.filter is not None:
        subscription.countries = data.filter.countries
        subscription.sectors = [s.value for s in data.filter.sectors]
        subscription.appeals = data.filter.appeals
    if "description" in changes:
        subscription.description = data.description
    _quieten(subscription, data)
    if data.status is not None:
        subscription.status = data.status.value
        subscription.disabled_reason = None if data.status is SubscriptionStatus.ACTIVE else "disabled by request"
    await session.flush()
    return subscription


async def rotate_secret(
    *, session: AsyncSession, caller: Caller, subscription_id: uuid.UUID, box: SecretBox
) -> tuple[Subscription, str]:
    """A new secret signs from now on; the current one keeps signing too for 24 hours (both signatures are
    sent), so the partner can switch without losing a message."""
    subscription = await get_visible(session=session, caller=caller, subscription_id=subscription_id)
    now = utcnow()
    await session.execute(
        delete(SigningSecret).where(
            SigningSecret.subscription_id == subscription.id,
            SigningSecret.expires_at.is_not(None),
            SigningSecret.expires_at <= now,
        )
    )
    current = await session.execute(
        select(SigningSecret).where(
            SigningSecret.subscription_id == subscription.id, SigningSecret.expires_at.is_(None)
        )
    )
    for old in current.scalars():
        old.expires_at = now + ROTATION_OVERLAP
    secret = new_secret()
    session.add(
        SigningSecret(id=uuid.uuid4(), subscription_id=subscription.id, sealed=box.seal(secret), created_at=now)
    )
    await session.flush()
    return subscription, secret


async def signing_secrets_of(*, session: AsyncSession, subscription_ids: set[uuid.UUID]) -> dict[uuid.UUID, list[str]]:
    """Sealed secrets to sign with now, per subscription, in one query: the newest first, then any still inside
    its rotation overlap. A subscription without one is absent."""
    if not subscription_ids:
        return {}
    now = utcnow()
    rows = await session.execute(
        select(SigningSecret.subscription_id, SigningSecret.sealed, SigningSecret.expires_at)
        .where(SigningSecret.subscription_id.in_(subscription_ids))
        .order_by(SigningSecret.created_at.desc())
    )
    out: dict[uuid.UUID, list[str]] = {}
    for subscription_id, sealed, expires_at in rows:
        if expires_at is None or expires_at > now:
            out.setdefault(subscription_id, []).append(sealed)
    return out


async def disable(*, session: AsyncSession, subscription_id: uuid.UUID, reason: str) -> None:
    """Stop sending to a subscription (e.g. its receiver answered 410 Gone); PATCH status=active resumes it."""
    subscription = await session.get(Subscription, subscription_id)
    if subscription is not None:
        subscription.status = SubscriptionStatus.DISABLED.value
        subscription.disabled_reason = reason


async def flag_unusable(*, session: AsyncSession, subscription: Subscription, reason: str) -> None:
    """Stop sending to a subscription that cannot be served (its secret unreadable) and tell the operator: the
    status says why, a metric counts it, the log names it. Fixed, it is re-enabled with PATCH status=active and
    its deliveries recovered with retry."""
    subscription.status = SubscriptionStatus.DISABLED.value
    subscription.disabled_reason = reason
    SUBSCRIPTIONS_FLAGGED.labels("unreadable-secret").inc()
    log.error(
        "subscriptions.unusable",
        subscription_id=str(subscription.id),
        partner_id=str(subscription.partner_id),
        reason=reason,
    )


async def reseal_all(*, session: AsyncSession, box: SecretBox) -> tuple[int, list[uuid.UUID]]:
    """Seal every signing secret again under the newest key. Returns how many were resealed and the
    subscriptions whose secret no configured key opens (left as they are)."""
    resealed, unreadable = 0, []
    for secret in (await session.execute(select(SigningSecret))).scalars():
        try:
            secret.sealed = box.reseal(secret.sealed)
            resealed += 1
        except UnreadableSecret:
            unreadable.append(secret.subscription_id)
    return resealed, unreadable


async def remove(*, session: AsyncSession, caller: Caller, subscription_id: uuid.UUID) -> None:
    """Stop sending: the subscription is disabled (its deliveries stay visible), not erased."""
    subscription = await get_visible(session=session, caller=caller, subscription_id=subscription_id)
    subscription.status = SubscriptionStatus.DISABLED.value
    subscription.disabled_reason = "deleted"
    await session.flush()


async def list_(
    *, session: AsyncSession, caller: Caller, partner_id: uuid.UUID | None, cursor: str | None, limit: int
) -> tuple[list[Subscription], str | None]:
    stmt = select(Subscription).where(Subscription.disabled_reason.is_distinct_from("deleted"))
    only = visible_partner(caller)
    if only is not None:
        stmt = stmt.where(Subscription.partner_id == only)
    if partner_id:
        stmt = stmt.where(Subscription.partner_id == partner_id)
    rows = (await session.execute(keyset(stmt, Subscription, cursor=cursor, limit=limit))).scalars().all()
    return page(rows, limit=limit)

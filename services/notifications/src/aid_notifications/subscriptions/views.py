from __future__ import annotations

import uuid

from fastapi import APIRouter, Response

from aid_common.idempotency import idempotent
from aid_common.pagination import Cursor, Limit, Page
from aid_common.uow import ReadSession, UnitOfWork
from aid_notifications.deps import AllowedDestinations, Box, Reader, ServiceSettings, Writer
from aid_notifications.subscriptions import service
from aid_notifications.subscriptions.models import (
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
    SubscriptionUpdate,
)

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])


@router.post("", status_code=201)
@idempotent(sealed=("secret",))  # a stored answer holds the secret encrypted, like the subscription itself
async def create_subscription(
    body: SubscriptionCreate,
    uow: UnitOfWork,
    caller: Writer,
    box: Box,
    allow: AllowedDestinations,
    settings: ServiceSettings,
) -> SubscriptionCreated:
    """Subscribe a URL to event types (exact, or a prefix ending in `*`) with an optional filter. The answer
    carries the signing secret — the only time it is shown."""
    subscription, secret = await service.create(
        session=uow.session,
        caller=caller,
        data=body,
        box=box,
        allow=allow,
        max_per_partner=settings.max_subscriptions_per_partner,
    )
    return SubscriptionCreated.of(subscription, secret=secret)


@router.get("")
async def list_subscriptions(
    session: ReadSession, caller: Reader, partner_id: uuid.UUID | None = None, cursor: Cursor = None, limit: Limit = 50
) -> Page[SubscriptionRead]:
    """A partner token lists its own subscriptions only."""
    items, next_cursor = await service.list_(
        session=session, caller=caller, partner_id=partner_id, cursor=cursor, limit=limit
    )
    return Page(items=[SubscriptionRead.of(s) for s in items], next_cursor=next_cursor)


@router.get("/{subscription_id}")
async def get_subscription(subscription_id: uuid.UUID, session: ReadSession, caller: Reader) -> SubscriptionRead:
    return SubscriptionRead.of(
        await service.get_visible(session=session, caller=caller, subscription_id=subscription_id)
    )


@router.patch("/{subscription_id}")
async def update_subscription(
    subscription_id: uuid.UUID, body: SubscriptionUpdate, uow: UnitOfWork, caller: Writer, allow: AllowedDestinations
) -> SubscriptionRead:
    """Change the URL, types or filter, or re-enable a subscription that was disabled (e.g. after a 410)."""
    subscription = await service.update(
        session=uow.session, caller=caller, subscription_id=subscription_id, data=body, allow=allow
    )
    return SubscriptionRead.of(subscription)


@router.delete("/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: uuid.UUID, uow: UnitOfWork, caller: Writer) -> Response:
    await service.remove(session=uow.session, caller=caller, subscription_id=subscription_id)
    return Response(status_code=204)


@router.post("/{subscription_id}/rotate-secret")
async def rotate_secret(subscription_id: uuid.UUID, uow: UnitOfWork, caller: Writer, box: Box) -> SubscriptionCreated:
    """A new signing secret (shown once). For 24 hours both the old and the new one sign every webhook."""
    subscription, secret = await service.rotate_secret(
        session=uow.session, caller=caller, subscription_id=subscription_id, box=box
    )
    return SubscriptionCreated.of(subscription, secret=secret)

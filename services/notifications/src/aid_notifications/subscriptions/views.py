from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request, Response

from aid_common.auth import Caller, require_scope
from aid_common.idempotency import IdempotencyKey, respond_idempotently
from aid_common.pagination import Cursor, Limit, Page
from aid_common.runtime import SessionDep
from aid_notifications.deliveries import service as deliveries
from aid_notifications.deps import AllowedNetworks, Box
from aid_notifications.subscriptions import service
from aid_notifications.subscriptions.models import (
    ReplayAccepted,
    ReplayRequest,
    SubscriptionCreate,
    SubscriptionCreated,
    SubscriptionRead,
    SubscriptionUpdate,
)

router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])
Reader = Annotated[Caller, require_scope("notifications:read")]
Writer = Annotated[Caller, require_scope("notifications:write")]


@router.post("", status_code=201, response_model=SubscriptionCreated)
async def create_subscription(
    body: SubscriptionCreate,
    request: Request,
    caller: Writer,
    box: Box,
    allow: AllowedNetworks,
    idempotency_key: IdempotencyKey = None,
):
    """Subscribe a URL to event types (exact, or a prefix ending in `*`) with an optional filter. The answer
    carries the signing secret — the only time it is shown."""

    async def use_case(session):
        subscription, secret = await service.create(session=session, caller=caller, data=body, box=box, allow=allow)
        return SubscriptionCreated(**SubscriptionRead.of(subscription).model_dump(), secret=secret)

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=201, use_case=use_case
    )


@router.get("", response_model=Page[SubscriptionRead])
async def list_subscriptions(
    session: SessionDep, caller: Reader, partner_id: uuid.UUID | None = None, cursor: Cursor = None, limit: Limit = 50
) -> Page[SubscriptionRead]:
    """A partner token lists its own subscriptions only."""
    items, next_cursor = await service.list_(
        session=session, caller=caller, partner_id=partner_id, cursor=cursor, limit=limit
    )
    return Page(items=[SubscriptionRead.of(s) for s in items], next_cursor=next_cursor)


@router.get("/{subscription_id}", response_model=SubscriptionRead)
async def get_subscription(subscription_id: uuid.UUID, session: SessionDep, caller: Reader) -> SubscriptionRead:
    return SubscriptionRead.of(
        await service.get_visible(session=session, caller=caller, subscription_id=subscription_id)
    )


@router.patch("/{subscription_id}", response_model=SubscriptionRead)
async def update_subscription(
    subscription_id: uuid.UUID, body: SubscriptionUpdate, session: SessionDep, caller: Writer, allow: AllowedNetworks
) -> SubscriptionRead:
    """Change the URL, types or filter, or re-enable a subscription that was disabled (e.g. after a 410)."""
    subscription = await service.update(
        session=session, caller=caller, subscription_id=subscription_id, data=body, allow=allow
    )
    read = SubscriptionRead.of(subscription)
    await session.commit()
    return read


@router.delete("/{subscription_id}", status_code=204)
async def delete_subscription(subscription_id: uuid.UUID, session: SessionDep, caller: Writer) -> Response:
    await service.remove(session=session, caller=caller, subscription_id=subscription_id)
    await session.commit()
    return Response(status_code=204)


@router.post("/{subscription_id}/rotate-secret", response_model=SubscriptionCreated)
async def rotate_secret(subscription_id: uuid.UUID, session: SessionDep, caller: Writer, box: Box):
    """A new signing secret (shown once). For 24 hours both the old and the new one sign every webhook."""
    subscription, secret = await service.rotate_secret(
        session=session, caller=caller, subscription_id=subscription_id, box=box
    )
    read = SubscriptionCreated(**SubscriptionRead.of(subscription).model_dump(), secret=secret)
    await session.commit()
    return read


@router.post("/{subscription_id}/replay", status_code=202, response_model=ReplayAccepted)
async def replay(subscription_id: uuid.UUID, body: ReplayRequest, session: SessionDep, caller: Writer):
    """Send again every matching event received since `since` (events are kept at least 7 days). Each keeps its
    webhook-id, so a receiver that already has one can drop it."""
    subscription = await service.get_visible(session=session, caller=caller, subscription_id=subscription_id)
    service.check_active(subscription)
    count = await deliveries.replay(session=session, subscription=subscription, since=body.since)
    await session.commit()
    return ReplayAccepted(subscription_id=subscription.id, since=body.since, deliveries=count)

from __future__ import annotations

import uuid

from fastapi import APIRouter

from aid_common.pagination import Cursor, Limit, Page
from aid_common.uow import ReadSession, UnitOfWork
from aid_notifications.deliveries import service
from aid_notifications.deliveries.models import (
    AttemptRead,
    DeliveryDetail,
    DeliveryRead,
    DeliveryStatus,
    RecoverAccepted,
    RecoverRequest,
)
from aid_notifications.deps import Reader, ReplayPlace, Writer
from aid_notifications.subscriptions.models import ReplayAccepted, ReplayRequest

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])
# A subscription's deliveries, as a whole (the subscription itself is `subscriptions.views`).
subscription_router = APIRouter(prefix="/v1/subscriptions/{subscription_id}", tags=["subscriptions"])


@router.get("")
async def list_deliveries(
    session: ReadSession,
    caller: Reader,
    subscription_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[DeliveryRead]:
    items, next_cursor = await service.list_(
        session=session,
        caller=caller,
        subscription_id=subscription_id,
        status=status.value if status else None,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[DeliveryRead.model_validate(d) for d in items], next_cursor=next_cursor)


@router.get("/{delivery_id}")
async def get_delivery(delivery_id: uuid.UUID, session: ReadSession, caller: Reader) -> DeliveryDetail:
    """A delivery with every attempt: status code or error, and how long it took."""
    delivery = await service.get_visible(session=session, caller=caller, delivery_id=delivery_id)
    attempts = await service.history(session=session, delivery_id=delivery_id)
    return DeliveryDetail(
        **DeliveryRead.model_validate(delivery).model_dump(), history=[AttemptRead.model_validate(a) for a in attempts]
    )


@router.post("/{delivery_id}/retry", status_code=202)
async def retry_delivery(delivery_id: uuid.UUID, uow: UnitOfWork, caller: Writer) -> DeliveryRead:
    """Send this delivery again now, with a fresh schedule (same webhook-id)."""
    return DeliveryRead.model_validate(await service.retry(session=uow.session, caller=caller, delivery_id=delivery_id))


@subscription_router.post("/replay", status_code=202)
async def replay(
    subscription_id: uuid.UUID, body: ReplayRequest, uow: UnitOfWork, caller: Writer, place: ReplayPlace
) -> ReplayAccepted:
    """Send again every matching event received since `since` (events are kept at least 7 days), never one from
    before the subscription existed (`since` in the answer is where it started). Each keeps its webhook-id, so a
    receiver that already has one can drop it."""
    count, since = await service.replay(
        session=uow.session, caller=caller, subscription_id=subscription_id, since=body.since
    )
    return ReplayAccepted(subscription_id=subscription_id, since=since, deliveries=count)


@subscription_router.post("/recover", status_code=202)
async def recover(
    subscription_id: uuid.UUID, body: RecoverRequest, uow: UnitOfWork, caller: Writer, place: ReplayPlace
) -> RecoverAccepted:
    """Send again every failed or dead delivery of this subscription created since `since` — e.g. after the
    partner's endpoint was down — never one from before the subscription existed."""
    count, since = await service.recover(
        session=uow.session, caller=caller, subscription_id=subscription_id, since=body.since
    )
    return RecoverAccepted(subscription_id=subscription_id, since=since, deliveries=count)

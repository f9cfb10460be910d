from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter

from aid_common.auth import Caller, require_scope
from aid_common.pagination import Cursor, Limit, Page
from aid_common.runtime import SessionDep
from aid_notifications.deliveries import service
from aid_notifications.deliveries.models import AttemptRead, DeliveryDetail, DeliveryRead, DeliveryStatus

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])
Reader = Annotated[Caller, require_scope("notifications:read")]


@router.get("", response_model=Page[DeliveryRead])
async def list_deliveries(
    session: SessionDep,
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


@router.get("/{delivery_id}", response_model=DeliveryDetail)
async def get_delivery(delivery_id: uuid.UUID, session: SessionDep, caller: Reader) -> DeliveryDetail:
    """A delivery with every attempt: status code or error, and how long it took."""
    delivery = await service.get_visible(session=session, caller=caller, delivery_id=delivery_id)
    attempts = await service.history(session=session, delivery_id=delivery_id)
    return DeliveryDetail(
        **DeliveryRead.model_validate(delivery).model_dump(), history=[AttemptRead.model_validate(a) for a in attempts]
    )


@router.post("/{delivery_id}/retry", status_code=202, response_model=DeliveryRead)
async def retry_delivery(
    delivery_id: uuid.UUID, session: SessionDep, caller: Annotated[Caller, require_scope("notifications:write")]
) -> DeliveryRead:
    """Send this delivery again now, with a fresh schedule (same webhook-id)."""
    delivery = await service.retry(session=session, caller=caller, delivery_id=delivery_id)
    read = DeliveryRead.model_validate(delivery)
    await session.commit()
    return read

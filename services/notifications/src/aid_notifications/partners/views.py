from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request

from aid_common.auth import Caller, require_scope
from aid_common.idempotency import IdempotencyKey, respond_idempotently
from aid_common.pagination import Cursor, Limit, Page
from aid_common.runtime import SessionDep
from aid_notifications.partners import service
from aid_notifications.partners.models import PartnerCreate, PartnerRead

router = APIRouter(prefix="/v1/partners", tags=["partners"])
Reader = Annotated[Caller, require_scope("notifications:read")]


@router.post("", status_code=201, response_model=PartnerRead)
async def create_partner(
    body: PartnerCreate,
    request: Request,
    caller: Annotated[Caller, require_scope("admin")],
    idempotency_key: IdempotencyKey = None,
):
    """Register a partner organisation (admins only); mint its token with `crisisaid token --partner-id`."""

    async def use_case(session):
        return PartnerRead.model_validate(await service.create(session=session, data=body))

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=201, use_case=use_case
    )


@router.get("", response_model=Page[PartnerRead])
async def list_partners(session: SessionDep, caller: Reader, cursor: Cursor = None, limit: Limit = 50):
    items, next_cursor = await service.list_(session=session, caller=caller, cursor=cursor, limit=limit)
    return Page(items=[PartnerRead.model_validate(p) for p in items], next_cursor=next_cursor)


@router.get("/{partner_id}", response_model=PartnerRead)
async def get_partner(partner_id: uuid.UUID, session: SessionDep, caller: Reader) -> PartnerRead:
    return PartnerRead.model_validate(await service.get_visible(session=session, caller=caller, partner_id=partner_id))

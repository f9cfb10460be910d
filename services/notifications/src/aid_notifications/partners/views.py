from __future__ import annotations

import uuid

from fastapi import APIRouter

from aid_common.idempotency import idempotent
from aid_common.pagination import Cursor, Limit, Page
from aid_common.uow import ReadSession, UnitOfWork
from aid_notifications.deps import Admin, Reader
from aid_notifications.partners import service
from aid_notifications.partners.models import PartnerCreate, PartnerRead, PartnerUpdate

router = APIRouter(prefix="/v1/partners", tags=["partners"])


@router.post("", status_code=201)
@idempotent
async def create_partner(body: PartnerCreate, uow: UnitOfWork, caller: Admin) -> PartnerRead:
    """Register a partner organisation (admins only); mint its token with `crisisaid token --partner-id`."""
    return PartnerRead.model_validate(await service.create(session=uow.session, data=body))


@router.get("")
async def list_partners(
    session: ReadSession, caller: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[PartnerRead]:
    items, next_cursor = await service.list_(session=session, caller=caller, cursor=cursor, limit=limit)
    return Page(items=[PartnerRead.model_validate(p) for p in items], next_cursor=next_cursor)


@router.get("/{partner_id}")
async def get_partner(partner_id: uuid.UUID, session: ReadSession, caller: Reader) -> PartnerRead:
    return PartnerRead.model_validate(await service.get_visible(session=session, caller=caller, partner_id=partner_id))


@router.patch("/{partner_id}")
async def update_partner(partner_id: uuid.UUID, body: PartnerUpdate, uow: UnitOfWork, caller: Admin) -> PartnerRead:
    """Rename a partner (admins only); projects show the new name (aid.partner.updated)."""
    return PartnerRead.model_validate(await service.update(session=uow.session, partner_id=partner_id, data=body))

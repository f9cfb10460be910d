from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from aid_common.idempotency import idempotent
from aid_common.pagination import Cursor, Limit, Page
from aid_common.uow import ReadSession, UnitOfWork
from aid_contracts.types import CountryCode
from aid_pledges.deps import Reader, Writer
from aid_pledges.donors import service
from aid_pledges.donors.models import DonorCreate, DonorKind, DonorRead

router = APIRouter(prefix="/v1/donors", tags=["donors"])


@router.post("", status_code=201)
@idempotent
async def create_donor(body: DonorCreate, uow: UnitOfWork, caller: Writer) -> DonorRead:
    return DonorRead.model_validate(await service.create(session=uow.session, data=body))


@router.get("")
async def list_donors(
    session: ReadSession,
    caller: Reader,
    country: Annotated[CountryCode | None, Query()] = None,
    kind: DonorKind | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[DonorRead]:
    items, next_cursor = await service.list_(
        session=session, country=country, kind=kind.value if kind else None, cursor=cursor, limit=limit
    )
    return Page(items=[DonorRead.model_validate(d) for d in items], next_cursor=next_cursor)


@router.get("/{donor_id}")
async def get_donor(donor_id: uuid.UUID, session: ReadSession, caller: Reader) -> DonorRead:
    return DonorRead.model_validate(await service.get_or_404(session=session, donor_id=donor_id))

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from aid_common.auth import Caller, require_scope
from aid_common.idempotency import IdempotencyKey, respond_idempotently
from aid_common.pagination import Cursor, Limit, Page
from aid_common.runtime import SessionDep
from aid_contracts.types import CountryCode
from aid_pledges.donors import service
from aid_pledges.donors.models import DonorCreate, DonorKind, DonorRead

router = APIRouter(prefix="/v1/donors", tags=["donors"])


@router.post("", status_code=201, response_model=DonorRead)
async def create_donor(
    body: DonorCreate,
    request: Request,
    idempotency_key: IdempotencyKey = None,
    caller: Caller = require_scope("pledges:write"),
):
    async def use_case(session):
        return DonorRead.model_validate(await service.create(session=session, data=body))

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=201, use_case=use_case
    )


@router.get("", response_model=Page[DonorRead])
async def list_donors(
    session: SessionDep,
    country: Annotated[CountryCode | None, Query()] = None,
    kind: DonorKind | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    caller: Caller = require_scope("pledges:read"),
) -> Page[DonorRead]:
    items, next_cursor = await service.list_(
        session=session, country=country, kind=kind.value if kind else None, cursor=cursor, limit=limit
    )
    return Page(items=[DonorRead.model_validate(d) for d in items], next_cursor=next_cursor)


@router.get("/{donor_id}", response_model=DonorRead)
async def get_donor(donor_id: uuid.UUID, session: SessionDep, caller: Caller = require_scope("pledges:read")):
    return DonorRead.model_validate(await service.get_or_404(session=session, donor_id=donor_id))

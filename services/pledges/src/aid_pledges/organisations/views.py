from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query

from aid_common.idempotency import idempotent
from aid_common.pagination import Cursor, Limit, Page
from aid_common.uow import ReadSession, UnitOfWork
from aid_contracts.types import CountryCode
from aid_pledges.deps import Reader, Writer
from aid_pledges.organisations import service
from aid_pledges.organisations.models import (
    OrganisationCreate,
    OrganisationKind,
    OrganisationRead,
    OrganisationUpdate,
    Role,
)

router = APIRouter(prefix="/v1/organisations", tags=["organisations"])


@router.post("", status_code=201)
@idempotent
async def create_organisation(body: OrganisationCreate, uow: UnitOfWork, caller: Writer) -> OrganisationRead:
    return OrganisationRead.model_validate(await service.create(session=uow.session, data=body))


@router.get("")
async def list_organisations(
    session: ReadSession,
    caller: Reader,
    role: Role | None = None,
    country: Annotated[CountryCode | None, Query()] = None,
    kind: OrganisationKind | None = None,
    fts_org_id: Annotated[str | None, Query(max_length=20, pattern=r"^\d+$")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[OrganisationRead]:
    items, next_cursor = await service.list_(
        session=session,
        role=role,
        country=country,
        kind=kind.value if kind else None,
        fts_org_id=fts_org_id,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[OrganisationRead.model_validate(o) for o in items], next_cursor=next_cursor)


@router.get("/{organisation_id}")
async def get_organisation(organisation_id: uuid.UUID, session: ReadSession, caller: Reader) -> OrganisationRead:
    return OrganisationRead.model_validate(await service.get_or_404(session=session, organisation_id=organisation_id))


@router.patch("/{organisation_id}")
async def update_organisation(
    organisation_id: uuid.UUID, body: OrganisationUpdate, uow: UnitOfWork, caller: Writer
) -> OrganisationRead:
    organisation = await service.update(session=uow.session, organisation_id=organisation_id, data=body)
    return OrganisationRead.model_validate(organisation)

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Request

from aid_common.auth import Caller, require_scope
from aid_common.idempotency import IdempotencyKey, respond_idempotently
from aid_common.pagination import Cursor, Limit, Page
from aid_common.runtime import SessionDep
from aid_contracts.types import CountryCode, Sector
from aid_projects.funding import reports
from aid_projects.funding.models import LedgerEntryRead
from aid_projects.projects import service
from aid_projects.projects.models import ProjectCreate, ProjectRead, ProjectStatus, ProjectUpdate

router = APIRouter(prefix="/v1/projects", tags=["projects"])
Reader = Annotated[Caller, require_scope("projects:read")]
Writer = Annotated[Caller, require_scope("projects:write")]


@router.post("", status_code=201, response_model=ProjectRead)
async def create_project(body: ProjectCreate, request: Request, caller: Writer, idempotency_key: IdempotencyKey = None):
    """Register a field project. An active project at once draws unallocated money whose earmark it matches."""

    async def use_case(session):
        return await service.read(session=session, project=await service.create(session=session, data=body))

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=201, use_case=use_case
    )


@router.get("", response_model=Page[ProjectRead])
async def list_projects(
    session: SessionDep,
    caller: Reader,
    country: CountryCode | None = None,
    sector: Sector | None = None,
    appeal: str | None = None,
    status: ProjectStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ProjectRead]:
    items, next_cursor = await service.list_(
        session=session,
        country=country,
        sector=sector.value if sector else None,
        appeal=appeal,
        status=status.value if status else None,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get("/{project_id}", response_model=ProjectRead)
async def get_project(project_id: uuid.UUID, session: SessionDep, caller: Reader) -> ProjectRead:
    return await service.read(session=session, project=await service.get_or_404(session=session, project_id=project_id))


@router.patch("/{project_id}", response_model=ProjectRead)
async def update_project(
    project_id: uuid.UUID, body: ProjectUpdate, request: Request, caller: Writer, idempotency_key: IdempotencyKey = None
):
    """Change requirements, status, names or partners. Activating a project, or raising what it needs, lets it
    draw from matching pools; closing it stops new allocations (what it holds stays)."""

    async def use_case(session):
        project = await service.update(session=session, project_id=project_id, data=body)
        return await service.read(session=session, project=project)

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=200, use_case=use_case
    )


@router.get("/{project_id}/allocations", response_model=Page[LedgerEntryRead])
async def list_allocations(
    project_id: uuid.UUID, session: SessionDep, caller: Reader, cursor: Cursor = None, limit: Limit = 100
) -> Page[LedgerEntryRead]:
    """The project's ledger: allocations and reversals, oldest first, each naming its agreement and the event
    that caused it."""
    await service.get_or_404(session=session, project_id=project_id)
    items, next_cursor = await reports.ledger(session=session, project_id=project_id, cursor=cursor, limit=limit)
    return Page(items=[LedgerEntryRead.model_validate(e) for e in items], next_cursor=next_cursor)

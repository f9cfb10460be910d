from __future__ import annotations

import uuid

from fastapi import APIRouter

from aid_common.idempotency import idempotent
from aid_common.pagination import Cursor, Limit, Page
from aid_common.uow import ReadSession, UnitOfWork
from aid_contracts.types import CountryCode, Sector
from aid_projects.deps import At, Reader, Steward, Writer
from aid_projects.funding import reports
from aid_projects.funding import service as funding
from aid_projects.funding.models import LedgerEntryRead
from aid_projects.projects import service
from aid_projects.projects.models import ProjectCreate, ProjectRead, ProjectStatus, ProjectUpdate
from aid_projects.projects.service import ProjectFilter

router = APIRouter(prefix="/v1/projects", tags=["projects"])


@router.post("", status_code=201)
@idempotent
async def create_project(body: ProjectCreate, uow: UnitOfWork, caller: Steward) -> ProjectRead:
    """Register a field project. An active project at once draws unallocated money whose earmark it matches."""
    project, created = await service.create(session=uow.session, data=body)
    await funding.project_changed(session=uow.session, project=project, cause=created)
    return await reports.project_read(session=uow.session, project=project)


@router.get("")
async def list_projects(
    session: ReadSession,
    caller: Reader,
    when: At,
    country: CountryCode | None = None,
    sector: Sector | None = None,
    appeal: str | None = None,
    status: ProjectStatus | None = None,
    partner_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ProjectRead]:
    """Projects with their figures: now, `as_of` a day (the money moved by then) or `known_at` a moment (only
    projects recorded by then, as they were)."""
    where = ProjectFilter(
        country=country,
        sector=sector.value if sector else None,
        appeal=appeal,
        status=status.value if status else None,
        partner_id=partner_id,
    )
    items, next_cursor = await service.list_(session=session, where=where, cursor=cursor, limit=limit)
    return Page(items=await reports.projects_read(session=session, projects=items, when=when), next_cursor=next_cursor)


@router.get("/{project_id}")
async def get_project(project_id: uuid.UUID, session: ReadSession, caller: Reader, when: At) -> ProjectRead:
    """The project with its figures — `as_of` a day: the money moved by then; `known_at` a moment: what it
    needed, its status and its funding as recorded then."""
    project = await service.get_or_404(session=session, project_id=project_id)
    return await reports.project_read(session=session, project=project, when=when)


@router.patch("/{project_id}")
@idempotent
async def update_project(project_id: uuid.UUID, body: ProjectUpdate, uow: UnitOfWork, caller: Writer) -> ProjectRead:
    """Change requirements, status, names or partners. Activating a project, or raising what it needs, lets it
    draw from matching pools; needing less than the money allocated to it by gap gives the excess back to its
    pools (money earmarked to the project stays, shown as over-funding); closing it stops new allocations."""
    project, updated = await service.update(session=uow.session, project_id=project_id, data=body, caller=caller)
    await funding.project_changed(session=uow.session, project=project, cause=updated)
    return await reports.project_read(session=uow.session, project=project)


@router.get("/{project_id}/allocations")
async def list_allocations(
    project_id: uuid.UUID, session: ReadSession, caller: Reader, cursor: Cursor = None, limit: Limit = 100
) -> Page[LedgerEntryRead]:
    """The project's ledger: allocations and reversals, oldest first, each naming its agreement and the event
    that caused it."""
    await service.get_or_404(session=session, project_id=project_id)
    items, next_cursor = await reports.ledger(session=session, project_id=project_id, cursor=cursor, limit=limit)
    return Page(items=[LedgerEntryRead.model_validate(e) for e in items], next_cursor=next_cursor)

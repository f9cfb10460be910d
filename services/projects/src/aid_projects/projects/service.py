"""Field projects: registration, changes of status and requirements, reading with funding figures."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.errors import Conflict, NotFound, Unprocessable
from aid_common.pagination import keyset, page
from aid_contracts.projects import PartnerRole, ProjectCreated, ProjectUpdated
from aid_projects.appeals import service as appeals
from aid_projects.funding import service as funding
from aid_projects.funding.allocation import coverage, usd
from aid_projects.funding.models import AgreementFunds
from aid_projects.projects.models import Project, ProjectCreate, ProjectRead, ProjectUpdate


async def create(*, session: AsyncSession, data: ProjectCreate) -> Project:
    if data.appeal:
        await appeals.check_pillar(session=session, appeal=data.appeal, pillar=data.pillar)
    if (await session.execute(select(Project.id).where(Project.code == data.code))).first() is not None:
        raise Conflict(f"a project with code {data.code!r} already exists")
    project = Project(
        id=uuid.uuid4(),
        code=data.code,
        title=data.title,
        names=data.names,
        country=data.country,
        region=data.region,
        sector=data.sector.value,
        appeal=data.appeal,
        pillar=data.pillar,
        requirements_usd=data.requirements_usd,
        funded_usd=Decimal("0.00"),
        received_usd=Decimal("0.00"),
        status=data.status.value,
        partners=[p.model_dump(mode="json") for p in data.partners],
    )
    session.add(project)
    try:
        await session.flush()
    except IntegrityError as exc:  # a concurrent request took the code between the check and the insert
        raise Conflict(f"a project with code {data.code!r} already exists") from exc
    created = outbox.add(
        session,
        ProjectCreated(
            **project.facts(), status=data.status.value, partners=[PartnerRole(**p) for p in project.partners]
        ),
    )
    await funding.draw_from_pools(session, project=project, cause=created)
    await session.flush()
    return project


async def get_or_404(*, session: AsyncSession, project_id: uuid.UUID) -> Project:
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFound(f"no project with id {project_id}")
    return project


async def update(*, session: AsyncSession, project_id: uuid.UUID, data: ProjectUpdate) -> Project:
    await funding.lock_ledger(session)
    project = await get_or_404(session=session, project_id=project_id)
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise Unprocessable("nothing to change: give at least one of title, names, requirements_usd, status, partners")
    for field in ("title", "names", "requirements_usd"):
        if changes.get(field) is not None:
            setattr(project, field, getattr(data, field))
    if data.status is not None:
        project.status = data.status.value
    if data.partners is not None:
        project.partners = [p.model_dump(mode="json") for p in data.partners]
    updated = outbox.add(
        session,
        ProjectUpdated(
            **project.facts(),
            status=project.status,
            partners=[PartnerRole(**p) for p in project.partners],
            changed=sorted(changes),
        ),
    )
    # Re-activated, or needing more than before: the gap may be filled from matching pools.
    await funding.draw_from_pools(session, project=project, cause=updated)
    await session.flush()
    return project


async def pledged_usd(*, session: AsyncSession, project_ids: list[uuid.UUID]) -> dict[uuid.UUID, Decimal]:
    """Announced (pledged, not signed) agreements that name each project: shown, never counted as funding."""
    if not project_ids:
        return {}
    rows = await session.execute(
        select(AgreementFunds.earmark_project_id, func.sum(AgreementFunds.amount_usd))
        .where(AgreementFunds.status == "pledged", AgreementFunds.earmark_project_id.in_(project_ids))
        .group_by(AgreementFunds.earmark_project_id)
    )
    return {pid: usd(total) for pid, total in rows.all()}


def read_model(project: Project, *, pledged: Decimal | None = None) -> ProjectRead:
    return ProjectRead.model_validate(
        {
            **{c: getattr(project, c) for c in ProjectRead.model_fields if hasattr(project, c)},
            "pledged_usd": pledged or Decimal("0.00"),
            "coverage": coverage(project.funded_usd, project.requirements_usd),
            "overfunded": project.overfunded,
        }
    )


async def read(*, session: AsyncSession, project: Project) -> ProjectRead:
    pledged = await pledged_usd(session=session, project_ids=[project.id])
    return read_model(project, pledged=pledged.get(project.id))


async def list_(
    *,
    session: AsyncSession,
    country: str | None,
    sector: str | None,
    appeal: str | None,
    status: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[ProjectRead], str | None]:
    stmt = select(Project)
    for column, value in ((Project.country, country), (Project.sector, sector), (Project.appeal, appeal)):
        if value:
            stmt = stmt.where(column == value)
    if status:
        stmt = stmt.where(Project.status == status)
    rows = (await session.execute(keyset(stmt, Project, cursor=cursor, limit=limit))).scalars().all()
    items, next_cursor = page(rows, limit=limit)
    pledged = await pledged_usd(session=session, project_ids=[p.id for p in items])
    return [read_model(p, pledged=pledged.get(p.id)) for p in items], next_cursor

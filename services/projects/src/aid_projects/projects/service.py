"""Field projects: registration, changes of status and requirements, reading with funding figures."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

from sqlalchemy import Select, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.auth import Caller
from aid_common.errors import Conflict, Forbidden, NotFound, Unprocessable
from aid_common.events import CloudEvent
from aid_common.pagination import batches, keyset, page
from aid_contracts.notifications import PartnerFacts
from aid_contracts.projects import PartnerRole, ProjectCreated, ProjectUpdated
from aid_projects import locks
from aid_projects.appeals import service as appeals
from aid_projects.money import ZERO
from aid_projects.partners import service as partners
from aid_projects.projects.models import (
    Project,
    ProjectCreate,
    ProjectPartner,
    ProjectRevision,
    ProjectStatus,
    ProjectUpdate,
)


async def create(*, session: AsyncSession, data: ProjectCreate) -> tuple[Project, CloudEvent]:
    """The new project and its `aid.project.created` event (the cause of any funding it draws at once)."""
    await locks.take(session, locks.country(data.country))
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
        funded_usd=ZERO,
        received_usd=ZERO,
        status=data.status.value,
        partners=await partners.resolve(session=session, partners=data.partners),
    )
    session.add(project)
    _revise(session, project)
    await index_partners(session=session, project=project)
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
    return project, created


def _revise(session: AsyncSession, project: Project) -> None:
    """Record what the project needs and its status from now on (read back by `as_of` figures)."""
    session.add(
        ProjectRevision(
            id=uuid.uuid4(), project_id=project.id, requirements_usd=project.requirements_usd, status=project.status
        )
    )


async def get_or_404(*, session: AsyncSession, project_id: uuid.UUID) -> Project:
    project = await session.get(Project, project_id)
    if project is None:
        raise NotFound(f"no project with id {project_id}")
    return project


# What a partner's token (partner_id) may change in a project it holds a role in: how it is described. Partners,
# requirements and status move money or decide who answers for it: coordinators' decisions.
PARTNER_FIELDS = frozenset({"title", "names"})


async def update(
    *, session: AsyncSession, project_id: uuid.UUID, data: ProjectUpdate, caller: Caller
) -> tuple[Project, CloudEvent]:
    """The changed project and its `aid.project.updated` event. Takes the ledger locks first: a change of
    requirements or status moves money — within the project's country, except money beyond lowered requirements,
    which goes back to pools that projects anywhere may draw (so any change of requirements spans countries)."""
    code = await session.scalar(select(Project.country).where(Project.id == project_id))
    if code is None:
        raise NotFound(f"no project with id {project_id}")
    await locks.take(session, locks.SPANNING if data.requirements_usd is not None else locks.country(code))
    project = await get_or_404(session=session, project_id=project_id)
    if caller.partner_id is not None and not holds_a_role(project, caller.partner_id):
        raise Forbidden(
            f"partner {caller.partner_id} holds no role in project {project.code}: a partner changes only the "
            "projects it implements, is accountable for or funds"
        )
    changes = data.model_dump(exclude_unset=True)
    if not changes:
        raise Unprocessable("nothing to change: give at least one of title, names, requirements_usd, status, partners")
    if caller.partner_id is not None and (held := sorted(set(changes) - PARTNER_FIELDS)):
        raise Forbidden(
            f"a partner's token changes a project's title and names only; {', '.join(held)} are for a coordinator "
            "(they move money between projects and decide who is accountable)"
        )
    for field in ("title", "names", "requirements_usd"):
        if changes.get(field) is not None:
            setattr(project, field, getattr(data, field))
    if data.status is not None:
        project.status = data.status.value
    if data.partners is not None:
        project.partners = await partners.resolve(session=session, partners=data.partners)
        await index_partners(session=session, project=project)
    updated = outbox.add(
        session,
        ProjectUpdated(
            **project.facts(),
            status=ProjectStatus(project.status).value,
            partners=[PartnerRole(**p) for p in project.partners],
            changed=sorted(changes),
        ),
    )
    if "requirements_usd" in changes or "status" in changes:
        _revise(session, project)
    await session.flush()
    return project, updated


@dataclass(frozen=True)
class ProjectFilter:
    """What the list, and the exports, select by (one place, so an export holds exactly what the list shows)."""

    country: str | None = None
    sector: str | None = None
    appeal: str | None = None
    status: str | None = None
    partner_id: uuid.UUID | None = None

    def apply(self, stmt: Select) -> Select:
        if self.partner_id is not None:
            roles = select(ProjectPartner.project_id).where(ProjectPartner.partner_id == self.partner_id)
            stmt = stmt.where(Project.id.in_(roles))
        for column, value in (
            (Project.country, self.country),
            (Project.sector, self.sector),
            (Project.appeal, self.appeal),
            (Project.status, self.status),
        ):
            if value:
                stmt = stmt.where(column == value)
        return stmt


async def list_(
    *, session: AsyncSession, where: ProjectFilter, cursor: str | None, limit: int
) -> tuple[list[Project], str | None]:
    rows = (await session.execute(keyset(where.apply(select(Project)), Project, cursor=cursor, limit=limit))).scalars()
    return page(rows.all(), limit=limit)


async def all_matching(*, session: AsyncSession, where: ProjectFilter) -> AsyncIterator[list[Project]]:
    """Every project the filter selects, in creation order, a batch at a time (exports: all rows, not a page,
    never all in memory at once)."""
    async for rows in batches(session, where.apply(select(Project)), Project):
        yield [row[0] for row in rows]


async def index_partners(*, session: AsyncSession, project: Project) -> None:
    """Keep `project_partners` equal to the project's roles that reference an account."""
    await session.execute(delete(ProjectPartner).where(ProjectPartner.project_id == project.id))
    for partner_id, role in {(p["partner_id"], p["role"]) for p in project.partners if p.get("partner_id")}:
        session.add(ProjectPartner(project_id=project.id, partner_id=uuid.UUID(partner_id), role=role))


def holds_a_role(project: Project, partner_id: uuid.UUID) -> bool:
    return any(p.get("partner_id") == str(partner_id) for p in project.partners)


async def link_partner(*, session: AsyncSession, partner: PartnerFacts) -> None:
    """Show a partner account's (new) name in every project that names it, and link the roles that named an
    organisation of that name before it had an account."""
    pid = str(partner.partner_id)
    for project in (await session.execute(select(Project))).scalars():
        roles, changed = [], False
        for role in project.partners:
            if role.get("partner_id") == pid or (not role.get("partner_id") and role.get("name") == partner.name):
                role = {**role, "partner_id": pid, "name": partner.name, "names": partner.names}
                changed = True
            roles.append(role)
        if changed:
            project.partners = roles
            await index_partners(session=session, project=project)

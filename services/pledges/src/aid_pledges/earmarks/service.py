"""Earmarks checked against what exists: an appeal, a pillar of it, an open project — as of the last event the
pledges service has seen from the projects service. A country or sector with no project yet stays valid (the
money pools, visibly, until a matching project appears)."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import utcnow
from aid_common.errors import Unprocessable
from aid_contracts.pledges import Earmark
from aid_contracts.projects import AppealFacts, ProjectCreated, ProjectUpdated
from aid_pledges.earmarks.models import KnownAppeal, KnownProject


async def remember_appeal(*, session: AsyncSession, appeal: AppealFacts) -> None:
    known = await session.get(KnownAppeal, appeal.code)
    if known is None:
        known = KnownAppeal(code=appeal.code)
        session.add(known)
    known.pillars, known.seen_at = [p.code for p in appeal.pillars], utcnow()


async def remember_project(*, session: AsyncSession, project: ProjectCreated | ProjectUpdated) -> None:
    known = await session.get(KnownProject, project.project_id)
    if known is None:
        known = KnownProject(id=project.project_id)
        session.add(known)
    known.code, known.status, known.seen_at = project.code, project.status, utcnow()


async def _as_of(session: AsyncSession) -> str:
    maxima = [await session.scalar(select(func.max(m.seen_at))) for m in (KnownProject, KnownAppeal)]
    seen = [t for t in maxima if t is not None]
    when = max(seen).strftime("%Y-%m-%d %H:%M:%S UTC") if seen else "none yet"
    return f"as of the last event seen from the projects service ({when})"


def _refuse(field: str, message: str, detail: str) -> Unprocessable:
    return Unprocessable(detail, errors=[{"location": f"body.earmark.{field}", "message": message}])


async def check(*, session: AsyncSession, earmark: Earmark) -> None:
    """422 naming the field when the earmark names an unknown appeal, an unknown pillar of a known appeal, or an
    unknown or closed project."""
    if earmark.project_id is not None:
        project = await session.get(KnownProject, earmark.project_id)
        if project is None:
            raise _refuse(
                "project_id",
                "unknown project",
                f"earmark.project_id: no project {earmark.project_id} is known {await _as_of(session)}",
            )
        if project.status == "closed":
            raise _refuse(
                "project_id",
                "closed project",
                f"earmark.project_id: project {project.code} ({project.id}) is closed and takes no new money; "
                "earmark its country or sector instead",
            )
    if earmark.appeal is not None:
        appeal = await session.get(KnownAppeal, earmark.appeal)
        if appeal is None:
            codes = sorted((await session.execute(select(KnownAppeal.code))).scalars())
            raise _refuse(
                "appeal",
                "unknown appeal",
                f"earmark.appeal: no appeal {earmark.appeal!r} is known {await _as_of(session)}; "
                f"known appeals: {', '.join(codes) or 'none'}",
            )
        if earmark.pillar is not None and earmark.pillar not in appeal.pillars:
            raise _refuse(
                "pillar",
                "unknown pillar",
                f"earmark.pillar: appeal {appeal.code!r} has no pillar {earmark.pillar!r}; its pillars are "
                f"{', '.join(appeal.pillars)} ({await _as_of(session)})",
            )

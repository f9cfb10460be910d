"""Appeals and their pillars: registration and lookup. Their funding figures are the funding folder's
(`funding.reports`)."""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.errors import Conflict, NotFound, Unprocessable
from aid_contracts.pledges import PlanPublished
from aid_contracts.projects import AppealCreated, AppealUpdated, PillarFacts
from aid_projects.appeals.models import Appeal, AppealCreate, AppealUpdate, Pillar, PlanRequirement


async def create(*, session: AsyncSession, data: AppealCreate) -> Appeal:
    if (await session.execute(select(Appeal.id).where(Appeal.code == data.code))).first() is not None:
        raise Conflict(f"an appeal with code {data.code!r} already exists")
    appeal = Appeal(id=uuid.uuid4(), code=data.code, title=data.title, names=data.names, year=data.year)
    appeal.pillars = [
        Pillar(id=uuid.uuid4(), position=i, **p.model_dump(include={"code", "title", "names", "requirements_usd"}))
        for i, p in enumerate(data.pillars)
    ]
    session.add(appeal)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"an appeal with code {data.code!r} already exists") from exc
    outbox.add(session, AppealCreated(**facts(appeal)))
    return appeal


async def update(*, session: AsyncSession, code: str, data: AppealUpdate) -> Appeal:
    appeal = await get_or_404(session=session, code=code)
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise Unprocessable("nothing to change: give title or names")
    for field, value in changes.items():
        setattr(appeal, field, value)
    await session.flush()
    outbox.add(session, AppealUpdated(**facts(appeal), changed=sorted(changes)))
    return appeal


def facts(appeal: Appeal) -> dict:
    """What every appeal event carries: the pledges service checks earmarks against it."""
    return {
        "code": appeal.code,
        "title": appeal.title,
        "names": appeal.names,
        "year": appeal.year,
        "pillars": [
            PillarFacts(code=p.code, title=p.title, names=p.names, requirements_usd=p.requirements_usd)
            for p in appeal.pillars
        ],
    }


async def get_or_404(*, session: AsyncSession, code: str) -> Appeal:
    appeal = (await session.execute(select(Appeal).where(Appeal.code == code))).scalar_one_or_none()
    if appeal is None:
        raise NotFound(f"no appeal with code {code!r}")
    return appeal


async def check_pillar(*, session: AsyncSession, appeal: str, pillar: str | None, where: str = "body") -> None:
    """A project may name only an appeal and pillar that exist (422 names what does)."""
    found = (await session.execute(select(Appeal).where(Appeal.code == appeal))).scalar_one_or_none()
    if found is None:
        raise Unprocessable(
            f"no appeal with code {appeal!r}", errors=[{"location": f"{where}.appeal", "message": "unknown appeal"}]
        )
    codes = [p.code for p in found.pillars]
    if pillar is not None and pillar not in codes:
        raise Unprocessable(
            f"appeal {appeal!r} has no pillar {pillar!r}; its pillars are {', '.join(codes)}",
            errors=[{"location": f"{where}.pillar", "message": "unknown pillar"}],
        )


async def list_(*, session: AsyncSession, year: int | None) -> list[Appeal]:
    stmt = select(Appeal).order_by(Appeal.year.desc(), Appeal.code)
    if year is not None:
        stmt = stmt.where(Appeal.year == year)
    return list((await session.execute(stmt)).scalars())


async def record_plan(*, session: AsyncSession, plan: PlanPublished) -> Appeal:
    """An FTS plan as an appeal (found by its FTS id, else its code): created when new, with one pillar per plan
    cluster (a cluster first seen later is added); and what the plan requires in `plan.country` — as a whole when
    the table had the plan's row, per cluster for the clusters it listed — replacing what was recorded for those
    rows before. Announced as appeals are."""
    appeal = (
        await session.execute(select(Appeal).where(Appeal.fts_plan_id == plan.fts_plan_id))
    ).scalar_one_or_none() or (
        await session.execute(select(Appeal).where(Appeal.code == plan.code))
    ).scalar_one_or_none()
    created = appeal is None
    if appeal is None:
        appeal = Appeal(id=uuid.uuid4(), code=plan.code, title=plan.name, names={}, year=plan.year, pillars=[])
        session.add(appeal)
    appeal.fts_plan_id, appeal.plan_type = plan.fts_plan_id, plan.plan_type or appeal.plan_type
    known = {p.code for p in appeal.pillars}
    added = [c for c in plan.clusters or [] if c.key not in known]
    for c in added:
        appeal.pillars.append(
            Pillar(
                id=uuid.uuid4(),
                code=c.key,
                title=c.name,
                names={},
                requirements_usd=c.requirements_usd or 0,  # absent in FTS: nothing required of it
                position=len(appeal.pillars),
            )
        )
    await session.flush()
    rows = [(c.key, c.name, c.requirements_usd, c.published_funding_usd) for c in plan.clusters or []]
    if plan.plan_row:
        rows.append(("", plan.name, plan.requirements_usd, plan.published_funding_usd))
    await _put_requirements(session, appeal, plan.country, rows)
    if created:
        outbox.add(session, AppealCreated(**facts(appeal)))
    elif added:
        outbox.add(session, AppealUpdated(**facts(appeal), changed=["pillars"]))
    return appeal


async def _put_requirements(
    session: AsyncSession, appeal: Appeal, country: str, rows: list[tuple[str, str, Decimal | None, Decimal | None]]
) -> None:
    if not rows:
        return
    await session.execute(
        delete(PlanRequirement).where(
            PlanRequirement.appeal_id == appeal.id,
            PlanRequirement.country == country,
            PlanRequirement.cluster.in_([cluster for cluster, *_ in rows]),
        )
    )
    for cluster, name, required, published in rows:
        session.add(
            PlanRequirement(
                appeal_id=appeal.id,
                country=country,
                cluster=cluster,
                cluster_name=name,
                requirements_usd=required,
                published_funding_usd=published,
            )
        )
    await session.flush()

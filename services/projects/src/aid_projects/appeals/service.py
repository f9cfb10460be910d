"""Appeals and their pillars, with funding per pillar: what projects in the pillar hold, plus signed money
earmarked to the pillar (or the appeal) that no project holds yet."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.errors import Conflict, NotFound, Unprocessable
from aid_projects.appeals.models import Appeal, AppealCreate, AppealRead, Pillar, PillarRead
from aid_projects.funding.allocation import ZERO, coverage, usd
from aid_projects.funding.models import AgreementFunds
from aid_projects.projects.models import Project


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
    return appeal


async def get_or_404(*, session: AsyncSession, code: str) -> Appeal:
    appeal = (await session.execute(select(Appeal).where(Appeal.code == code))).scalar_one_or_none()
    if appeal is None:
        raise NotFound(f"no appeal with code {code!r}")
    return appeal


async def check_pillar(*, session: AsyncSession, appeal: str, pillar: str | None) -> None:
    """A project may name only an appeal and pillar that exist (422 names what does)."""
    found = (await session.execute(select(Appeal).where(Appeal.code == appeal))).scalar_one_or_none()
    if found is None:
        raise Unprocessable(
            f"no appeal with code {appeal!r}", errors=[{"location": "body.appeal", "message": "unknown appeal"}]
        )
    codes = [p.code for p in found.pillars]
    if pillar is not None and pillar not in codes:
        raise Unprocessable(
            f"appeal {appeal!r} has no pillar {pillar!r}; its pillars are {', '.join(codes)}",
            errors=[{"location": "body.pillar", "message": "unknown pillar"}],
        )


async def _figures(session: AsyncSession, codes: list[str]) -> tuple[dict, dict]:
    """Project funding and unallocated pool balances per (appeal, pillar); pillar None = appeal-level only."""
    funded: dict[tuple[str, str | None], Decimal] = defaultdict(lambda: ZERO)
    pooled: dict[tuple[str, str | None], Decimal] = defaultdict(lambda: ZERO)
    rows = await session.execute(
        select(Project.appeal, Project.pillar, func.sum(Project.funded_usd))
        .where(Project.appeal.in_(codes))
        .group_by(Project.appeal, Project.pillar)
    )
    for appeal, pillar, total in rows.all():
        funded[(appeal, pillar)] += Decimal(total)
    rows = await session.execute(
        select(AgreementFunds.earmark_appeal, AgreementFunds.earmark_pillar, func.sum(AgreementFunds.pool_usd))
        .where(AgreementFunds.earmark_appeal.in_(codes), AgreementFunds.status == "signed")
        .group_by(AgreementFunds.earmark_appeal, AgreementFunds.earmark_pillar)
    )
    for appeal, pillar, total in rows.all():
        pooled[(appeal, pillar)] += Decimal(total)
    return funded, pooled


async def read_many(*, session: AsyncSession, appeals: list[Appeal]) -> list[AppealRead]:
    funded, pooled = await _figures(session, [a.code for a in appeals])
    out = []
    for appeal in appeals:
        pillars = []
        for p in appeal.pillars:
            f, u = funded[(appeal.code, p.code)], pooled[(appeal.code, p.code)]
            pillars.append(
                PillarRead(
                    code=p.code,
                    title=p.title,
                    names=p.names,
                    requirements_usd=p.requirements_usd,
                    funded_usd=usd(f + u),
                    unallocated_usd=usd(u),
                    coverage=coverage(f + u, p.requirements_usd),
                )
            )
        requirements = sum((p.requirements_usd for p in appeal.pillars), ZERO)
        total_funded = sum((v for (a, _), v in funded.items() if a == appeal.code), ZERO)
        total_pooled = sum((v for (a, _), v in pooled.items() if a == appeal.code), ZERO)
        out.append(
            AppealRead(
                id=appeal.id,
                code=appeal.code,
                title=appeal.title,
                names=appeal.names,
                year=appeal.year,
                requirements_usd=requirements,
                funded_usd=usd(total_funded + total_pooled),
                unallocated_usd=usd(total_pooled),
                coverage=coverage(total_funded + total_pooled, requirements),
                pillars=pillars,
                created_at=appeal.created_at,
            )
        )
    return out


async def read(*, session: AsyncSession, appeal: Appeal) -> AppealRead:
    return (await read_many(session=session, appeals=[appeal]))[0]


async def list_(*, session: AsyncSession, year: int | None) -> list[AppealRead]:
    stmt = select(Appeal).order_by(Appeal.year.desc(), Appeal.code)
    if year is not None:
        stmt = stmt.where(Appeal.year == year)
    return await read_many(session=session, appeals=list((await session.execute(stmt)).scalars()))

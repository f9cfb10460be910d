"""Read-only views of the funding: projects and appeals with their figures, a project's ledger, the pools,
coverage by country, sector, pillar, appeal. The only place these figures are computed."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.pagination import keyset, page
from aid_projects.appeals.models import Appeal, AppealRead, PillarRead
from aid_projects.funding.models import AgreementFunds, CoverageRow, LedgerEntry, PoolRead
from aid_projects.money import ZERO, coverage, usd
from aid_projects.projects.models import Project, ProjectRead


class CoverageBy(StrEnum):
    COUNTRY = "country"
    SECTOR = "sector"
    PILLAR = "pillar"
    APPEAL = "appeal"


async def ledger(
    *, session: AsyncSession, project_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[LedgerEntry], str | None]:
    stmt = select(LedgerEntry).where(LedgerEntry.project_id == project_id)
    rows = (await session.execute(keyset(stmt, LedgerEntry, cursor=cursor, limit=limit))).scalars().all()
    return page(rows, limit=limit)


async def pools(*, session: AsyncSession) -> list[PoolRead]:
    """Unallocated balances by earmark: signed money that no matching active project could take yet."""
    rows = (
        await session.execute(
            select(AgreementFunds).where(AgreementFunds.pool_usd > 0).order_by(AgreementFunds.pool_key)
        )
    ).scalars()
    balances: dict[str, Decimal] = defaultdict(lambda: ZERO)
    counts: dict[str, int] = defaultdict(int)
    earmarks = {}
    for a in rows:
        balances[a.pool_key] += a.pool_usd
        counts[a.pool_key] += 1
        earmarks[a.pool_key] = a.earmark
    return [PoolRead(pool_key=k, earmark=earmarks[k], balance_usd=balances[k], agreements=counts[k]) for k in balances]


async def coverage_by(*, session: AsyncSession, by: CoverageBy) -> list[CoverageRow]:
    if by in (CoverageBy.COUNTRY, CoverageBy.SECTOR):
        column = getattr(Project, by.value)
        rows = await session.execute(
            select(column, func.sum(Project.requirements_usd), func.sum(Project.funded_usd))
            .group_by(column)
            .order_by(column)
        )
        return [
            CoverageRow(
                key=key,
                requirements_usd=usd(req),
                funded_usd=usd(funded),
                coverage=coverage(Decimal(funded), Decimal(req)),
            )
            for key, req, funded in rows.all()
        ]
    all_appeals = list((await session.execute(select(Appeal).order_by(Appeal.code))).scalars())
    out = []
    for appeal in await appeals_read(session=session, appeals=all_appeals):
        if by is CoverageBy.APPEAL:
            out.append(_row(appeal.code, appeal.requirements_usd, appeal.funded_usd))
        else:
            out.extend(_row(f"{appeal.code}/{p.code}", p.requirements_usd, p.funded_usd) for p in appeal.pillars)
    return out


def _row(key: str, requirements: Decimal, funded: Decimal) -> CoverageRow:
    return CoverageRow(
        key=key, requirements_usd=requirements, funded_usd=funded, coverage=coverage(funded, requirements)
    )


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


def _project_read(project: Project, *, pledged: Decimal | None = None) -> ProjectRead:
    return ProjectRead.model_validate(
        {
            **{c: getattr(project, c) for c in ProjectRead.model_fields if hasattr(project, c)},
            "pledged_usd": pledged or ZERO,
            "coverage": coverage(project.funded_usd, project.requirements_usd),
            "overfunded": project.overfunded,
        }
    )


async def projects_read(*, session: AsyncSession, projects: list[Project]) -> list[ProjectRead]:
    pledged = await pledged_usd(session=session, project_ids=[p.id for p in projects])
    return [_project_read(p, pledged=pledged.get(p.id)) for p in projects]


async def project_read(*, session: AsyncSession, project: Project) -> ProjectRead:
    return (await projects_read(session=session, projects=[project]))[0]


async def _appeal_figures(session: AsyncSession, codes: list[str]) -> tuple[dict, dict]:
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


async def appeals_read(*, session: AsyncSession, appeals: list[Appeal]) -> list[AppealRead]:
    funded, pooled = await _appeal_figures(session, [a.code for a in appeals])
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


async def appeal_read(*, session: AsyncSession, appeal: Appeal) -> AppealRead:
    return (await appeals_read(session=session, appeals=[appeal]))[0]

"""Read-only views of the funding: a project's ledger, the pools, coverage by country, sector, pillar, appeal."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.pagination import keyset, page
from aid_projects.appeals import service as appeals
from aid_projects.appeals.models import Appeal
from aid_projects.funding.allocation import ZERO, coverage, usd
from aid_projects.funding.models import AgreementFunds, CoverageRow, LedgerEntry, PoolRead
from aid_projects.projects.models import Project


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
    for appeal in await appeals.read_many(session=session, appeals=all_appeals):
        if by is CoverageBy.APPEAL:
            out.append(_row(appeal.code, appeal.requirements_usd, appeal.funded_usd))
        else:
            out.extend(_row(f"{appeal.code}/{p.code}", p.requirements_usd, p.funded_usd) for p in appeal.pillars)
    return out


def _row(key: str, requirements: Decimal, funded: Decimal) -> CoverageRow:
    return CoverageRow(
        key=key, requirements_usd=requirements, funded_usd=funded, coverage=coverage(funded, requirements)
    )

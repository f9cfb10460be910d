"""Read-only views of the funding: projects and appeals with their figures (now or as of a moment), a
project's ledger, the pools and why they wait, coverage rows. The figures themselves come from `figures`."""

from __future__ import annotations

import uuid
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.errors import NotFound
from aid_common.pagination import keyset, page
from aid_projects.appeals.models import Appeal, AppealRead, PillarRead
from aid_projects.funding import figures
from aid_projects.funding.figures import CoverageBy
from aid_projects.funding.models import (
    AgreementFundingRead,
    AgreementFunds,
    AgreementShareRead,
    CoverageRow,
    LedgerEntry,
    PoolRead,
    Share,
)
from aid_projects.funding.service import earmark_values
from aid_projects.funding.when import NOW, When
from aid_projects.money import ZERO, usd
from aid_projects.projects.models import Project, ProjectRead

__all__ = ["CoverageBy"]


async def ledger(
    *, session: AsyncSession, project_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[LedgerEntry], str | None]:
    stmt = select(LedgerEntry).where(LedgerEntry.project_id == project_id)
    rows = (await session.execute(keyset(stmt, LedgerEntry, cursor=cursor, limit=limit))).scalars().all()
    return page(rows, limit=limit)


def _why(earmark_fields: dict[str, str]) -> str:
    if "project_id" in earmark_fields:
        return "earmarked to a project that is not there to take it"
    place = ", ".join(f"{k} {v}" for k, v in earmark_fields.items()) or "anything"
    return f"no active project matching {place} has a gap left"


async def agreement_funding(*, session: AsyncSession, agreement_id: uuid.UUID) -> AgreementFundingRead:
    """Where one agreement's money is: its share on each project and what waits in its pool."""
    funds = await session.get(AgreementFunds, agreement_id)
    if funds is None:
        raise NotFound(f"no funding known for agreement {agreement_id} (not signed, or its event not seen yet)")
    rows = (
        await session.execute(
            select(Share, Project)
            .join(Project, Project.id == Share.project_id)
            .where(Share.agreement_id == agreement_id, (Share.allocated_usd != 0) | (Share.received_usd != 0))
            .order_by(Share.allocated_usd.desc(), Project.code)
        )
    ).all()
    return AgreementFundingRead(
        agreement_id=agreement_id,
        amount_usd=funds.amount_usd,
        pool_usd=funds.pool_usd,
        pool_received_usd=funds.pool_received_usd,
        shares=[
            AgreementShareRead(
                project_id=project.id,
                code=project.code,
                title=project.title,
                names=project.names or {},
                allocated_usd=share.allocated_usd,
                received_usd=share.received_usd,
            )
            for share, project in rows
        ],
    )


async def pools(*, session: AsyncSession) -> list[PoolRead]:
    """Signed money not yet on any project (and the money received on it), by earmark."""
    rows = (
        await session.execute(
            select(AgreementFunds)
            .where((AgreementFunds.pool_usd != 0) | (AgreementFunds.pool_received_usd != 0))
            .order_by(AgreementFunds.pool_key, AgreementFunds.created_at)
        )
    ).scalars()
    balances: dict[str, Decimal] = defaultdict(lambda: ZERO)
    received: dict[str, Decimal] = defaultdict(lambda: ZERO)
    counts: dict[str, int] = defaultdict(int)
    earmarks = {}
    for a in rows:
        balances[a.pool_key] += a.pool_usd
        received[a.pool_key] += a.pool_received_usd
        counts[a.pool_key] += 1
        earmarks[a.pool_key] = a.earmark
    return [
        PoolRead(
            pool_key=k,
            earmark=earmarks[k],
            balance_usd=balances[k],
            received_usd=received[k],
            agreements=counts[k],
            waiting_because=_why(
                {"project_id": str(earmarks[k].project_id)} if earmarks[k].project_id else earmark_values(earmarks[k])
            ),
        )
        for k in balances
    ]


async def _appeal_pillars(session: AsyncSession, when: When) -> dict[str, list[str]]:
    stmt = select(Appeal).where(*when.recorded(Appeal))
    return {a.code: [p.code for p in a.pillars] for a in (await session.execute(stmt)).scalars()}


async def coverage_by(*, session: AsyncSession, by: CoverageBy, when: When = NOW) -> list[CoverageRow]:
    snapshot = await figures.load(session, when=when)
    return figures.coverage_rows(snapshot, by, await _appeal_pillars(session, when))


async def pledged_usd(*, session: AsyncSession, project_ids: list[uuid.UUID]) -> dict[uuid.UUID, Decimal]:
    """Announced (pledged, not signed) agreements that name each project: shown, never counted as funding."""
    if not project_ids:
        return {}
    rows = await session.execute(
        select(AgreementFunds.earmark_project_id, func.sum(AgreementFunds.amount_usd))
        .where(AgreementFunds.status == "pledged", AgreementFunds.earmark_project_id.in_(project_ids))
        .group_by(AgreementFunds.earmark_project_id)
    )
    return {pid: usd(total) for pid, total in rows.all() if pid is not None}


async def projects_read(*, session: AsyncSession, projects: list[Project], when: When = NOW) -> list[ProjectRead]:
    """Projects with their figures; `known_at` a moment, those recorded by then, with what they needed and their
    status then; `as_of` a day, the money moved by then."""
    ids = [p.id for p in projects]
    snapshot = await figures.load(session, when=when, project_ids=ids)
    pledged = await pledged_usd(session=session, project_ids=ids)
    out = []
    for p in projects:
        if p.id not in snapshot.projects:
            continue  # it did not exist yet
        f = figures.project_figures(snapshot, p.id)
        then = snapshot.projects[p.id]
        fields = {c: getattr(p, c) for c in ProjectRead.model_fields if hasattr(p, c)}
        fields.update(f.model_dump(), status=then.status)
        out.append(
            ProjectRead.model_validate(
                {**fields, "pledged_usd": pledged.get(p.id, ZERO), "overfunded": then.funded > then.requirements}
            )
        )
    return out


async def project_read(*, session: AsyncSession, project: Project, when: When = NOW) -> ProjectRead:
    found = await projects_read(session=session, projects=[project], when=when)
    if not found:
        raise NotFound(f"project {project.id} was not recorded yet at {_moment(when)}")
    return found[0]


async def appeals_read(*, session: AsyncSession, appeals: list[Appeal], when: When = NOW) -> list[AppealRead]:
    snapshot = await figures.load(session, when=when)
    out = []
    for appeal in appeals:
        if when.known_at is not None and appeal.created_at > when.known_at:
            continue
        whole, by_pillar = figures.appeal_rows(snapshot, appeal.code, [p.code for p in appeal.pillars])
        pillars = [
            PillarRead(code=p.code, title=p.title, names=p.names, **by_pillar[p.code].model_dump())
            for p in appeal.pillars
        ]
        out.append(
            AppealRead(
                id=appeal.id,
                code=appeal.code,
                title=appeal.title,
                names=appeal.names,
                year=appeal.year,
                pillars=pillars,
                created_at=appeal.created_at,
                **whole.model_dump(),
            )
        )
    return out


async def appeal_read(*, session: AsyncSession, appeal: Appeal, when: When = NOW) -> AppealRead:
    found = await appeals_read(session=session, appeals=[appeal], when=when)
    if not found:
        raise NotFound(f"appeal {appeal.code} was not recorded yet at {_moment(when)}")
    return found[0]


def _moment(when: When) -> str:
    return when.known_at.isoformat() if when.known_at else "that moment"

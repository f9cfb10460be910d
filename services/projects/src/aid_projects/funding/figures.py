"""Every funding figure of this service, by one rule, now or as of any moment.

The rule, for a row (a project, a country, a sector, an appeal pillar, an appeal, or everything):

- `requirements_usd`: what the projects inside the row need (Σ their requirements); for an appeal and its
  pillars, what the appeal states it needs;
- `funded_usd`: allocations to the projects inside the row — never pools;
- `unmet_usd`: requirements − Σ min(funded, requirements) over the projects inside, never below 0 — so one
  over-funded project does not hide another's gap (for a country or a sector this is Σ max(req − funded, 0));
- `overfunded_usd`: Σ max(funded − requirements, 0) over the projects inside (money a donor earmarked to a
  project beyond its needs);
- `unallocated_usd`: the pools whose earmark lies inside the row (an appeal's pool in the appeal's row, a
  country pool in the country's row, a project's own pool in that project's rows);
- `received_usd`: money received, the projects' and the pools' inside the row;
- `coverage` = funded / requirements.

A snapshot is read from the append-only tables (ledger entries, pool entries, received entries, project
revisions) for a `When` — money moved by a day, as recorded by a moment — or from the current totals when
neither is asked: the same rows either way.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import func, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from aid_contracts.pledges import Earmark
from aid_projects.appeals.models import Appeal
from aid_projects.funding.models import AgreementFunds, CoverageRow, LedgerEntry, PoolEntry, ReceivedEntry
from aid_projects.funding.when import NOW, When
from aid_projects.money import ZERO, Figures, coverage, usd
from aid_projects.projects.models import Project, ProjectRevision


class CoverageBy(StrEnum):
    COUNTRY = "country"
    SECTOR = "sector"
    PILLAR = "pillar"
    APPEAL = "appeal"
    ALL = "all"


@dataclass(frozen=True)
class ProjectFigures:
    id: uuid.UUID
    country: str
    sector: str
    appeal: str | None
    pillar: str | None
    status: str
    requirements: Decimal
    funded: Decimal
    received: Decimal


@dataclass(frozen=True)
class PoolFigures:
    agreement_id: uuid.UUID
    pool_key: str
    earmark: Earmark
    balance: Decimal
    received: Decimal


@dataclass
class Snapshot:
    projects: dict[uuid.UUID, ProjectFigures] = field(default_factory=dict)
    pools: list[PoolFigures] = field(default_factory=list)
    # What each appeal states it needs, per pillar: {(appeal, pillar): requirements}.
    stated: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def pool_place(self, pool: PoolFigures) -> dict[str, str | None]:
        """Where a pool's earmark lies: its own fields, or, for a project earmark, the project's."""
        e = pool.earmark
        if e.project_id is not None:
            p = self.projects.get(e.project_id)
            if p is None:
                return {"project": str(e.project_id)}
            return {
                "project": str(p.id),
                "country": p.country,
                "sector": p.sector,
                "appeal": p.appeal,
                "pillar": p.pillar,
            }
        return {
            "country": e.country,
            "sector": e.sector.value if e.sector else None,
            "appeal": e.appeal,
            "pillar": e.pillar,
        }


def figures(
    projects: Iterable[ProjectFigures], pools: Iterable[PoolFigures], *, requirements: Decimal | None = None
) -> Figures:
    """The rule above, for the projects and pools inside one row."""
    projects = list(projects)
    needed = sum((p.requirements for p in projects), ZERO) if requirements is None else requirements
    funded = sum((p.funded for p in projects), ZERO)
    met = sum((min(p.funded, p.requirements) for p in projects), ZERO)
    pools = list(pools)
    return Figures(
        requirements_usd=usd(needed),
        funded_usd=usd(funded),
        unmet_usd=usd(max(needed - met, ZERO)),
        overfunded_usd=usd(sum((max(p.funded - p.requirements, ZERO) for p in projects), ZERO)),
        unallocated_usd=usd(sum((q.balance for q in pools), ZERO)),
        received_usd=usd(sum((p.received for p in projects), ZERO) + sum((q.received for q in pools), ZERO)),
        coverage=coverage(funded, needed),
    )


def project_figures(snapshot: Snapshot, project_id: uuid.UUID) -> Figures:
    own = [q for q in snapshot.pools if q.earmark.project_id == project_id]
    return figures([snapshot.projects[project_id]], own)


def _grouped(snapshot: Snapshot, key: Callable[[dict[str, str | None]], str | None]) -> dict[str, Figures]:
    projects: dict[str, list[ProjectFigures]] = defaultdict(list)
    pools: dict[str, list[PoolFigures]] = defaultdict(list)
    for p in snapshot.projects.values():
        k = key({"country": p.country, "sector": p.sector, "appeal": p.appeal, "pillar": p.pillar})
        if k is not None:
            projects[k].append(p)
    for q in snapshot.pools:
        k = key(snapshot.pool_place(q))
        if k is not None:
            pools[k].append(q)
    return {k: figures(projects[k], pools[k]) for k in sorted({*projects, *pools})}


def appeal_rows(snapshot: Snapshot, appeal: str, pillars: list[str]) -> tuple[Figures, dict[str, Figures]]:
    """The appeal's row and one per pillar, against what the appeal states it needs."""
    inside = [p for p in snapshot.projects.values() if p.appeal == appeal]
    places = [(q, snapshot.pool_place(q)) for q in snapshot.pools]
    by_pillar = {
        code: figures(
            [p for p in inside if p.pillar == code],
            [q for q, place in places if place.get("appeal") == appeal and place.get("pillar") == code],
            requirements=snapshot.stated.get((appeal, code), ZERO),
        )
        for code in pillars
    }
    whole = figures(
        inside,
        [q for q, place in places if place.get("appeal") == appeal],
        requirements=sum((snapshot.stated.get((appeal, c), ZERO) for c in pillars), ZERO),
    )
    return whole, by_pillar


def coverage_rows(snapshot: Snapshot, by: CoverageBy, appeals: dict[str, list[str]]) -> list[CoverageRow]:
    """Rows grouped by country or sector (over projects and pools), by appeal or pillar (against the appeals'
    stated requirements), or one row for everything. `appeals`: each appeal's pillar codes, in order."""
    if by is CoverageBy.ALL:
        return [CoverageRow(key="all", **figures(snapshot.projects.values(), snapshot.pools).model_dump())]
    if by in (CoverageBy.COUNTRY, CoverageBy.SECTOR):
        grouped = _grouped(snapshot, lambda place: place.get(by.value))
        return [CoverageRow(key=k, **f.model_dump()) for k, f in grouped.items()]
    rows = []
    for code, pillars in sorted(appeals.items()):
        whole, by_pillar = appeal_rows(snapshot, code, pillars)
        if by is CoverageBy.APPEAL:
            rows.append(CoverageRow(key=code, **whole.model_dump()))
        else:
            rows.extend(CoverageRow(key=f"{code}/{p}", **f.model_dump()) for p, f in by_pillar.items())
    return rows


async def load(session: AsyncSession, *, when: When = NOW, project_ids: list[uuid.UUID] | None = None) -> Snapshot:
    """Every project and pool with its figures: now (the running totals), or for `when` (money moved by `as_of`,
    as recorded by `known_at`). With `project_ids`, only those projects and the pools earmarked to them."""
    snapshot = Snapshot()
    for appeal in (await session.execute(select(Appeal).where(*when.recorded(Appeal)))).scalars():
        for pillar in appeal.pillars:
            snapshot.stated[(appeal.code, pillar.code)] = pillar.requirements_usd
    if when.now:
        await _load_now(session, snapshot, project_ids)
    else:
        await _load_at(session, snapshot, when, project_ids)
    return snapshot


def _only(project_ids: list[uuid.UUID] | None, column, pool_column=None):
    """A filter to the given projects (None: everything)."""
    if project_ids is None:
        return true()
    return column.in_(project_ids) if pool_column is None else pool_column.in_(project_ids)


async def _load_now(session: AsyncSession, snapshot: Snapshot, project_ids: list[uuid.UUID] | None) -> None:
    for p in (await session.execute(select(Project).where(_only(project_ids, Project.id)))).scalars():
        snapshot.projects[p.id] = ProjectFigures(
            p.id, p.country, p.sector, p.appeal, p.pillar, p.status, p.requirements_usd, p.funded_usd, p.received_usd
        )
    rows = await session.execute(
        select(AgreementFunds).where(
            (AgreementFunds.pool_usd != 0) | (AgreementFunds.pool_received_usd != 0),
            _only(project_ids, AgreementFunds.earmark_project_id),
        )
    )
    for a in rows.scalars():
        snapshot.pools.append(PoolFigures(a.agreement_id, a.pool_key, a.earmark, a.pool_usd, a.pool_received_usd))


async def _sums(session: AsyncSession, column, model, when: When, *where) -> dict:
    rows = await session.execute(
        select(column, func.sum(model.amount_usd)).where(*when.entries(model), *where).group_by(column)
    )
    return {k: usd(v) for k, v in rows.all()}


async def _structure(
    session: AsyncSession, when: When, project_ids: list[uuid.UUID] | None
) -> list[tuple[Project, str, Decimal]]:
    """Each project with its status and requirements: as recorded by `known_at` (those that existed then), or
    as they are now."""
    if when.known_at is None:
        now = await session.execute(select(Project).where(_only(project_ids, Project.id)))
        return [(p, p.status, p.requirements_usd) for p in now.scalars()]
    latest = (
        select(ProjectRevision.project_id, func.max(ProjectRevision.created_at).label("at"))
        .where(*when.recorded(ProjectRevision), _only(project_ids, ProjectRevision.project_id))
        .group_by(ProjectRevision.project_id)
        .subquery()
    )
    revisions = await session.execute(
        select(Project, ProjectRevision)
        .join(latest, latest.c.project_id == Project.id)
        .join(
            ProjectRevision,
            (ProjectRevision.project_id == latest.c.project_id) & (ProjectRevision.created_at == latest.c.at),
        )
    )
    return [(p, rev.status, rev.requirements_usd) for p, rev in revisions.all()]


async def _load_at(session: AsyncSession, snapshot: Snapshot, when: When, project_ids: list[uuid.UUID] | None) -> None:
    funded = await _sums(session, LedgerEntry.project_id, LedgerEntry, when)
    received = await _sums(
        session, ReceivedEntry.project_id, ReceivedEntry, when, ReceivedEntry.project_id.is_not(None)
    )
    for p, status, requirements in await _structure(session, when, project_ids):
        snapshot.projects[p.id] = ProjectFigures(
            p.id, p.country, p.sector, p.appeal, p.pillar, status, requirements,
            funded.get(p.id, ZERO), received.get(p.id, ZERO),
        )  # fmt: skip
    balances = await _sums(session, PoolEntry.agreement_id, PoolEntry, when)
    pool_received = await _sums(
        session, ReceivedEntry.agreement_id, ReceivedEntry, when, ReceivedEntry.project_id.is_(None)
    )
    ids = [i for i in {*balances, *pool_received} if balances.get(i, ZERO) or pool_received.get(i, ZERO)]
    if ids:
        stmt = select(AgreementFunds).where(
            AgreementFunds.agreement_id.in_(ids), _only(project_ids, AgreementFunds.earmark_project_id)
        )
        for a in (await session.execute(stmt)).scalars():
            snapshot.pools.append(
                PoolFigures(
                    a.agreement_id,
                    a.pool_key,
                    a.earmark,
                    balances.get(a.agreement_id, ZERO),
                    pool_received.get(a.agreement_id, ZERO),
                )
            )

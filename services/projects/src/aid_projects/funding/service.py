"""Funding rules on the database: allocate, reverse, return excess and fill gaps, writing ledger entries and
events.

Every function here runs inside the caller's transaction and first takes the ledger locks of what it can touch
(`aid_projects.locks`): writers over the same projects or pools take turns instead of both spending the same gap
or pool balance; writers over disjoint earmarks do not wait for each other.

The rules: money for a project goes to it; looser money is split across the matching active projects by
their gaps, the rest waits in its pool. Whenever a gap opens (a project is created, activated or needs more;
an agreement it held is cancelled or amended down) `fill_gap` draws matching pools at once — the tightest
earmark first, then the oldest agreement. Money allocated by gap follows the gap: when a project needs less
than such money gave it, the excess goes back to its pools, which other matching projects then draw. Money
earmarked to the project itself stays (the donor chose it) and shows as over-funding.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.db import kept, utcnow
from aid_common.errors import Unprocessable
from aid_common.events import CloudEvent
from aid_contracts.pledges import AgreementFacts, DisbursementReceived, Earmark
from aid_contracts.projects import PoolUpdated, ProjectFullyFunded, ProjectFundingUpdated
from aid_projects import locks
from aid_projects.appeals import service as appeals
from aid_projects.funding import reads
from aid_projects.funding.allocation import Plan, plan_agreement, plan_draw, split_by_weight
from aid_projects.funding.dates import day_of
from aid_projects.funding.models import (
    AgreementFunds,
    AllocationPreview,
    EntryKind,
    LedgerEntry,
    PoolEntry,
    PreviewLine,
    ReceivedEntry,
    Share,
)
from aid_projects.funding.plan_rows import brings_money
from aid_projects.money import ZERO, coverage, usd
from aid_projects.projects.models import Project, ProjectStatus

EARMARK_FIELDS = ("country", "sector", "appeal", "pillar")


def pool_key(earmark: Earmark) -> str:
    """A stable, readable name for an earmark's pool, e.g. `country=SY;sector=health` or `unearmarked`."""
    if earmark.project_id:
        return f"project={earmark.project_id}"
    parts = [f"{f}={getattr(earmark, f)}" for f in EARMARK_FIELDS if getattr(earmark, f)]
    return ";".join(parts) or "unearmarked"


def earmark_values(earmark: Earmark) -> dict[str, str]:
    return {f: str(getattr(earmark, f)) for f in EARMARK_FIELDS if getattr(earmark, f)}


async def matching_active_projects(*, session: AsyncSession, earmark: Earmark, locked: bool = False) -> list[Project]:
    """The active projects an earmark matches, oldest first. With `locked` (the caller holds the ledger lock of the
    earmark's scope) the answer is kept for the rest of the transaction: under that lock no project of the scope
    can be created, closed or moved, and the objects are the session's own, so their figures stay current — a
    consumer batch of agreements on one earmark reads it once, not once per agreement."""
    values = earmark_values(earmark)
    cache = kept(session, "projects.matching")
    key = tuple(sorted(values.items()))
    if locked and key in cache:
        return cache[key]
    stmt = select(Project).where(Project.status == ProjectStatus.ACTIVE.value)
    for name, value in values.items():
        stmt = stmt.where(getattr(Project, name) == value)
    projects = list((await session.execute(stmt.order_by(Project.created_at, Project.id))).scalars())
    if locked:
        cache[key] = projects
    return projects


@dataclass
class Proposal:
    """What giving `target` USD on an earmark would do, and the projects it touches (kept referenced: the
    session's identity map holds unchanged rows only weakly)."""

    plan: Plan[uuid.UUID]
    projects: dict[uuid.UUID, Project]


async def propose(
    session: AsyncSession,
    *,
    earmark: Earmark,
    target: Decimal,
    held: dict[uuid.UUID, Decimal],
    pool: Decimal,
    locked: bool = False,
) -> Proposal:
    """The one planner for real allocations and for previews: bring an agreement holding `held` per project
    and `pool` to `target` USD. Reads, never writes. `locked`: the caller holds the earmark's ledger lock."""
    projects: dict[uuid.UUID, Project] = {}
    named = gaps = None
    if target > sum(held.values(), ZERO) + pool:
        if earmark.project_id:
            project = await session.get(Project, earmark.project_id)
            if project is not None:
                named, projects[project.id] = project.id, project
        else:
            projects = {
                p.id: p for p in await matching_active_projects(session=session, earmark=earmark, locked=locked)
            }
            gaps = {pid: p.gap_usd for pid, p in projects.items()}
    return Proposal(plan_agreement(target=target, shares=held, pool=pool, named=named, gaps=gaps), projects)


async def _upsert_agreement(session: AsyncSession, facts: AgreementFacts) -> tuple[AgreementFunds, bool]:
    """The agreement's row, and whether it is new (then it holds nothing yet)."""
    row = await reads.agreement(session=session, agreement_id=facts.agreement_id)
    e = facts.earmark
    created = row is None
    if row is None:
        row = AgreementFunds(
            agreement_id=facts.agreement_id,
            pool_key=pool_key(e),
            pool_usd=ZERO,
            pool_received_usd=ZERO,
            received_usd=ZERO,
            earmark_project_id=e.project_id,
            earmark_country=e.country,
            earmark_sector=e.sector.value if e.sector else None,
            earmark_appeal=e.appeal,
            earmark_pillar=e.pillar,
        )
        session.add(row)
        reads.agreement_created(session=session, row=row)
    row.reference, row.status, row.amount_usd = facts.reference, facts.status, facts.amount_usd
    row.donor = facts.donor.model_dump(mode="json")
    return row, created


async def apply_agreement(*, session: AsyncSession, facts: AgreementFacts, event: CloudEvent) -> None:
    """Bring the agreement's allocations to what its status says: all of its USD amount when signed, nothing
    when pledged or cancelled. Works from state, not from deltas, so an amendment or cancellation arriving
    for an agreement this service has not seen signed still ends right. Gaps it frees are filled at once."""
    await locks.take(session, await reads.scope_of(session=session, earmark=facts.earmark))
    agreement, _ = await _upsert_agreement(session, facts)
    target = facts.amount_usd if facts.status == "signed" and brings_money(facts.route) else ZERO
    shares = await reads.shares_of(session=session, agreement_id=agreement.agreement_id)
    proposal = await propose(
        session,
        earmark=facts.earmark,
        target=target,
        held={pid: s.allocated_usd for pid, s in shares.items()},
        pool=agreement.pool_usd,
        locked=True,
    )
    freed: list[Project] = []
    for project_id, amount in proposal.plan.projects.items():
        project = proposal.projects.get(project_id) or await session.get(Project, project_id)
        assert project is not None
        share = shares.get(project_id) or await reads.new_share(
            session=session, agreement_id=agreement.agreement_id, project_id=project_id
        )
        record_entry(session=session, project=project, share=share, amount=amount, cause=event)
        if amount < 0:
            freed.append(project)
    on = day_of(event)
    if proposal.plan.pool:
        await _move_pool(session, agreement, proposal.plan.pool, on=on)
    if agreement.received_usd > 0:  # money already received follows the new shares
        await _spread_received(session, agreement, on=on)
    for project in freed:
        await fill_gap(session=session, project=project, cause=event)


def record_entry(*, session: AsyncSession, project: Project, share: Share, amount: Decimal, cause: CloudEvent) -> None:
    """One ledger entry, the project's and the share's totals, and the events that tell the world."""
    kind = EntryKind.ALLOCATION if amount > 0 else EntryKind.REVERSAL
    session.add(
        LedgerEntry(
            id=uuid.uuid4(),
            project_id=project.id,
            agreement_id=share.agreement_id,
            kind=kind.value,
            amount_usd=amount,
            event_id=cause.id,
            correlation_id=cause.correlationid,
            effective_on=day_of(cause),
        )
    )
    share.allocated_usd += amount
    project.funded_usd += amount
    facts = project.facts()
    outbox.add(
        session,
        ProjectFundingUpdated(
            **facts,
            kind=kind.value,
            delta_usd=amount,
            funded_usd=project.funded_usd,
            coverage=coverage(project.funded_usd, project.requirements_usd),
            overfunded=project.overfunded,
            agreement_id=share.agreement_id,
            cause_event_id=cause.id,
            correlation_id=cause.correlationid,
        ),
    )
    if project.fully_funded_at is None and project.funded_usd >= project.requirements_usd:
        project.fully_funded_at = utcnow()
        outbox.add(
            session,
            ProjectFullyFunded(
                **facts,
                funded_usd=project.funded_usd,
                coverage=coverage(project.funded_usd, project.requirements_usd),
                agreement_id=share.agreement_id,
            ),
        )


async def _move_pool(session: AsyncSession, agreement: AgreementFunds, delta: Decimal, *, on: dt.date) -> None:
    agreement.pool_usd += delta
    session.add(PoolEntry(id=uuid.uuid4(), agreement_id=agreement.agreement_id, amount_usd=delta, effective_on=on))
    balance = await reads.pool_moved(session=session, agreement=agreement, delta=delta)
    outbox.add(
        session,
        PoolUpdated(
            pool_key=agreement.pool_key,
            earmark=agreement.earmark,
            agreement_id=agreement.agreement_id,
            delta_usd=delta,
            balance_usd=usd(balance),
        ),
    )


async def _spread_received(session: AsyncSession, agreement: AgreementFunds, *, on: dt.date) -> None:
    """Attribute the money received on an agreement to its projects in proportion to what each holds of it;
    the pool's part waits in the pool (and is shown there) until a project draws it."""
    shares = await reads.shares_of(session=session, agreement_id=agreement.agreement_id)
    weights: dict[uuid.UUID | None, Decimal] = {pid: s.allocated_usd for pid, s in shares.items()}
    weights[None] = agreement.pool_usd
    total = min(agreement.received_usd, sum((w for w in weights.values() if w > 0), ZERO))
    parts = split_by_weight(total, weights) if total > 0 else {}
    deltas = {pid: parts.get(pid, ZERO) - s.received_usd for pid, s in shares.items()}
    deltas = {pid: delta for pid, delta in deltas.items() if delta}
    if not deltas:
        return await _pool_received(session, agreement, shares, on)
    # A pool drawn across countries spreads to projects in other countries than the writer's scope: their rows
    # are locked and read afresh before their totals move (once: locked, they stay as this transaction leaves them).
    locked = kept(session, "projects.row_locked")
    if fresh := sorted(deltas.keys() - locked.keys()):
        changed = select(Project).where(Project.id.in_(fresh)).order_by(Project.id).with_for_update()
        for project in (await session.execute(changed.execution_options(populate_existing=True))).scalars():
            locked[project.id] = project
    for project in (locked[pid] for pid in sorted(deltas) if pid in locked):
        delta = deltas[project.id]
        project.received_usd += delta
        shares[project.id].received_usd += delta
        session.add(_received(agreement, project.id, delta, on))
    await _pool_received(session, agreement, shares, on)


async def _pool_received(
    session: AsyncSession, agreement: AgreementFunds, shares: dict[uuid.UUID, Share], on: dt.date
) -> None:
    pooled = agreement.received_usd - sum((s.received_usd for s in shares.values()), ZERO)
    if pooled != agreement.pool_received_usd:
        session.add(_received(agreement, None, pooled - agreement.pool_received_usd, on))
        agreement.pool_received_usd = pooled


def _received(agreement: AgreementFunds, project_id: uuid.UUID | None, delta: Decimal, on: dt.date) -> ReceivedEntry:
    return ReceivedEntry(
        id=uuid.uuid4(), agreement_id=agreement.agreement_id, project_id=project_id, amount_usd=delta, effective_on=on
    )


async def apply_disbursement(*, session: AsyncSession, payload: DisbursementReceived) -> None:
    # Money received follows the agreement's shares: the scope of its earmark.
    await locks.take(session, await reads.scope_of_agreement(session=session, agreement_id=payload.agreement_id))
    agreement = await reads.agreement(session=session, agreement_id=payload.agreement_id)
    if agreement is None:
        return  # never seen signed: there is nothing to attribute the money to
    agreement.received_usd = max(agreement.received_usd, payload.disbursed_usd_total)
    await _spread_received(session, agreement, on=payload.received_on)


async def project_changed(*, session: AsyncSession, project: Project, cause: CloudEvent) -> None:
    """After a project is created or changed: money allocated by gap beyond what it now needs goes back to its
    pools (and on to other matching projects), and a gap it has is filled from matching pools."""
    await locks.take(session, locks.country(project.country))
    await _return_excess(session, project=project, cause=cause)
    await fill_gap(session=session, project=project, cause=cause)


async def _return_excess(session: AsyncSession, *, project: Project, cause: CloudEvent) -> None:
    excess = project.funded_usd - project.requirements_usd
    if excess <= 0:
        return
    rows = await session.execute(
        select(Share, AgreementFunds)
        .join(AgreementFunds, AgreementFunds.agreement_id == Share.agreement_id)
        .where(Share.project_id == project.id, Share.allocated_usd > 0, AgreementFunds.earmark_project_id.is_(None))
        .order_by(AgreementFunds.created_at.desc())
    )
    loose = {a.agreement_id: (share, a) for share, a in rows.all()}
    weights = {aid: share.allocated_usd for aid, (share, _) in loose.items()}
    take = min(excess, sum(weights.values(), ZERO))
    if take <= 0:
        return  # all it holds beyond its needs was earmarked to it: over-funded, by the donor's choice
    # Returned money may go to projects anywhere. A change of requirements took the spanning scope already;
    # otherwise (money beyond the need found under a country scope) widen it now.
    await locks.take(session, locks.SPANNING)
    back, on = split_by_weight(take, weights), day_of(cause)
    for agreement_id, amount in back.items():
        share, agreement = loose[agreement_id]
        record_entry(session=session, project=project, share=share, amount=-amount, cause=cause)
        await _move_pool(session, agreement, amount, on=on)
        if agreement.received_usd > 0:
            await _spread_received(session, agreement, on=on)
    takers: dict[uuid.UUID, Project] = {}
    for agreement_id in back:
        for p in await matching_active_projects(session=session, earmark=loose[agreement_id][1].earmark):
            if p.id != project.id and p.gap_usd > 0:
                takers.setdefault(p.id, p)
    for p in sorted(takers.values(), key=lambda p: (p.created_at, p.id)):
        await fill_gap(session=session, project=p, cause=cause)


async def fill_gap(*, session: AsyncSession, project: Project, cause: CloudEvent) -> None:
    """The only way pools are drawn: a project that is active and has a gap takes unallocated balances whose
    earmark it matches — the tightest earmark first, then the oldest agreement. Pools whose earmark names no
    country are drawn by writers of other countries too: the candidates are row-locked and read afresh."""
    await locks.take(session, locks.country(project.country))
    if project.status != ProjectStatus.ACTIVE.value or project.gap_usd <= 0:
        return
    stmt = select(AgreementFunds).where(
        AgreementFunds.status == "signed",
        AgreementFunds.pool_usd > 0,
        AgreementFunds.earmark_project_id.is_(None),
    )
    for name in EARMARK_FIELDS:
        column = getattr(AgreementFunds, f"earmark_{name}")
        stmt = stmt.where(or_(column.is_(None), column == getattr(project, name)))
    stmt = stmt.order_by(AgreementFunds.created_at, AgreementFunds.agreement_id).with_for_update()
    candidates = list((await session.execute(stmt.execution_options(populate_existing=True))).scalars())
    candidates.sort(key=lambda a: -len(earmark_values(a.earmark)))  # stable: oldest first within a level
    by_id = {a.agreement_id: a for a in candidates}
    draws = plan_draw(project.gap_usd, [(a.agreement_id, a.pool_usd) for a in candidates])
    on = day_of(cause)
    for agreement_id, amount in draws.items():
        agreement = by_id[agreement_id]
        shares = await reads.shares_of(session=session, agreement_id=agreement_id)
        share = shares.get(project.id) or await reads.new_share(
            session=session, agreement_id=agreement_id, project_id=project.id
        )
        record_entry(session=session, project=project, share=share, amount=amount, cause=cause)
        await _move_pool(session, agreement, -amount, on=on)
        if agreement.received_usd > 0:
            await _spread_received(session, agreement, on=on)


async def preview(*, session: AsyncSession, amount_usd: Decimal, earmark: Earmark) -> AllocationPreview:
    """What signing `amount_usd` on `earmark` would allocate now: `propose`, the planner the real allocation
    uses, on a new agreement that holds nothing. Writes nothing."""
    await _check_earmark(session, earmark)
    proposal = await propose(session, earmark=earmark, target=amount_usd, held={}, pool=ZERO)
    lines = []
    for project_id, amount in proposal.plan.projects.items():
        p = proposal.projects[project_id]
        lines.append(
            PreviewLine(
                project_id=p.id,
                code=p.code,
                amount_usd=amount,
                gap_before_usd=p.gap_usd,
                gap_after_usd=max(p.gap_usd - amount, ZERO),
                fully_funded=p.funded_usd < p.requirements_usd <= p.funded_usd + amount,
            )
        )
    return AllocationPreview(projects=lines, pool_usd=proposal.plan.pool)


async def _check_earmark(session: AsyncSession, earmark: Earmark) -> None:
    if earmark.project_id is not None:
        if await session.get(Project, earmark.project_id) is None:
            raise Unprocessable(
                f"no project with id {earmark.project_id}",
                errors=[{"location": "body.earmark.project_id", "message": "unknown project"}],
            )
    elif earmark.appeal is not None:
        await appeals.check_pillar(session=session, appeal=earmark.appeal, pillar=earmark.pillar, where="body.earmark")

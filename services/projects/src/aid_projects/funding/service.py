"""Funding rules on the database: allocate, reverse and draw, writing ledger entries and events.

Every function here runs inside the caller's transaction after `lock_ledger`: allocations read gaps and pool
balances and write them back, so two writers at once (two consumer replicas, an API call creating a project)
take turns instead of both spending the same gap or the same pool balance.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.db import utcnow
from aid_common.events import CloudEvent
from aid_contracts.pledges import AgreementFacts, DisbursementReceived, Earmark
from aid_contracts.projects import PoolUpdated, ProjectFullyFunded, ProjectFundingUpdated
from aid_projects.funding.allocation import plan_agreement, plan_draw, split_by_weight
from aid_projects.funding.models import AgreementFunds, EntryKind, LedgerEntry, Share
from aid_projects.locks import lock_ledger
from aid_projects.money import ZERO, coverage, usd
from aid_projects.projects.models import Project, ProjectStatus

EARMARK_FIELDS = ("country", "sector", "appeal", "pillar")


def pool_key(earmark: Earmark) -> str:
    """A stable, readable name for an earmark's pool, e.g. `country=SY;sector=health` or `unearmarked`."""
    if earmark.project_id:
        return f"project={earmark.project_id}"
    parts = [f"{f}={getattr(earmark, f)}" for f in EARMARK_FIELDS if getattr(earmark, f)]
    return ";".join(parts) or "unearmarked"


def _earmark_values(earmark: Earmark) -> dict[str, str]:
    return {f: str(getattr(earmark, f)) for f in EARMARK_FIELDS if getattr(earmark, f)}


async def _matching_active_projects(session: AsyncSession, earmark: Earmark) -> list[Project]:
    stmt = select(Project).where(Project.status == ProjectStatus.ACTIVE.value)
    for name, value in _earmark_values(earmark).items():
        stmt = stmt.where(getattr(Project, name) == value)
    return list((await session.execute(stmt.order_by(Project.created_at, Project.id))).scalars())


async def _upsert_agreement(session: AsyncSession, facts: AgreementFacts) -> tuple[AgreementFunds, bool]:
    """The agreement's row, and whether it is new (then it holds nothing yet)."""
    row = await session.get(AgreementFunds, facts.agreement_id)
    e = facts.earmark
    created = row is None
    if row is None:
        row = AgreementFunds(
            agreement_id=facts.agreement_id,
            pool_key=pool_key(e),
            pool_usd=ZERO,
            received_usd=ZERO,
            earmark_project_id=e.project_id,
            earmark_country=e.country,
            earmark_sector=e.sector.value if e.sector else None,
            earmark_appeal=e.appeal,
            earmark_pillar=e.pillar,
        )
        session.add(row)
    row.reference, row.status, row.amount_usd = facts.reference, facts.status, facts.amount_usd
    row.donor = facts.donor.model_dump(mode="json")
    return row, created


async def _shares(session: AsyncSession, agreement_id: uuid.UUID) -> dict[uuid.UUID, Share]:
    rows = await session.execute(select(Share).where(Share.agreement_id == agreement_id))
    return {s.project_id: s for s in rows.scalars()}


async def apply_agreement(session: AsyncSession, *, facts: AgreementFacts, event: CloudEvent) -> None:
    """Bring the agreement's allocations to what its status says: all of its USD amount when signed, nothing
    when pledged or cancelled. Works from state, not from deltas, so an amendment or cancellation arriving
    for an agreement this service has not seen signed still ends right."""
    await lock_ledger(session)
    agreement, created = await _upsert_agreement(session, facts)
    target = facts.amount_usd if facts.status == "signed" else ZERO
    shares = {} if created else await _shares(session, agreement.agreement_id)
    held = {pid: s.allocated_usd for pid, s in shares.items()}
    named = gaps = None
    # Held here for the whole function: the session's identity map keeps unchanged rows only weakly.
    projects: dict[uuid.UUID, Project] = {}
    held_before = sum(held.values(), ZERO) + agreement.pool_usd
    if target > held_before:
        if facts.earmark.project_id:
            project = await session.get(Project, facts.earmark.project_id)
            if project is not None:
                named, projects[project.id] = project.id, project
        else:
            projects = {p.id: p for p in await _matching_active_projects(session, facts.earmark)}
            gaps = {pid: p.gap_usd for pid, p in projects.items()}
    plan = plan_agreement(target=target, shares=held, pool=agreement.pool_usd, named=named, gaps=gaps)
    for project_id, amount in plan.projects.items():
        project = projects.get(project_id) or await session.get(Project, project_id)
        assert project is not None
        share = shares.get(project_id) or _new_share(session, agreement.agreement_id, project_id)
        record_entry(session, project=project, share=share, amount=amount, cause=event)
    if plan.pool:
        await _move_pool(session, agreement, plan.pool)
    if agreement.received_usd > 0:  # money already received follows the new shares
        await _spread_received(session, agreement, agreement.received_usd)


def _new_share(session: AsyncSession, agreement_id: uuid.UUID, project_id: uuid.UUID) -> Share:
    share = Share(agreement_id=agreement_id, project_id=project_id, allocated_usd=ZERO, received_usd=ZERO)
    session.add(share)
    return share


def record_entry(session: AsyncSession, *, project: Project, share: Share, amount: Decimal, cause: CloudEvent) -> None:
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


async def _move_pool(session: AsyncSession, agreement: AgreementFunds, delta: Decimal) -> None:
    agreement.pool_usd += delta
    await session.flush()
    balance = await session.scalar(
        select(func.coalesce(func.sum(AgreementFunds.pool_usd), 0)).where(AgreementFunds.pool_key == agreement.pool_key)
    )
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


async def _spread_received(session: AsyncSession, agreement: AgreementFunds, total: Decimal) -> None:
    """Attribute the money received on an agreement to its projects in proportion to what each holds of it
    (the pool's part stays unattributed until a project draws it)."""
    shares = await _shares(session, agreement.agreement_id)
    weights: dict[uuid.UUID | None, Decimal] = {pid: s.allocated_usd for pid, s in shares.items()}
    weights[None] = agreement.pool_usd
    total = min(total, sum((w for w in weights.values() if w > 0), ZERO))
    parts = split_by_weight(total, weights) if total > 0 else {}
    for project_id, share in shares.items():
        new = parts.get(project_id, ZERO)
        if new != share.received_usd:
            project = await session.get(Project, project_id)
            assert project is not None
            project.received_usd += new - share.received_usd
            share.received_usd = new


async def apply_disbursement(session: AsyncSession, *, payload: DisbursementReceived) -> None:
    await lock_ledger(session)
    agreement = await session.get(AgreementFunds, payload.agreement_id)
    if agreement is None:
        return  # never seen signed: there is nothing to attribute the money to
    agreement.received_usd = max(agreement.received_usd, payload.disbursed_usd_total)
    await _spread_received(session, agreement, agreement.received_usd)


async def fill_gap(session: AsyncSession, *, project: Project, cause: CloudEvent) -> None:
    """A project that is active and has a gap takes unallocated balances whose earmark it matches: the
    tightest earmark first, then the oldest agreement."""
    await lock_ledger(session)
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
    candidates = list((await session.execute(stmt.order_by(AgreementFunds.created_at))).scalars())
    candidates.sort(key=lambda a: -len(_earmark_values(a.earmark)))  # stable: oldest first within a level
    by_id = {a.agreement_id: a for a in candidates}
    draws = plan_draw(project.gap_usd, [(a.agreement_id, a.pool_usd) for a in candidates])
    for agreement_id, amount in draws.items():
        agreement = by_id[agreement_id]
        share = await session.get(Share, (agreement_id, project.id)) or _new_share(session, agreement_id, project.id)
        record_entry(session, project=project, share=share, amount=amount, cause=cause)
        await _move_pool(session, agreement, -amount)
        if agreement.received_usd > 0:
            await _spread_received(session, agreement, agreement.received_usd)

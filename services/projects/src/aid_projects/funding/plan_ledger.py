"""The plan x cluster ledger: what each agreement moves in its country's plan and cluster rows, by FTS's rules
(`plan_rows`), kept as append-only entries dated by when the money moved. The plan-clusters report reads it."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import kept
from aid_common.events import CloudEvent
from aid_contracts.pledges import AgreementFacts, FlowRoute
from aid_projects.appeals.models import Appeal
from aid_projects.funding.dates import day_of
from aid_projects.funding.models import PlanRowEntry
from aid_projects.funding.plan_rows import Row, counts, moves
from aid_projects.projects.models import Project

Key = tuple[str, str | None, str]  # country, plan, cluster row
_HELD = "projects.plan_rows_held"
_BY_ROW = (PlanRowEntry.agreement_id, PlanRowEntry.country, PlanRowEntry.plan, PlanRowEntry.cluster)


async def record(*, session: AsyncSession, facts: AgreementFacts, event: CloudEvent) -> None:
    """Bring the agreement's rows to what its status, amount and route say, writing only the difference."""
    route, country = await _route_of(session, facts)
    target: dict[Key, Decimal] = defaultdict(Decimal)
    if country is not None and counts(facts.status):
        for move in moves(route, facts.amount_usd):
            target[(country, move.row.plan, move.row.cluster)] += move.amount_usd
    held = await _held(session, facts.agreement_id)
    on = day_of(event)
    for key in sorted(target.keys() | held.keys(), key=str):
        delta = target.get(key, Decimal(0)) - held.get(key, Decimal(0))
        if delta:
            country_code, plan, cluster = key
            session.add(
                PlanRowEntry(
                    agreement_id=facts.agreement_id,
                    country=country_code,
                    plan=plan,
                    cluster=cluster,
                    amount_usd=delta,
                    effective_on=on,
                    event_id=event.id,
                )
            )
    kept(session, _HELD)[facts.agreement_id] = {key: amount for key, amount in target.items() if amount}


async def load(*, session: AsyncSession, agreement_ids: Iterable[uuid.UUID]) -> None:
    """What each of a batch's agreements holds in the rows, in one statement, kept for the transaction: an
    agreement's rows are written only by its own events, which share a key (one consumer at a time)."""
    held = kept(session, _HELD)
    ids = {i for i in agreement_ids if i not in held}
    if not ids:
        return
    rows = await session.execute(
        select(*_BY_ROW, func.sum(PlanRowEntry.amount_usd)).where(PlanRowEntry.agreement_id.in_(ids)).group_by(*_BY_ROW)
    )
    held.update({i: {} for i in ids})
    for agreement_id, c, p, k, total in rows.all():
        if total:
            held[agreement_id][(c, p, k)] = Decimal(total)


async def _held(session: AsyncSession, agreement_id: uuid.UUID) -> dict[Key, Decimal]:
    held = kept(session, _HELD)
    if agreement_id not in held:
        await load(session=session, agreement_ids=[agreement_id])
    return held[agreement_id]


async def _route_of(session: AsyncSession, facts: AgreementFacts) -> tuple[FlowRoute, str | None]:
    """An imported flow's own route; otherwise an incoming flow to the earmark's (or its project's) country,
    appeal (as a plan) and pillar (as a cluster)."""
    earmark = facts.earmark
    if facts.route is not None:
        return facts.route, earmark.country
    country, appeal, pillar = earmark.country, earmark.appeal, earmark.pillar
    if earmark.project_id is not None:
        project = await session.get(Project, earmark.project_id)
        if project is not None:
            country, appeal, pillar = project.country, project.appeal, project.pillar
    plan = await plan_key(session=session, appeal_code=appeal) if appeal else None
    return FlowRoute(plan=plan, clusters=[pillar] if pillar else []), country


async def plan_key(*, session: AsyncSession, appeal_code: str) -> str:
    """How the ledger names an appeal as a plan: its FTS plan id when it has one (imported flows name plans so),
    else its code."""
    fts_id = await session.scalar(select(Appeal.fts_plan_id).where(Appeal.code == appeal_code))
    return fts_id or appeal_code


async def table(
    *, session: AsyncSession, country: str, as_of: dt.date | None = None, known_at: dt.datetime | None = None
) -> dict[Row, Decimal]:
    """The country's rows: money that had moved by `as_of` (by effective date), as recorded by `known_at`."""
    stmt = select(PlanRowEntry.plan, PlanRowEntry.cluster, func.sum(PlanRowEntry.amount_usd)).where(
        PlanRowEntry.country == country
    )
    if as_of is not None:
        stmt = stmt.where(PlanRowEntry.effective_on <= as_of)
    if known_at is not None:
        stmt = stmt.where(PlanRowEntry.recorded_at <= known_at)
    rows = await session.execute(stmt.group_by(PlanRowEntry.plan, PlanRowEntry.cluster))
    return {Row(plan, cluster): Decimal(total) for plan, cluster, total in rows.all() if total}

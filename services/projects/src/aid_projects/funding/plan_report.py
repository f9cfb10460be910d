"""A country's plan x cluster report, as FTS publishes it, computed from this platform's own plan ledger: one row
per plan and cluster (clusters named as FTS names them, with "Not specified" and "Multiple clusters/sectors
(shared)"), and rows for the money outside every plan. A country's plans are the appeals that state what they
require in it; money to any other plan counts as outside them (`plan_rows.fold`)."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import csv_lines
from aid_projects.appeals.models import Appeal, PlanRequirement
from aid_projects.funding import plan_ledger
from aid_projects.funding.models import PlanClusterRow
from aid_projects.funding.plan_rows import NOT_SPECIFIED, SHARED, fold
from aid_projects.money import usd


async def plan_clusters(
    *, session: AsyncSession, country: str, as_of: dt.date | None = None, known_at: dt.datetime | None = None
) -> list[PlanClusterRow]:
    plans = await _country_plans(session, country)
    requirements = await _requirements(session, country)
    table = fold(
        await plan_ledger.table(session=session, country=country, as_of=as_of, known_at=known_at),
        country_plans=set(plans),
    )
    by_plan: dict[str | None, dict[str, Decimal]] = defaultdict(dict)
    for row, amount in table.items():
        by_plan[row.plan][row.cluster] = amount
    out: list[PlanClusterRow] = []
    for key, appeal in sorted(plans.items(), key=lambda kv: kv[1].code):
        stated = requirements.get(appeal.id, {})
        funded = by_plan.get(key, {})
        names = {p.code: p.title for p in appeal.pillars} | {k: r.cluster_name for k, r in stated.items() if k}
        clusters = [k for k in names if k in stated or k in funded]
        for cluster in [*sorted(clusters, key=lambda k: names[k]), NOT_SPECIFIED, SHARED]:
            req = stated.get(cluster)
            if cluster in (NOT_SPECIFIED, SHARED) and cluster not in funded:
                continue
            out.append(
                PlanClusterRow(
                    plan_code=appeal.code,
                    plan_name=appeal.title,
                    cluster=names.get(cluster, cluster),
                    requirements_usd=req.requirements_usd if req else None,
                    funding_usd=usd(funded.get(cluster)),
                    published_funding_usd=req.published_funding_usd if req else None,
                )
            )
    for cluster, amount in sorted(by_plan.get(None, {}).items()):
        out.append(
            PlanClusterRow(
                plan_code=None, plan_name=None, cluster=cluster, requirements_usd=None, funding_usd=usd(amount)
            )
        )
    return out


async def _country_plans(session: AsyncSession, country: str) -> dict[str, Appeal]:
    """The appeals that state requirements in the country, by the key the ledger names them with."""
    appeals = await session.execute(
        select(Appeal).where(Appeal.id.in_(select(PlanRequirement.appeal_id).where(PlanRequirement.country == country)))
    )
    return {a.fts_plan_id or a.code: a for a in appeals.scalars()}


async def _requirements(session: AsyncSession, country: str) -> dict[object, dict[str, PlanRequirement]]:
    rows = await session.execute(select(PlanRequirement).where(PlanRequirement.country == country))
    out: dict[object, dict[str, PlanRequirement]] = defaultdict(dict)
    for r in rows.scalars():
        out[r.appeal_id][r.cluster] = r
    return out


# The CSV's columns and the HXL hashtags HDX reads them by.
COLUMNS = (
    ("plan_code", "#activity+appeal+code"),
    ("plan_name", "#activity+appeal+name"),
    ("cluster", "#sector+cluster+name"),
    ("requirements_usd", "#value+funding+required+usd"),
    ("funding_usd", "#value+funding+total+usd"),
    ("published_funding_usd", "#value+funding+total+usd+fts"),
)


def as_csv(rows: list[PlanClusterRow], *, hxl: bool = True) -> str:
    lines = [csv_lines.line(name for name, _ in COLUMNS)]
    if hxl:
        lines.append(csv_lines.line(tag for _, tag in COLUMNS))
    for row in rows:
        values = row.model_dump()
        lines.append(csv_lines.line(values[name] for name, _ in COLUMNS))
    return "".join(lines)

"""How money counts toward a country's plans and clusters, by OCHA FTS's rules: the rows of FTS's published
requirements-and-funding tables (per plan, per plan x cluster, and money outside every plan), reproduced from
flows, not copied.

- Only money committed or paid counts (`counts`); a pledge never does.
- A country's money is what enters it from outside (incoming) in one country and year: a flow that spans
  several locations or usage years (FTS `onBoundary: shared`) belongs to no country's table.
- A plan's money is what enters the plan: every incoming flow to it, and an internal flow to it whose source is
  outside every plan (that money moves from outside the plans into this one).
- An internal flow from a plan into the same plan (a pooled fund's allocation, a pass-through sub-grant) adds
  nothing to the plan: it moves money from its source cluster row to its destination cluster row. A pooled fund
  has no cluster, so the money leaves "Not specified".
- An internal flow between different plans, or with no destination plan, moves nothing in these tables.
- Each flow counts once, at its own USD amount: a parked parent carries only its undistributed rest, its
  children their own amounts; nothing is netted or spread over years.
- The cluster row: none → "Not specified"; one → that cluster; several → "Multiple clusters/sectors (shared)",
  never split.
- Rows of plans that are not the country's own (a global plan the country has no requirements in) fold into
  the money outside every plan (`fold`).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from aid_contracts.pledges import FlowRoute

NOT_SPECIFIED = "Not specified"
SHARED = "Multiple clusters/sectors (shared)"
COUNTED_STATUSES = frozenset({"signed"})  # an agreement's status: FTS commitment and paid are both "signed"


@dataclass(frozen=True)
class Row:
    """A row of the table: a plan (None: outside every plan) and a cluster row (a cluster key, or one of
    NOT_SPECIFIED and SHARED)."""

    plan: str | None
    cluster: str


@dataclass(frozen=True)
class Move:
    row: Row
    amount_usd: Decimal


def cluster_row(clusters: Iterable[str]) -> str:
    distinct = sorted(set(clusters))
    if not distinct:
        return NOT_SPECIFIED
    return distinct[0] if len(distinct) == 1 else SHARED


def counts(status: str) -> bool:
    return status in COUNTED_STATUSES


def brings_money(route: FlowRoute | None) -> bool:
    """Whether an agreement adds money to its earmark's projects and pools (coverage): an incoming flow to one
    country and year does (so does an agreement without a route); money moved inside the country (an internal
    flow: a pooled fund's allocation, a pass-through) was counted when it came in, and a flow spanning several
    countries or years belongs to none of them. Counted once everywhere."""
    return route is None or (route.boundary == "incoming" and route.one_country_year)


def moves(route: FlowRoute, amount_usd: Decimal) -> list[Move]:
    """What one counted flow of `amount_usd` to the country does to the rows."""
    if not route.one_country_year or route.boundary == "outgoing":
        return []
    into = Row(route.plan, cluster_row(route.clusters))
    if route.boundary == "incoming":
        return [Move(into, amount_usd)]
    if route.plan is None:
        return []
    if route.source_plan is None:  # from outside every plan into this one
        return [Move(Row(None, cluster_row(route.source_clusters)), -amount_usd), Move(into, amount_usd)]
    if route.source_plan == route.plan:  # inside the plan: from one cluster row to another
        source = Row(route.plan, cluster_row(route.source_clusters))
        return [] if source == into else [Move(source, -amount_usd), Move(into, amount_usd)]
    return []


def fold(totals: dict[Row, Decimal], *, country_plans: set[str]) -> dict[Row, Decimal]:
    """The table as published: rows of plans that are not the country's own join the money outside every plan."""
    folded: dict[Row, Decimal] = defaultdict(Decimal)
    for row, amount in totals.items():
        folded[row if row.plan is None or row.plan in country_plans else Row(None, NOT_SPECIFIED)] += amount
    return dict(folded)


def plan_totals(table: dict[Row, Decimal]) -> dict[str | None, Decimal]:
    """Per plan (None: outside every plan), the sum of its rows."""
    totals: dict[str | None, Decimal] = defaultdict(Decimal)
    for row, amount in table.items():
        totals[row.plan] += amount
    return dict(totals)

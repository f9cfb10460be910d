"""FTS's counting rules, as rules: applied to the real flows of the occupied Palestinian territory (2020) they
give every row of FTS's three published tables; and on made-up flows, the shapes other countries have (a regional
plan, a global plan, pooled-fund allocations across clusters, clusters without requirements)."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from aid_contracts.pledges import FlowRoute
from aid_pledges.imports.fts_mapping import country_of, route_of, status_of
from aid_pledges.imports.fts_models import FileKind, FtsFlow
from aid_projects.funding.plan_rows import (
    NOT_SPECIFIED,
    SHARED,
    Move,
    Row,
    brings_money,
    counts,
    fold,
    moves,
    plan_totals,
)
from tests.fts import pse_flows, published


def _table(flows: list[FtsFlow], country: str, *, clusters: str = "Cluster") -> dict[Row, Decimal]:
    totals: dict[Row, Decimal] = defaultdict(Decimal)
    for flow in flows:
        if not counts(status_of(flow)) or country_of(flow) != country:
            continue
        route = route_of(flow)
        if clusters == "GlobalCluster":
            route = route.model_copy(
                update={"clusters": flow.ids("destination", clusters), "source_clusters": flow.ids("source", clusters)}
            )
        for move in moves(route, flow.amount_usd):
            totals[move.row] += move.amount_usd
    return dict(totals)


def _named(flows: list[FtsFlow], kind: str) -> dict[str, str]:
    return {o.id: o.name for f in flows for o in f.source + f.destination if o.type == kind}


def test_the_pse_flows_give_every_row_of_ftss_plan_table() -> None:
    flows = pse_flows()
    plans = published(FileKind.PLANS)
    country_plans = {p.plan_id for p in plans if p.plan_id}
    totals = plan_totals(fold(_table(flows, "PS"), country_plans=country_plans))
    assert len(plans) == 2
    for row in plans:
        assert abs(totals.get(row.plan_id, Decimal(0)) - row.funding_usd) <= 1, row


def test_the_pse_flows_give_every_row_of_ftss_plan_cluster_tables() -> None:
    flows = pse_flows()
    for kind, objects in ((FileKind.PLAN_CLUSTERS, "Cluster"), (FileKind.GLOBAL_CLUSTERS, "GlobalCluster")):
        names = _named(flows, objects) | {NOT_SPECIFIED: NOT_SPECIFIED, SHARED: SHARED}
        rows = published(kind)
        country_plans = {r.plan_id for r in rows if r.plan_id}
        mine = {
            (row.plan, names[row.cluster]): amount
            for row, amount in fold(_table(flows, "PS", clusters=objects), country_plans=country_plans).items()
            if row.plan is not None
        }
        assert len(rows) >= 14
        for row in rows:
            assert abs(mine.pop((row.plan_id, row.cluster), Decimal(0)) - (row.funding_usd or 0)) <= 1, row
        assert all(abs(v) <= 1 for v in mine.values()), f"rows FTS does not publish: {mine}"


def _incoming(amount: str, **route) -> list[Move]:
    return moves(FlowRoute(**route), Decimal(amount))


def test_a_pooled_fund_allocation_moves_money_between_clusters_and_adds_nothing_to_the_plan() -> None:
    into_fund = _incoming("1000000", plan="HRP")  # a donor to the country-based pooled fund: no cluster
    allocations = [
        *_incoming("400000", boundary="internal", plan="HRP", source_plan="HRP", clusters=["FOOD"]),
        *_incoming("250000", boundary="internal", plan="HRP", source_plan="HRP", clusters=["HEALTH", "WASH"]),
    ]
    rows: dict[Row, Decimal] = defaultdict(Decimal)
    for m in into_fund + allocations:
        rows[m.row] += m.amount_usd
    assert rows == {
        Row("HRP", NOT_SPECIFIED): Decimal("350000"),
        Row("HRP", "FOOD"): Decimal("400000"),
        Row("HRP", SHARED): Decimal("250000"),
    }
    assert plan_totals(rows) == {"HRP": Decimal("1000000")}


def test_money_from_outside_every_plan_moves_into_the_plan_and_the_country_total_stays() -> None:
    came_in = _incoming("300000")  # to the country, no plan
    moved = _incoming("120000", boundary="internal", plan="HRP", clusters=["EDU"])
    rows: dict[Row, Decimal] = defaultdict(Decimal)
    for m in came_in + moved:
        rows[m.row] += m.amount_usd
    assert plan_totals(rows) == {None: Decimal("180000"), "HRP": Decimal("120000")}
    assert sum(rows.values()) == Decimal("300000")


def test_what_never_counts() -> None:
    assert not counts("pledged") and counts("signed")
    assert brings_money(None) and brings_money(FlowRoute(plan="HRP"))
    assert not brings_money(FlowRoute(boundary="internal", plan="HRP", source_plan="HRP"))
    assert not brings_money(FlowRoute(one_country_year=False))
    assert _incoming("5", one_country_year=False, plan="HRP") == []  # spans several countries or years
    assert _incoming("5", boundary="outgoing") == []
    assert _incoming("5", boundary="internal", plan="RRP", source_plan="HRP") == []  # between two plans
    assert (
        _incoming("5", boundary="internal", plan="HRP", source_plan="HRP", clusters=["A"], source_clusters=["A"]) == []
    )


def test_a_global_plans_money_joins_the_money_outside_the_countrys_plans_and_a_regional_plan_is_a_row() -> None:
    rows: dict[Row, Decimal] = defaultdict(Decimal)
    for m in [*_incoming("70", plan="GHRP"), *_incoming("30", plan="3RP", clusters=["PROT"]), *_incoming("5")]:
        rows[m.row] += m.amount_usd
    table = fold(rows, country_plans={"3RP"})  # the country has requirements in the regional plan only
    assert table == {Row("3RP", "PROT"): Decimal("30"), Row(None, NOT_SPECIFIED): Decimal("75")}

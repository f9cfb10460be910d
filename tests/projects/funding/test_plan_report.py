"""The plan-clusters report, computed from the projects service's own ledger: the real PSE 2020 flows delivered
as agreement events give FTS's published plan x cluster table to the dollar; `as_of` answers by the days money
moved and `known_at` by what had been recorded; an amendment or a cancellation moves exactly its own rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from decimal import Decimal

from aid_contracts.pledges import AgreementPledged, AgreementSigned, PlanCluster, PlanPublished
from aid_pledges.imports.fts_mapping import country_of, route_of, status_of
from aid_pledges.imports.fts_models import FileKind, FtsFlow
from tests.fts import pse_flows, published
from tests.projects.conftest import amended, cancelled, deliver, facts

FTS = uuid.UUID("6b1f4d58-6a55-4d0c-9a6e-0f7c4d2a0000")


def _event(flow: FtsFlow) -> AgreementSigned | AgreementPledged:
    """An FTS flow as the pledges service announces it."""
    base = facts(str(flow.amount_usd), agreement_id=uuid.uuid5(FTS, flow.id), status=status_of(flow))
    base |= {"reference": f"FTS-{flow.id}", "earmark": {"country": country_of(flow)}, "route": route_of(flow)}
    moved = (flow.decision_date or flow.date or dt.datetime(2020, 1, 1, tzinfo=dt.UTC)).date()
    if base["status"] == "signed":
        return AgreementSigned(**base, signed_on=moved)
    return AgreementPledged(**base, pledged_on=moved)


async def _record_pse_plans(svc) -> None:
    plan = next(r for r in published(FileKind.PLANS) if r.plan_id)
    clusters = [r for r in published(FileKind.PLAN_CLUSTERS) if r.cluster_code]
    intake = PlanPublished(
        fts_plan_id=plan.plan_id,
        code=plan.plan_code,
        name=plan.plan_name,
        plan_type=plan.plan_type,
        year=plan.year,
        country="PS",
        plan_row=True,
        requirements_usd=plan.requirements_usd,
        published_funding_usd=plan.funding_usd,
        clusters=[
            PlanCluster(
                key=c.cluster_code,
                name=c.cluster,
                requirements_usd=c.requirements_usd,
                published_funding_usd=c.funding_usd,
            )
            for c in clusters
        ],
    )
    assert await deliver(svc, intake) == "handled"


async def _report(svc, headers, **params) -> list[dict]:
    r = await svc.client.get("/v1/reports/plan-clusters", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_the_pse_flows_reproduce_ftss_published_tables_from_the_ledger(projects, reader) -> None:
    await _record_pse_plans(projects)
    for flow in pse_flows():
        assert await deliver(projects, _event(flow)) == "handled", flow.id

    rows = await _report(projects, reader, country="PSE")
    mine = {(r["plan_code"], r["cluster"]): Decimal(r["funding_usd"]) for r in rows}
    for row in published(FileKind.PLAN_CLUSTERS):
        assert abs(mine[("HPSE20", row.cluster)] - row.funding_usd) <= 1, row
    plan_total = sum(v for (plan, _), v in mine.items() if plan == "HPSE20")
    outside = sum(v for (plan, _), v in mine.items() if plan is None)
    for row in published(FileKind.PLANS):
        assert abs((plan_total if row.plan_id else outside) - row.funding_usd) <= 1, row
    food = next(r for r in rows if r["cluster"] == "Food Security Sector")
    assert Decimal(food["requirements_usd"]) == Decimal("213922868") and food["published_funding_usd"] is not None

    the_same = await _report(projects, reader, country="PS")
    assert the_same == rows

    table = list(csv.reader(io.StringIO((await projects.client.get(
        "/v1/reports/plan-clusters", params={"country": "PS", "format": "csv"}, headers=reader
    )).text)))  # fmt: skip
    assert table[1][:5] == [
        "#activity+appeal+code",
        "#activity+appeal+name",
        "#sector+cluster+name",
        "#value+funding+required+usd",
        "#value+funding+total+usd",
    ]
    assert len(table) == 2 + len(rows)


async def test_as_of_answers_by_the_days_money_moved_and_known_at_by_what_was_recorded(projects, reader) -> None:
    await _record_pse_plans(projects)
    flows = pse_flows()
    for flow in flows:
        await deliver(projects, _event(flow))

    def total(rows: list[dict]) -> Decimal:
        return sum((Decimal(r["funding_usd"]) for r in rows), Decimal(0))

    now = total(await _report(projects, reader, country="PS"))
    mid_2020 = total(await _report(projects, reader, country="PS", as_of="2020-06-30"))
    assert total(await _report(projects, reader, country="PS", as_of="2015-01-01")) == 0
    assert 0 < mid_2020 < now
    moved_by_mid_2020 = {
        f.id
        for f in flows
        if (f.decision_date or f.date) and (f.decision_date or f.date).date() <= dt.date(2020, 6, 30)
    }
    assert moved_by_mid_2020 and len(moved_by_mid_2020) < len(flows)
    assert total(await _report(projects, reader, country="PS", known_at="2000-01-01")) == 0
    assert total(await _report(projects, reader, country="PS", known_at=dt.datetime.now(dt.UTC).isoformat())) == now


async def test_an_amendment_or_a_cancellation_moves_exactly_its_own_rows(projects, reader) -> None:
    await _record_pse_plans(projects)
    route = {"plan": "832", "clusters": ["4906"]}
    first = AgreementSigned(**facts("1000000", country="PS") | {"route": route}, signed_on=dt.date(2020, 3, 1))
    other = AgreementSigned(**facts("250000", country="PS") | {"route": {"plan": "832"}}, signed_on=dt.date(2020, 3, 2))
    for event in (first, other):
        await deliver(projects, event)

    def funding(rows: list[dict]) -> dict[str, str]:
        return {
            r["cluster"]: r["funding_usd"] for r in rows if r["plan_code"] == "HPSE20" and r["funding_usd"] != "0.00"
        }

    assert funding(await _report(projects, reader, country="PS")) == {
        "Education": "1000000.00",
        "Not specified": "250000.00",
    }
    await deliver(projects, amended(first, "600000"))
    assert funding(await _report(projects, reader, country="PS")) == {
        "Education": "600000.00",
        "Not specified": "250000.00",
    }
    await deliver(projects, cancelled(first))
    assert funding(await _report(projects, reader, country="PS")) == {"Not specified": "250000.00"}
    # The days money moved stay readable: before the cancellation (2024-07-01 in the helper) it was amended.
    assert funding(await _report(projects, reader, country="PS", as_of="2024-06-15")) == {
        "Education": "600000.00",
        "Not specified": "250000.00",
    }


async def test_an_unknown_country_is_422(projects, reader) -> None:
    r = await projects.client.get("/v1/reports/plan-clusters", params={"country": "XQ"}, headers=reader)
    assert r.status_code == 422 and "query.country" in r.text

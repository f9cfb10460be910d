"""Figures a finance officer can trust: gaps that reopen draw pools at once, excess by gap goes back, one coverage
rule at every level, received money visible in pools, funding as of a date, and a preview that is the real plan."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re

from tests.helpers import PROBLEM
from tests.projects.conftest import amended, cancelled, create_project, deliver, disbursed, project, signed

APPEAL = {
    "code": "IOM-GA-2024",
    "title": "IOM Global Appeal 2024",
    "year": 2024,
    "pillars": [
        {"code": "P1", "title": "Saving lives", "requirements_usd": "1000000.00"},
        {"code": "P2", "title": "Solutions", "requirements_usd": "500000.00"},
    ],
}


async def _pools(svc, headers) -> list[dict]:
    r = await svc.client.get("/v1/pools", headers=headers)
    assert r.status_code == 200
    return r.json()["items"]


async def _coverage(svc, headers, by: str, **params) -> dict[str, dict]:
    r = await svc.client.get("/v1/coverage", params={"by": by, **params}, headers=headers)
    assert r.status_code == 200, r.text
    return {row["key"]: row for row in r.json()["items"]}


async def test_a_cancellation_frees_a_gap_that_a_waiting_pool_fills_at_once(projects, writer) -> None:
    a = await create_project(projects, writer, "SY-H-1", "100000.00")
    first = signed("100000.00", country="SY")
    await deliver(projects, first)
    await deliver(projects, signed("40000.00", country="SY", sector="health"))  # nothing to take it: pooled
    assert [p["balance_usd"] for p in await _pools(projects, writer)] == ["40000.00"]

    await deliver(projects, cancelled(first))

    assert (await project(projects, writer, a["id"]))["funded_usd"] == "40000.00"
    assert await _pools(projects, writer) == []


async def test_an_amendment_down_frees_a_gap_that_a_waiting_pool_fills(projects, writer) -> None:
    a = await create_project(projects, writer, "SY-H-1", "100000.00")
    first = signed("100000.00", country="SY")
    await deliver(projects, first)
    await deliver(projects, signed("30000.00", country="SY"))
    await deliver(projects, amended(first, "80000.00"))  # −20 000 off the project: the waiting 30 000 fills it
    assert (await project(projects, writer, a["id"]))["funded_usd"] == "100000.00"
    assert [p["balance_usd"] for p in await _pools(projects, writer)] == ["10000.00"]


async def test_lowered_requirements_send_gap_money_back_to_its_pool_and_on_to_other_projects(projects, writer) -> None:
    a = await create_project(projects, writer, "SD-F-1", "600000.00", country="SD", region=None)
    await deliver(projects, signed("500000.00", country="SD"))
    await deliver(projects, signed("50000.00", project_id=a["id"]))  # the donor's own choice: stays
    b = await create_project(projects, writer, "SD-F-2", "100000.00", country="SD", region=None, status="planned")

    r = await projects.client.patch(f"/v1/projects/{a['id']}", json={"requirements_usd": "200000.00"}, headers=writer)
    assert r.status_code == 200
    # 550 000 held against 200 000 needed: 350 000 of the gap money goes back; the earmarked 50 000 stays.
    assert r.json()["funded_usd"] == "200000.00" and r.json()["overfunded_usd"] == "0.00"
    assert [p["balance_usd"] for p in await _pools(projects, writer)] == ["350000.00"]

    r = await projects.client.patch(f"/v1/projects/{b['id']}", json={"status": "active"}, headers=writer)
    assert r.json()["funded_usd"] == "100000.00"
    assert [p["balance_usd"] for p in await _pools(projects, writer)] == ["250000.00"]

    r = await projects.client.patch(f"/v1/projects/{a['id']}", json={"requirements_usd": "10000.00"}, headers=writer)
    body = r.json()
    assert body["funded_usd"] == "50000.00", "only the donor-earmarked money stays"
    assert body["overfunded_usd"] == "40000.00" and body["unmet_usd"] == "0.00" and body["overfunded"] is True


async def test_appeal_coverage_counts_projects_and_shows_its_pool_apart(projects, writer) -> None:
    assert (await projects.client.post("/v1/appeals", json=APPEAL, headers=writer)).status_code == 201
    await create_project(projects, writer, "SY-H-1", "100000.00", appeal="IOM-GA-2024", pillar="P1")
    await deliver(projects, signed("1500000.00", appeal="IOM-GA-2024"))  # one large appeal-level agreement

    appeal = (await projects.client.get("/v1/appeals/IOM-GA-2024", headers=writer)).json()
    assert appeal["funded_usd"] == "100000.00" and appeal["unallocated_usd"] == "1400000.00"
    assert appeal["coverage"] == "0.0667", "a pool is not funding"
    p1, p2 = appeal["pillars"]
    assert (p1["funded_usd"], p1["unmet_usd"], p1["coverage"]) == ("100000.00", "900000.00", "0.1000")
    assert p1["unallocated_usd"] == "0.00", "appeal-level money lies in the appeal's row, not a pillar's"
    assert (p2["funded_usd"], p2["unmet_usd"]) == ("0.00", "500000.00")
    rows = await _coverage(projects, writer, "appeal")
    assert rows["IOM-GA-2024"]["coverage"] == appeal["coverage"]


async def test_one_overfunded_project_does_not_hide_another_gap(projects, writer) -> None:
    a = await create_project(projects, writer, "LB-S-1", "100000.00", country="LB", region=None, sector="shelter")
    await create_project(projects, writer, "LB-S-2", "100000.00", country="LB", region=None, sector="shelter")
    await deliver(projects, signed("250000.00", project_id=a["id"]))
    await deliver(projects, signed("10000.00", country="SY"))  # a Syria pool: not Lebanon's
    lb = (await _coverage(projects, writer, "country"))["LB"]
    assert lb["funded_usd"] == "250000.00" and lb["requirements_usd"] == "200000.00"
    assert lb["unmet_usd"] == "100000.00" and lb["overfunded_usd"] == "150000.00"
    assert lb["unallocated_usd"] == "0.00"
    everything = (await _coverage(projects, writer, "all"))["all"]
    assert everything["unallocated_usd"] == "10000.00" and everything["funded_usd"] == "250000.00"


async def test_received_money_adds_up_over_projects_and_pools(projects, writer) -> None:
    await create_project(projects, writer, "SY-H-1", "60000.00")
    agreement = signed("100000.00", country="SY")
    await deliver(projects, agreement)
    await deliver(projects, disbursed(agreement, "50000.00", "50000.00"))
    pools = await _pools(projects, writer)
    everything = (await _coverage(projects, writer, "all"))["all"]
    assert pools[0]["balance_usd"] == "40000.00" and pools[0]["received_usd"] == "20000.00"
    assert everything["received_usd"] == "50000.00", "Σ projects' received + Σ pools' received = Σ disbursed"


async def test_figures_known_at_a_moment_are_those_recorded_then(projects, writer) -> None:
    a = await create_project(projects, writer, "SY-H-1", "100000.00")
    await deliver(projects, signed("30000.00", country="SY"))
    await asyncio.sleep(0.01)
    then = dt.datetime.now(dt.UTC)
    before = await project(projects, writer, a["id"])
    await asyncio.sleep(0.01)
    await deliver(projects, signed("50000.00", country="SY"))
    await projects.client.patch(f"/v1/projects/{a['id']}", json={"requirements_usd": "150000.00"}, headers=writer)

    past = await projects.client.get(f"/v1/projects/{a['id']}", params={"known_at": then.isoformat()}, headers=writer)
    figures = ("requirements_usd", "funded_usd", "unmet_usd", "coverage", "received_usd")
    assert {k: past.json()[k] for k in figures} == {k: before[k] for k in figures}
    today = dt.datetime.now(dt.UTC).date().isoformat()
    now = await project(projects, writer, a["id"])
    known_today = await projects.client.get(f"/v1/projects/{a['id']}", params={"known_at": today}, headers=writer)
    assert {k: known_today.json()[k] for k in figures} == {k: now[k] for k in figures}
    assert now["funded_usd"] == "80000.00"
    yesterday = (dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)).isoformat()
    gone = await projects.client.get(f"/v1/projects/{a['id']}", params={"known_at": yesterday}, headers=writer)
    assert gone.status_code == 404 and "not recorded yet" in gone.json()["detail"]
    listed = await projects.client.get("/v1/projects", params={"known_at": yesterday}, headers=writer)
    assert listed.json()["items"] == []
    bad = await projects.client.get("/v1/coverage", params={"by": "country", "as_of": "last week"}, headers=writer)
    assert bad.status_code == 422 and "as_of" in bad.json()["detail"]


async def test_figures_as_of_a_day_follow_the_dates_money_moved(projects, writer) -> None:
    """Issue: `as_of=2024-06-30` answered by when rows were written, so on data entered today it showed nothing.
    Signed on 1 May, amended up on 1 June, money received on 1 August, all recorded today: each day answers
    what had moved by then, and the pool and the ledger agree on every day."""
    a = await create_project(projects, writer, "SY-H-1", "100000.00")
    agreement = signed("60000.00", country="SY")  # signed_on 2024-05-01
    await deliver(projects, agreement)
    await deliver(projects, amended(agreement, "150000.00"))  # amended_on 2024-06-01: 50 000 to the pool
    await deliver(projects, disbursed(agreement, "40000.00", "40000.00"))  # received_on 2024-08-01

    async def on(day: str) -> tuple[dict, dict]:
        p = await projects.client.get(f"/v1/projects/{a['id']}", params={"as_of": day}, headers=writer)
        everything = await projects.client.get("/v1/coverage", params={"by": "all", "as_of": day}, headers=writer)
        assert p.status_code == everything.status_code == 200, p.text
        return p.json(), everything.json()["items"][0]

    before, whole = await on("2024-04-30")
    assert (before["funded_usd"], whole["unallocated_usd"], whole["received_usd"]) == ("0.00", "0.00", "0.00")
    may, whole = await on("2024-05-31")
    assert (may["funded_usd"], whole["unallocated_usd"]) == ("60000.00", "0.00")
    june, whole = await on("2024-06-30")
    assert (june["funded_usd"], whole["unallocated_usd"], june["received_usd"]) == ("100000.00", "50000.00", "0.00")
    august, _ = await on("2024-08-01")
    now = await project(projects, writer, a["id"])
    assert august["received_usd"] == now["received_usd"] != "0.00"
    ledger = (await projects.client.get(f"/v1/projects/{a['id']}/allocations", headers=writer)).json()["items"]
    assert sorted(e["effective_on"] for e in ledger) == ["2024-05-01", "2024-06-01"]
    flows = await projects.client.get("/v1/exports/flows.csv", params={"hxl": "false"}, headers=writer)
    assert sorted(line.split(",")[0] for line in flows.text.splitlines()[1:]) == ["2024-05-01", "2024-06-01"]
    known_before = await projects.client.get(
        f"/v1/projects/{a['id']}", params={"as_of": "2024-06-30", "known_at": "2020-01-01"}, headers=writer
    )
    assert known_before.status_code == 404  # recorded long after that moment: nothing was known then


async def test_the_preview_is_the_split_that_signing_then_makes(projects, writer) -> None:
    a = await create_project(projects, writer, "SY-H-1", "600000.00")
    b = await create_project(projects, writer, "SY-H-2", "400000.00")
    earmark = {"country": "SY", "sector": "health"}
    r = await projects.client.post(
        "/v1/allocation-preview", json={"amount_usd": "1200000.00", "earmark": earmark}, headers=writer
    )
    assert r.status_code == 200, r.text
    preview = r.json()
    assert preview["pool_usd"] == "200000.00"
    lines = {line["code"]: line for line in preview["projects"]}
    assert lines["SY-H-1"] == {
        "project_id": a["id"],
        "code": "SY-H-1",
        "amount_usd": "600000.00",
        "gap_before_usd": "600000.00",
        "gap_after_usd": "0.00",
        "fully_funded": True,
    }
    assert (await project(projects, writer, b["id"]))["funded_usd"] == "0.00", "a preview writes nothing"
    await deliver(projects, signed("1200000.00", **earmark))
    for p in (a, b):
        got = await project(projects, writer, p["id"])
        assert got["funded_usd"] == lines[got["code"]]["amount_usd"]
    unknown = await projects.client.post(
        "/v1/allocation-preview", json={"amount_usd": "1.00", "earmark": {"appeal": "NOPE-2024"}}, headers=writer
    )
    assert unknown.status_code == 422 and unknown.headers["content-type"] == PROBLEM


async def test_an_unknown_query_parameter_is_422_naming_it(projects, writer) -> None:
    r = await projects.client.get("/v1/projects", params={"pillar": "P1"}, headers=writer)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "pillar" in r.json()["detail"] and r.json()["errors"][0]["location"] == "query.pillar"
    assert (await projects.client.get("/v1/pools", params={"limit": "5"}, headers=writer)).status_code == 422


def test_amounts_in_events_are_decimal_strings() -> None:
    from aid_common.asyncapi import build_asyncapi
    from aid_common.events import registry

    document = json.dumps(build_asyncapi(registry))
    schemas = build_asyncapi(registry)["components"]["schemas"]
    funding = schemas["ProjectFundingUpdated"]["properties"]
    assert funding["funded_usd"]["type"] == "string" and re.match(funding["funded_usd"]["pattern"], "-1250000.50")
    assert funding["coverage"]["type"] == "string"
    assert '"number"' not in document, "no amount is typed number-or-string"


async def test_appeals_announce_themselves_for_the_earmark_checks(projects, writer) -> None:
    assert (await projects.client.post("/v1/appeals", json=APPEAL, headers=writer)).status_code == 201
    r = await projects.client.patch(
        "/v1/appeals/IOM-GA-2024", json={"names": {"ar": "نداء المنظمة الدولية للهجرة 2024"}}, headers=writer
    )
    assert r.status_code == 200 and r.json()["names"]["ar"] == "نداء المنظمة الدولية للهجرة 2024"
    await projects.relay()
    sent = [json.loads(m.value) for m in projects.bus.messages("aid.projects.v1")]
    appeal_events = [(e["type"], e["data"]["code"]) for e in sent if e["type"].startswith("aid.appeal.")]
    assert appeal_events == [("aid.appeal.created", "IOM-GA-2024"), ("aid.appeal.updated", "IOM-GA-2024")]
    assert [p["code"] for p in sent[-1]["data"]["pillars"]] == ["P1", "P2"]

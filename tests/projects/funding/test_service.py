"""Signed agreements become project funding by the earmark rules; the ledger, pools and events show it."""

from __future__ import annotations

import json
from decimal import Decimal

from aid_contracts import PROJECTS_TOPIC
from aid_contracts.pledges import AgreementPledged
from tests.projects.conftest import amended, cancelled, create_project, deliver, disbursed, envelope, project, signed


def _events(svc, type_: str) -> list[dict]:
    return [e for e in (json.loads(m.value) for m in svc.bus.messages(PROJECTS_TOPIC)) if e["type"] == type_]


async def _settle(svc) -> None:
    await svc.relay()


async def test_500k_earmarked_syria_health_splits_300k_200k_by_gap(projects, writer) -> None:
    a = await create_project(projects, writer, "SY-H-1", "600000.00")
    b = await create_project(projects, writer, "SY-H-2", "400000.00")
    await create_project(projects, writer, "SY-E-1", "500000.00", sector="education")
    await create_project(projects, writer, "YE-H-1", "500000.00", country="YE", region=None)

    assert await deliver(projects, signed("500000.00", country="SY", sector="health"), correlation_id="corr-1") == (
        "handled"
    )

    assert (await project(projects, writer, a["id"]))["funded_usd"] == "300000.00"
    pb = await project(projects, writer, b["id"])
    assert pb["funded_usd"] == "200000.00" and pb["coverage"] == "0.5000" and pb["overfunded"] is False
    await _settle(projects)
    updates = _events(projects, "aid.project.funding_updated")
    assert sorted((u["data"]["code"], u["data"]["delta_usd"]) for u in updates) == [
        ("SY-H-1", "300000.00"),
        ("SY-H-2", "200000.00"),
    ]
    assert {u["correlationid"] for u in updates} == {"corr-1"}
    assert all(u["data"]["correlation_id"] == "corr-1" and u["subject"] == u["data"]["project_id"] for u in updates)
    assert updates[0]["data"]["names"]["ar"] == "الرعاية الصحية للأسر النازحة"


async def test_1_2m_fills_both_gaps_pools_200k_and_a_third_project_draws_it(projects, writer) -> None:
    a = await create_project(projects, writer, "SY-H-1", "600000.00")
    b = await create_project(projects, writer, "SY-H-2", "400000.00")
    agreement = signed("1200000.00", country="SY", sector="health")
    await deliver(projects, agreement)

    for p in (a, b):
        body = await project(projects, writer, p["id"])
        assert body["coverage"] == "1.0000" and body["overfunded"] is False
    pools = (await projects.client.get("/v1/pools", headers=writer)).json()["items"]
    assert pools == [
        {
            "pool_key": "country=SY;sector=health",
            "earmark": {"project_id": None, "country": "SY", "sector": "health", "appeal": None, "pillar": None},
            "balance_usd": "200000.00",
            "received_usd": "0.00",
            "agreements": 1,
            "waiting_because": "no active project matching country SY, sector health has a gap left",
        }
    ]
    await _settle(projects)
    assert len(_events(projects, "aid.project.fully_funded")) == 2

    c = await create_project(projects, writer, "SY-H-3", "150000.00", region="Aleppo")
    assert c["funded_usd"] == "150000.00"
    assert (await projects.client.get("/v1/pools", headers=writer)).json()["items"][0]["balance_usd"] == "50000.00"
    ledger = (await projects.client.get(f"/v1/projects/{c['id']}/allocations", headers=writer)).json()["items"]
    assert [(e["agreement_id"], e["amount_usd"], e["kind"]) for e in ledger] == [
        (str(agreement.agreement_id), "150000.00", "allocation")
    ]
    # A Yemen project does not match the pool.
    ye = await create_project(projects, writer, "YE-H-1", "100000.00", country="YE", region=None)
    assert ye["funded_usd"] == "0.00"


async def test_the_same_event_twice_changes_nothing(projects, writer) -> None:
    a = await create_project(projects, writer, "SY-H-1", "600000.00")
    event = envelope(signed("100000.00", country="SY"))
    assert await deliver(projects, event) == "handled"
    assert await deliver(projects, event) == "duplicate"
    assert (await project(projects, writer, a["id"]))["funded_usd"] == "100000.00"
    ledger = (await projects.client.get(f"/v1/projects/{a['id']}/allocations", headers=writer)).json()["items"]
    assert len(ledger) == 1 and ledger[0]["event_id"] == event.id


async def test_named_project_is_overfunded_and_flagged(projects, writer) -> None:
    a = await create_project(projects, writer, "LB-S-1", "100000.00", country="LB", region=None, sector="shelter")
    await deliver(projects, signed("250000.00", project_id=a["id"]))
    body = await project(projects, writer, a["id"])
    assert body["funded_usd"] == "250000.00" and body["overfunded"] is True and body["coverage"] == "2.5000"


async def test_amendments_and_cancellation_write_reversals_and_keep_the_ledger_append_only(projects, writer) -> None:
    a = await create_project(projects, writer, "SD-F-1", "600000.00", country="SD", region=None, sector="food-security")
    b = await create_project(projects, writer, "SD-F-2", "300000.00", country="SD", region=None, sector="food-security")
    agreement = signed("450000.00", country="SD")
    await deliver(projects, agreement)
    assert (await project(projects, writer, a["id"]))["funded_usd"] == "300000.00"
    assert (await project(projects, writer, b["id"]))["funded_usd"] == "150000.00"

    await deliver(
        projects, amended(agreement, "1000000.00")
    )  # +550 000: 300 000 + 150 000 fill the gaps, 100 000 pooled
    assert (await project(projects, writer, a["id"]))["funded_usd"] == "600000.00"
    assert (await projects.client.get("/v1/pools", headers=writer)).json()["items"][0]["balance_usd"] == "100000.00"

    await deliver(projects, amended(agreement, "700000.00"))  # −300 000: the pool's 100 000 first, then 2:1
    assert (await project(projects, writer, a["id"]))["funded_usd"] == "466666.67"
    assert (await project(projects, writer, b["id"]))["funded_usd"] == "233333.33"
    assert (await projects.client.get("/v1/pools", headers=writer)).json() == {"items": []}

    await deliver(projects, cancelled(agreement))
    for p in (a, b):
        body = await project(projects, writer, p["id"])
        assert body["funded_usd"] == "0.00"
        ledger = (await projects.client.get(f"/v1/projects/{p['id']}/allocations", headers=writer)).json()["items"]
        assert [e["kind"] for e in ledger] == ["allocation", "allocation", "reversal", "reversal"]
        assert sum(Decimal(e["amount_usd"]) for e in ledger) == 0


async def test_pledged_agreements_show_as_pledged_not_funding(projects, writer) -> None:
    a = await create_project(projects, writer, "AF-E-1", "80000.00", country="AF", region=None, sector="education")
    pledge = signed("50000.00", project_id=a["id"], status="pledged")
    await deliver(projects, AgreementPledged(**pledge.model_dump(exclude={"signed_on"}), pledged_on=pledge.signed_on))
    body = await project(projects, writer, a["id"])
    assert body["funded_usd"] == "0.00" and body["pledged_usd"] == "50000.00"


async def test_disbursements_raise_received_in_proportion_to_shares(projects, writer) -> None:
    a = await create_project(projects, writer, "YE-W-1", "300000.00", country="YE", region=None, sector="wash")
    b = await create_project(projects, writer, "YE-W-2", "100000.00", country="YE", region=None, sector="wash")
    agreement = signed("200000.00", country="YE", sector="wash")
    await deliver(projects, agreement)
    await deliver(projects, disbursed(agreement, "100000.00", "100000.00"))
    assert (await project(projects, writer, a["id"]))["received_usd"] == "75000.00"
    assert (await project(projects, writer, b["id"]))["received_usd"] == "25000.00"


async def test_closed_projects_get_nothing_and_reactivation_draws_the_pool(projects, writer) -> None:
    a = await create_project(projects, writer, "SY-P-1", "100000.00", sector="protection", status="planned")
    await deliver(projects, signed("60000.00", country="SY", sector="protection"))
    assert (await project(projects, writer, a["id"]))["funded_usd"] == "0.00"
    r = await projects.client.patch(f"/v1/projects/{a['id']}", json={"status": "active"}, headers=writer)
    assert r.status_code == 200 and r.json()["funded_usd"] == "60000.00"


async def test_coverage_and_appeal_pillars(projects, writer) -> None:
    appeal = {
        "code": "IOM-GA-2024",
        "title": "IOM Global Appeal 2024",
        "year": 2024,
        "pillars": [
            {"code": "P1", "title": "Saving lives and protecting people on the move", "requirements_usd": "3400000000"},
            {"code": "P2", "title": "Solutions to displacement", "requirements_usd": "2700000000"},
            {"code": "P3", "title": "Regular migration pathways", "requirements_usd": "1600000000"},
            {"code": "P4", "title": "Better service delivery", "requirements_usd": "163000000"},
        ],
    }
    r = await projects.client.post("/v1/appeals", json=appeal, headers=writer)
    assert r.status_code == 201, r.text
    assert r.json()["requirements_usd"] == "7863000000.00"
    await create_project(projects, writer, "SY-H-1", "600000.00", appeal="IOM-GA-2024", pillar="P1")
    await create_project(projects, writer, "YE-H-1", "400000.00", country="YE", region=None)
    await deliver(projects, signed("340000.00", country="SY"))
    await deliver(projects, signed("34000000.00", appeal="IOM-GA-2024", pillar="P1"))

    got = (await projects.client.get("/v1/appeals/IOM-GA-2024", headers=writer)).json()
    p1 = got["pillars"][0]
    # the project's 260 000 gap is drawn from the pillar money; the rest waits in the pillar's pool, shown as
    # unallocated, never as funded
    assert p1["funded_usd"] == "600000.00" and p1["unallocated_usd"] == "33740000.00" and p1["coverage"] == "0.0002"
    assert p1["unmet_usd"] == "3399400000.00" and got["funded_usd"] == "600000.00"
    by_country = (await projects.client.get("/v1/coverage?by=country", headers=writer)).json()["items"]
    zero = {"unmet_usd": "0.00", "overfunded_usd": "0.00", "unallocated_usd": "0.00", "received_usd": "0.00"}
    assert by_country == [
        {"key": "SY", "requirements_usd": "600000.00", "funded_usd": "600000.00", "coverage": "1.0000", **zero},
        {
            "key": "YE",
            "requirements_usd": "400000.00",
            "funded_usd": "0.00",
            "coverage": "0.0000",
            **zero,
            "unmet_usd": "400000.00",
        },
    ]
    by_pillar = (await projects.client.get("/v1/coverage?by=pillar", headers=writer)).json()["items"]
    assert [row["key"] for row in by_pillar] == ["IOM-GA-2024/P1", "IOM-GA-2024/P2", "IOM-GA-2024/P3", "IOM-GA-2024/P4"]


async def test_an_agreement_event_not_from_the_pledges_service_is_dead_lettered(projects, writer) -> None:
    a = await create_project(projects, writer, "SY-H-9", "100000.00")
    forged = envelope(signed("100000.00", country="SY"))
    forged.source = "/notifications"  # anyone able to reach the broker could claim a signed agreement
    assert await deliver(projects, forged) == "deadlettered"
    assert (await project(projects, writer, a["id"]))["funded_usd"] == "0.00"
    [dead] = projects.bus.messages("aid.deadletter.v1")
    assert dict(dead.headers)["aid-error-reason"] == b"wrong-source"


async def test_an_agreement_shows_where_its_money_went_project_by_project_and_in_its_pool(projects, writer) -> None:
    a = await create_project(projects, writer, "SY-H-1", "600000.00")
    b = await create_project(projects, writer, "SY-H-2", "400000.00")
    agreement = signed("1200000.00", country="SY", sector="health")
    await deliver(projects, agreement)
    await deliver(projects, disbursed(agreement, "600000.00", "600000.00"))
    r = await projects.client.get(f"/v1/funding/agreements/{agreement.agreement_id}", headers=writer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["amount_usd"], body["pool_usd"]) == ("1200000.00", "200000.00")
    assert [(s["code"], s["allocated_usd"], s["received_usd"]) for s in body["shares"]] == [
        ("SY-H-1", "600000.00", "300000.00"),
        ("SY-H-2", "400000.00", "200000.00"),
    ]
    assert body["pool_received_usd"] == "100000.00" and {s["project_id"] for s in body["shares"]} == {a["id"], b["id"]}
    unknown = await projects.client.get("/v1/funding/agreements/6f1c1f0e-0000-4000-8000-000000000000", headers=writer)
    assert unknown.status_code == 404

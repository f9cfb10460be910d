"""Appeals and their pillars: launched by coordinators, named in Arabic and English, announced to the pledges
service (which checks earmarks against them), their requirements kept as launched."""

from __future__ import annotations

import json

from aid_contracts import PROJECTS_TOPIC
from tests.helpers import PROBLEM, auth

IOM_AR = "نداء المنظمة الدولية للهجرة العالمي 2024"
IOM_2024 = {
    "code": "IOM-GA-2024",
    "title": "IOM Global Appeal 2024",
    "names": {"ar": IOM_AR},
    "year": 2024,
    "pillars": [
        {"code": "P1", "title": "Saving lives", "names": {"ar": "إنقاذ الأرواح"}, "requirements_usd": "3400000000.00"},
        {"code": "P2", "title": "Driving solutions", "requirements_usd": "2700000000.00"},
    ],
}


async def _announced(svc) -> list[dict]:
    await svc.relay()
    return [json.loads(m.value) for m in svc.bus.messages(PROJECTS_TOPIC) if b"aid.appeal." in m.value]


async def test_a_launched_appeal_keeps_its_pillars_in_order_and_its_arabic_names(projects, writer) -> None:
    r = await projects.client.post("/v1/appeals", json=IOM_2024, headers=writer)
    assert r.status_code == 201, r.text
    appeal = (await projects.client.get("/v1/appeals/IOM-GA-2024", headers=writer)).json()
    assert appeal["names"] == {"ar": IOM_AR}
    assert [(p["code"], p["requirements_usd"]) for p in appeal["pillars"]] == [
        ("P1", "3400000000.00"),
        ("P2", "2700000000.00"),
    ]
    assert appeal["pillars"][0]["names"]["ar"] == "إنقاذ الأرواح"
    assert appeal["requirements_usd"] == "6100000000.00" and appeal["funded_usd"] == "0.00"

    events = await _announced(projects)
    assert [e["type"] for e in events] == ["aid.appeal.created"]
    assert [p["code"] for p in events[0]["data"]["pillars"]] == ["P1", "P2"]
    assert events[0]["data"]["names"] == {"ar": IOM_AR}


async def test_renaming_an_appeal_is_announced_and_leaves_its_requirements(projects, writer) -> None:
    await projects.client.post("/v1/appeals", json=IOM_2024, headers=writer)
    r = await projects.client.patch(
        "/v1/appeals/IOM-GA-2024", json={"title": "IOM Global Appeal 2024 (revised)"}, headers=writer
    )
    assert r.status_code == 200 and r.json()["title"] == "IOM Global Appeal 2024 (revised)"
    # The pillars' requirements are what every past figure is measured against: no route changes them.
    r = await projects.client.patch(
        "/v1/appeals/IOM-GA-2024", json={"pillars": [{"code": "P1", "requirements_usd": "1.00"}]}, headers=writer
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert (await projects.client.get("/v1/appeals/IOM-GA-2024", headers=writer)).json()["requirements_usd"] == (
        "6100000000.00"
    )
    events = await _announced(projects)
    assert [e["type"] for e in events] == ["aid.appeal.created", "aid.appeal.updated"]
    assert events[1]["data"]["changed"] == ["title"]


async def test_bad_appeals_are_refused_whole(projects, writer) -> None:
    duplicate_pillars = {**IOM_2024, "pillars": [IOM_2024["pillars"][0], IOM_2024["pillars"][0]]}
    no_pillars = {**IOM_2024, "pillars": []}
    negative = {**IOM_2024, "pillars": [{**IOM_2024["pillars"][0], "requirements_usd": "-5.00"}]}
    for body in (duplicate_pillars, no_pillars, negative, {**IOM_2024, "year": 1900}):
        r = await projects.client.post("/v1/appeals", json=body, headers=writer)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, body
    assert (await projects.client.get("/v1/appeals", headers=writer)).json()["items"] == []
    assert await _announced(projects) == []

    assert (await projects.client.post("/v1/appeals", json=IOM_2024, headers=writer)).status_code == 201
    again = await projects.client.post("/v1/appeals", json={**IOM_2024, "title": "Another"}, headers=writer)
    assert again.status_code == 409 and "IOM-GA-2024" in again.json()["detail"]


async def test_only_coordinators_launch_or_rename_appeals_and_years_filter_the_list(projects, writer, token) -> None:
    partner = auth(token("projects:read projects:write", partner_id="5f0c1d2e-0000-4000-8000-000000000001"))
    r = await projects.client.post("/v1/appeals", json=IOM_2024, headers=partner)
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    await projects.client.post("/v1/appeals", json=IOM_2024, headers=writer)
    r = await projects.client.patch("/v1/appeals/IOM-GA-2024", json={"title": "Mine"}, headers=partner)
    assert r.status_code == 403

    await projects.client.post("/v1/appeals", json={**IOM_2024, "code": "IOM-GA-2025", "year": 2025}, headers=writer)
    by_year = (await projects.client.get("/v1/appeals?year=2025", headers=partner)).json()["items"]
    assert [a["code"] for a in by_year] == ["IOM-GA-2025"]
    missing = await projects.client.get("/v1/appeals/NO-SUCH-APPEAL", headers=partner)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM

"""Every projects route: scopes, validation, pagination and conflicts answer with problem+json, never a 500."""

from __future__ import annotations

import httpx
import pytest

from aid_projects.app import create_app
from aid_projects.settings import ProjectsSettings
from tests.helpers import PROBLEM
from tests.projects.conftest import create_project, project_body


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"country": "XX"}, "country"),
        ({"sector": "astrology"}, "sector"),
        ({"requirements_usd": "-5"}, "requirements_usd"),
        ({"requirements_usd": "10.001"}, "requirements_usd"),
        ({"requirements_usd": "NaN"}, "requirements_usd"),
        ({"names": {"xx": "?"}}, "names"),
        ({"code": ""}, "code"),
        ({"partners": [{"name": "Qatar Charity", "role": "sponsor"}]}, "partners"),
        ({"pillar": "P1"}, None),
        ({"surprise": 1}, "surprise"),
    ],
)
async def test_bad_projects_get_422_naming_the_field(projects, writer, change, location) -> None:
    r = await projects.client.post("/v1/projects", json=project_body("SY-1", "1000.00") | change, headers=writer)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM
    if location:
        assert any(location in e["location"] for e in r.json()["errors"])
    assert (await projects.client.get("/v1/projects", headers=writer)).json()["items"] == []


async def test_unknown_appeal_or_pillar_is_422_and_duplicate_code_409(projects, writer) -> None:
    r = await projects.client.post("/v1/projects", json=project_body("SY-1", "10.00", appeal="NOPE"), headers=writer)
    assert r.status_code == 422 and "NOPE" in r.json()["detail"]
    appeal = {
        "code": "GA",
        "title": "Appeal",
        "year": 2024,
        "pillars": [{"code": "P1", "title": "x", "requirements_usd": "1"}],
    }
    assert (await projects.client.post("/v1/appeals", json=appeal, headers=writer)).status_code == 201
    assert (await projects.client.post("/v1/appeals", json=appeal, headers=writer)).status_code == 409
    r = await projects.client.post(
        "/v1/projects", json=project_body("SY-1", "10.00", appeal="GA", pillar="P9"), headers=writer
    )
    assert r.status_code == 422 and "P1" in r.json()["detail"]
    await create_project(projects, writer, "SY-1", "10.00", appeal="GA", pillar="P1")
    r = await projects.client.post("/v1/projects", json=project_body("SY-1", "10.00"), headers=writer)
    assert r.status_code == 409 and r.headers["content-type"] == PROBLEM


async def test_arabic_names_round_trip_and_missing_things_are_404(projects, writer) -> None:
    names = {"ar": "مشروع المياه في شمال غرب سوريا 💧", "fr": "Projet d'eau"}
    p = await create_project(projects, writer, "SY-W-1", "10.00", names=names, sector="wash")
    assert (await projects.client.get(f"/v1/projects/{p['id']}", headers=writer)).json()["names"] == names
    assert p["partners"][0]["names"]["ar"] == "جمعية الهلال الأحمر الكويتي"
    missing = "/v1/projects/00000000-0000-0000-0000-000000000009"
    for path in (missing, missing + "/allocations", "/v1/appeals/NOPE"):
        r = await projects.client.get(path, headers=writer)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM
    r = await projects.client.get("/v1/projects/not-a-uuid", headers=writer)
    assert r.status_code == 422


async def test_listing_filters_and_pages_without_overlap(projects, writer) -> None:
    for i in range(5):
        await create_project(projects, writer, f"SY-{i}", "100.00")
    for i in range(3):
        await create_project(projects, writer, f"YE-{i}", "100.00", country="YE", region=None, sector="education")
    await create_project(projects, writer, "SD-0", "100.00", country="SD", region=None, status="planned")

    seen, cursor = [], None
    while True:
        params = {"country": "SY", "limit": 2} | ({"cursor": cursor} if cursor else {})
        body = (await projects.client.get("/v1/projects", params=params, headers=writer)).json()
        seen += [p["code"] for p in body["items"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"SY-{i}" for i in range(5)] and len(seen) == 5
    by_sector = (await projects.client.get("/v1/projects?sector=education", headers=writer)).json()["items"]
    assert {p["code"] for p in by_sector} == {"YE-0", "YE-1", "YE-2"}
    planned = (await projects.client.get("/v1/projects?status=planned", headers=writer)).json()["items"]
    assert [p["code"] for p in planned] == ["SD-0"]
    for bad in ("?cursor=garbage", "?limit=0", "?limit=501", "?country=ZZ", "?status=done"):
        r = await projects.client.get("/v1/projects" + bad, headers=writer)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, bad
    r = await projects.client.get("/v1/coverage?by=donor", headers=writer)
    assert r.status_code == 422


async def test_patch_validates_and_changes(projects, writer) -> None:
    p = await create_project(projects, writer, "LB-1", "100.00", country="LB", region=None)
    r = await projects.client.patch(f"/v1/projects/{p['id']}", json={}, headers=writer)
    assert r.status_code == 422
    r = await projects.client.patch(f"/v1/projects/{p['id']}", json={"status": "finished"}, headers=writer)
    assert r.status_code == 422
    r = await projects.client.patch(
        f"/v1/projects/{p['id']}", json={"status": "closed", "requirements_usd": "250.00"}, headers=writer
    )
    assert r.status_code == 200 and r.json()["status"] == "closed" and r.json()["requirements_usd"] == "250.00"


async def test_a_database_that_is_away_is_503_with_retry_after_not_500(start_service, writer) -> None:
    away = "postgresql+asyncpg://aid:aid@127.0.0.1:1/aid_projects"
    svc = await start_service(
        create_app, ProjectsSettings, away, AID_MODE="production", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092"
    )
    # as a server would: the response goes out, the exception is only logged
    transport = httpx.ASGITransport(app=svc.app, raise_app_exceptions=False)
    client = httpx.AsyncClient(transport=transport, base_url="http://test")
    for method, path, body in (
        ("GET", "/v1/projects", None),
        ("POST", "/v1/projects", project_body("SY-1", "10.00")),
    ):
        r = await client.request(method, path, json=body, headers={**writer, "Idempotency-Key": "k-1"})
        assert r.status_code == 503 and r.headers["content-type"] == PROBLEM, r.text
        assert r.headers["retry-after"] == "2" and "Idempotency-Key" in r.json()["detail"]
    r = await client.get("/readyz")
    assert r.status_code == 503 and "database" in r.json()["detail"]
    await client.aclose()

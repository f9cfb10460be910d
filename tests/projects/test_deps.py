"""Every projects route needs a token (401) with its scope (403), answered as problem+json."""

from __future__ import annotations

import pytest

from tests.helpers import assert_needs_scope, auth, unlisted_routes

ROUTES = [
    ("POST", "/v1/appeals", "projects:write"),
    ("GET", "/v1/appeals", "projects:read"),
    ("GET", "/v1/appeals/IOM-GA-2024", "projects:read"),
    ("PATCH", "/v1/appeals/IOM-GA-2024", "projects:write"),
    ("POST", "/v1/allocation-preview", "projects:read"),
    ("GET", "/v1/exports/projects.csv", "projects:read"),
    ("GET", "/v1/exports/flows.csv", "projects:read"),
    ("GET", "/v1/exports/iati.xml", "projects:read"),
    ("GET", "/v1/reports/plan-clusters", "projects:read"),
    ("POST", "/v1/projects", "projects:write"),
    ("GET", "/v1/projects", "projects:read"),
    ("GET", "/v1/projects/00000000-0000-0000-0000-000000000001", "projects:read"),
    ("PATCH", "/v1/projects/00000000-0000-0000-0000-000000000001", "projects:write"),
    ("GET", "/v1/projects/00000000-0000-0000-0000-000000000001/allocations", "projects:read"),
    ("GET", "/v1/coverage?by=country", "projects:read"),
    ("GET", "/v1/pools", "projects:read"),
    ("GET", "/v1/funding/agreements/00000000-0000-0000-0000-000000000001", "projects:read"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
async def test_every_route_needs_a_token_and_its_scope(projects, token, method, path, scope) -> None:
    other = "projects:read" if scope == "projects:write" else "pledges:read"
    forbidden = await assert_needs_scope(projects.client, token, method, path, other=other)
    assert scope in forbidden.json()["detail"]


async def test_a_partner_token_creates_no_appeal_nor_project_and_changes_no_other_project(projects, token) -> None:
    from tests.projects.conftest import create_project, project_body

    coordinator = auth(token("projects:write projects:read"))
    project = await create_project(projects, coordinator, "SY-H-1", "600000.00")
    partner = auth(token("projects:write projects:read", partner_id="6f1c1b2e-6a0e-4a53-9a55-000000000001"))
    appeal = {
        "code": "X-2024",
        "title": "X",
        "year": 2024,
        "pillars": [{"code": "P1", "title": "P", "requirements_usd": "1"}],
    }
    for method, path, body in (
        ("POST", "/v1/appeals", appeal),
        ("POST", "/v1/projects", project_body("SY-H-2", "1.00")),
        ("PATCH", f"/v1/projects/{project['id']}", {"status": "closed"}),
    ):
        r = await projects.client.request(method, path, json=body, headers=partner)
        assert r.status_code == 403 and "partner" in r.json()["detail"], (method, path)  # it holds no role here
    assert (await projects.client.get(f"/v1/projects/{project['id']}", headers=partner)).json()["status"] == "active"


async def test_the_scope_table_lists_every_route(projects) -> None:
    assert unlisted_routes(projects.app, ROUTES) == []

"""Numbers beyond what is stored and integers beyond any year are 422, never 500."""

from __future__ import annotations

from tests.helpers import PROBLEM
from tests.projects.conftest import project_body


async def test_requirements_beyond_what_is_stored_are_422(projects, writer) -> None:
    r = await projects.client.post("/v1/projects", json=project_body("X-1", "999999999999999999"), headers=writer)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert (await projects.client.get("/v1/projects", headers=writer)).json()["items"] == []


async def test_a_year_out_of_any_range_is_422(projects, writer) -> None:
    r = await projects.client.get("/v1/appeals", params={"year": "-346016299220"}, headers=writer)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


async def test_as_of_out_of_range_is_422(projects, writer) -> None:
    r = await projects.client.get(
        "/v1/coverage", params={"by": "all", "as_of": "0001-01-01T00:00:00+01:00"}, headers=writer
    )
    assert r.status_code == 422 and "as_of" in r.json()["detail"]

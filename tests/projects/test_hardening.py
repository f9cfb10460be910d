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


async def test_a_future_as_of_or_known_at_is_refused_and_today_is_not(projects, writer) -> None:
    """Hardening item 14: a future as_of was answered silently with today's figures under another name."""
    import datetime as dt

    today = dt.datetime.now(dt.UTC).date()
    for path, name, value in (
        ("/v1/coverage?by=all", "as_of", (today + dt.timedelta(days=1)).isoformat()),
        ("/v1/coverage?by=all", "as_of", (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()),
        ("/v1/reports/plan-clusters?country=PS", "known_at", "2999-01-01"),
    ):
        r = await projects.client.get(path, params={name: value}, headers=writer)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (name, value)
        assert "in the future" in r.json()["detail"]
    now = await projects.client.get("/v1/coverage", params={"by": "all", "as_of": today.isoformat()}, headers=writer)
    assert now.status_code == 200

"""Abuse limits (the `limits` library, counters shared in PostgreSQL): writes per token subject across replicas,
failed authentications per client address; over a limit is 429 problem+json with Retry-After."""

from __future__ import annotations

from aid_pledges.app import create_app
from aid_pledges.settings import PledgesSettings
from tests.helpers import PROBLEM, auth

DONOR = {"name": "State of Kuwait", "kind": "government", "country": "KW"}


async def test_writes_per_subject_are_limited_across_replicas(start_service, pg_url, token) -> None:
    env = {"AID_RATE_LIMIT_WRITES": "3/minute"}
    one = await start_service(create_app, PledgesSettings, pg_url, **env)
    two = await start_service(create_app, PledgesSettings, pg_url, **env)  # a second replica, same database
    writer = auth(token("pledges:write pledges:read", subject="busy-system"))
    answers = [await svc.client.post("/v1/donors", json=DONOR, headers=writer) for svc in (one, two, one, two)]
    assert [r.status_code for r in answers] == [201, 201, 201, 429]
    limited = answers[-1]
    assert limited.headers["content-type"] == PROBLEM and 0 < int(limited.headers["retry-after"]) <= 60
    assert "AID_RATE_LIMIT_WRITES" in limited.json()["detail"]
    other = auth(token("pledges:write", subject="someone-else"))
    assert (await two.client.post("/v1/donors", json=DONOR, headers=other)).status_code == 201, "per subject"
    assert (await one.client.get("/v1/donors", headers=writer)).status_code == 200, "reads are not writes"


async def test_an_address_that_keeps_failing_to_authenticate_is_refused(start_service, pg_url, token) -> None:
    svc = await start_service(create_app, PledgesSettings, pg_url, AID_RATE_LIMIT_FAILED_AUTH="3/minute")
    bad = {"Authorization": "Bearer not-a-token"}
    codes = [(await svc.client.get("/v1/donors", headers=bad)).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    refused = await svc.client.get("/v1/donors", headers=auth(token("pledges:read")))
    assert refused.status_code == 429 and refused.headers["retry-after"], "until the window passes"

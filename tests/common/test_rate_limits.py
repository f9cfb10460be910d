"""Abuse limits (the `limits` library, counters shared in PostgreSQL): writes per token subject across replicas,
failed authentications per client address; over a limit is 429 problem+json with Retry-After."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

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


async def test_counters_whose_window_passed_are_forgotten_and_live_ones_kept(pg_url, monkeypatch) -> None:
    """Every address that ever failed to authenticate leaves a counter: a process forgets expired ones now and
    then (one indexed DELETE), while a window still open keeps counting."""
    from aid_common import rate_limits
    from aid_common.db import create_all, create_engine
    from aid_common.tables import PlatformBase, RateLimitCounter

    engine = create_engine(pg_url)
    await create_all(engine, PlatformBase.metadata)
    limits = rate_limits.RateLimits(engine, writes="100/minute", failed_auth="3/second")
    try:
        for address in ("192.0.2.1", "192.0.2.2", "192.0.2.3"):
            await limits.count_failure(address)
        await asyncio.sleep(1.1)  # their one-second windows pass
        await limits.count_write("busy-system")  # a minute's window, still open
        monkeypatch.setattr(rate_limits, "PURGE_EVERY_SECONDS", 0.0)
        limits._next_purge = 0.0
        await limits.count_write("busy-system")  # the purge runs before this request's check
        async with engine.connect() as conn:
            left = dict((await conn.execute(select(RateLimitCounter.key, RateLimitCounter.count))).all())
        assert len(left) == 1 and list(left.values()) == [2], left
    finally:
        await engine.dispose()

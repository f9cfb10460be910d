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


async def test_an_address_that_keeps_failing_to_authenticate_is_refused_but_never_a_valid_token(
    start_service, pg_url, token
) -> None:
    """Hardening item 3: thirty bad tokens from the address everyone behind a console or an ingress shares made
    the admin token answer 429. Bad tokens are refused past the limit; a valid one never is."""
    svc = await start_service(create_app, PledgesSettings, pg_url, AID_RATE_LIMIT_FAILED_AUTH="3/minute")
    bad = {"Authorization": "Bearer not-a-token"}
    codes = [(await svc.client.get("/v1/donors", headers=bad)).status_code for _ in range(5)]
    assert codes == [401, 401, 401, 429, 429]
    refused = await svc.client.get("/v1/donors", headers=bad)
    assert refused.status_code == 429 and refused.headers["retry-after"], "until the window passes"
    assert (await svc.client.get("/v1/donors", headers=auth(token("pledges:read")))).status_code == 200
    assert (await svc.client.get("/v1/donors", headers=auth(token("admin")))).status_code == 200


async def test_behind_a_trusted_proxy_failures_count_per_real_client(start_service, pg_url) -> None:
    """The test client's peer address is 127.0.0.1: as a trusted proxy its X-Forwarded-For names the client;
    an untrusted peer's X-Forwarded-For is ignored (a client cannot pick the address it is counted against)."""
    svc = await start_service(
        create_app, PledgesSettings, pg_url, AID_RATE_LIMIT_FAILED_AUTH="2/minute", AID_TRUSTED_PROXIES="127.0.0.1/32"
    )

    async def attempt(client_address: str) -> int:
        headers = {"Authorization": "Bearer not-a-token", "X-Forwarded-For": client_address}
        return (await svc.client.get("/v1/donors", headers=headers)).status_code

    assert [await attempt("203.0.113.5") for _ in range(3)] == [401, 401, 429]
    assert await attempt("203.0.113.6") == 401, "another client behind the same proxy is not locked out"

    untrusted = await start_service(
        create_app, PledgesSettings, pg_url, AID_RATE_LIMIT_FAILED_AUTH="2/minute", AID_TRUSTED_PROXIES="10.0.0.0/8"
    )
    headers = [{"Authorization": "Bearer not-a-token", "X-Forwarded-For": f"198.51.100.{i}"} for i in range(3)]
    assert [(await untrusted.client.get("/v1/donors", headers=h)).status_code for h in headers] == [401, 401, 429]


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

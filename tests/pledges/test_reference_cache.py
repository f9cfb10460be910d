"""Donors and FX rates held in each API process's memory (aid_pledges.reference_cache): a change — through the
API of any replica, or by hand in the database — applies to the next agreement everywhere, and a replica that
lost its LISTEN connection reads the database until it is back."""

from __future__ import annotations

import json
import re
import uuid

import asyncpg
import pytest
from sqlalchemy import text

from aid_common import pg_listen
from aid_pledges.app import create_app
from aid_pledges.deps import REFERENCE_CACHE
from aid_pledges.settings import PledgesSettings
from tests.helpers import eventually
from tests.pledges.conftest import KUWAIT, agreement_body


@pytest.fixture
async def replicas(start_service, pg_url):
    """Two API replicas of the pledges service on one PostgreSQL database, each listening."""
    first = await start_service(create_app, PledgesSettings, pg_url)
    second = await start_service(create_app, PledgesSettings, pg_url)
    for replica in (first, second):
        await eventually(lambda r=replica: REFERENCE_CACHE.get(r.app).live, timeout=10)
    return first, second


def _plain(pg_url: str) -> str:
    return pg_url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def _rate_applied(replica, writer, donor_id: str) -> str:
    r = await replica.client.post(
        "/v1/agreements",
        headers=writer,
        json=agreement_body(donor_id, reference=uuid.uuid4().hex, amount="100", currency="KWD"),
    )
    assert r.status_code == 201, r.text
    return r.json()["fx_rate"]


async def _set_kwd(replica, writer, rate: str) -> None:
    r = await replica.client.put(
        "/v1/fx-rates/KWD", json={"usd_per_unit": rate, "valid_from": "2024-04-01"}, headers=writer
    )
    assert r.status_code == 200, r.text


async def test_a_rate_changed_on_one_replica_or_by_hand_applies_to_the_next_agreement_on_every_replica(
    replicas, writer, pg_url
) -> None:
    first, second = replicas
    donor = (await first.client.post("/v1/donors", json=KUWAIT, headers=writer)).json()["id"]
    await _set_kwd(first, writer, "3.25")
    assert await _rate_applied(first, writer, donor) == "3.2500000000"
    assert await _rate_applied(second, writer, donor) == "3.2500000000"
    cache = REFERENCE_CACHE.get(second.app)
    hits = cache.hits
    assert await _rate_applied(second, writer, donor) == "3.2500000000"
    assert cache.hits > hits  # the rate came from memory

    await _set_kwd(first, writer, "3.30")  # a correction, on the other replica
    assert await _rate_applied(first, writer, donor) == "3.3000000000"  # the replica that made it: at once
    assert await eventually(lambda: _is(second, writer, donor, "3.3000000000"), timeout=5)

    conn = await asyncpg.connect(_plain(pg_url))  # an operator's hand-written SQL
    try:
        await conn.execute("UPDATE fx_rates SET usd_per_unit = 3.31 WHERE currency = 'KWD'")
    finally:
        await conn.close()
    for replica in (first, second):
        assert await eventually(lambda r=replica: _is(r, writer, donor, "3.3100000000"), timeout=5)


async def _listening(replica) -> str:
    metrics = (await replica.client.get("/metrics")).text
    [value] = re.findall(r'^aid_cache_listening\{cache="aid_pledges_reference"\} (\S+)$', metrics, re.M)
    return value


async def _is(replica, writer, donor: str, rate: str) -> bool:
    return await _rate_applied(replica, writer, donor) == rate


async def test_a_donor_renamed_by_hand_is_named_so_in_the_next_agreement_s_event(replicas, writer, pg_url) -> None:
    first, _ = replicas
    donor = (await first.client.post("/v1/donors", json=KUWAIT, headers=writer)).json()["id"]
    await _rate_applied(first, writer, donor)  # the donor is now in memory
    conn = await asyncpg.connect(_plain(pg_url))
    try:
        await conn.execute("UPDATE organisations SET name = 'الصندوق الكويتي للتنمية' WHERE id = $1", uuid.UUID(donor))
    finally:
        await conn.close()

    async def named_anew() -> bool:
        r = await first.client.post(
            "/v1/agreements",
            headers=writer,
            json=agreement_body(donor, reference=uuid.uuid4().hex, currency="USD"),
        )
        async with first.runtime.engine.connect() as c:
            payload = await c.scalar(text("SELECT payload FROM outbox WHERE key = :k"), {"k": r.json()["id"]})
        return json.loads(payload)["data"]["donor"]["name"] == "الصندوق الكويتي للتنمية"

    assert await eventually(named_anew, timeout=5)


async def test_a_replica_that_lost_its_listener_reads_the_database_until_it_listens_again(
    replicas, writer, pg_url, monkeypatch
) -> None:
    first, _ = replicas
    refused = True  # the database refuses the listeners' reconnection until the test says otherwise
    listen = pg_listen.listen

    async def maybe_listen(*args, **kwargs):
        return None if refused else await listen(*args, **kwargs)

    monkeypatch.setattr(pg_listen, "listen", maybe_listen)
    cache = REFERENCE_CACHE.get(first.app)
    donor = (await first.client.post("/v1/donors", json=KUWAIT, headers=writer)).json()["id"]
    await _set_kwd(first, writer, "3.25")
    assert await _rate_applied(first, writer, donor) == "3.2500000000"
    conn = await asyncpg.connect(_plain(pg_url))
    try:
        # The listeners go; while they are away, a change by hand is announced to no one.
        killed = await conn.fetchval(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'listen:aid_pledges_reference'"
        )
        assert killed == 2  # one per replica
        assert await eventually(lambda: not cache.live, timeout=5)
        assert await _listening(first) == "0.0"  # what an operator sees (dashboard "Donor and FX rate cache")
        await conn.execute("UPDATE fx_rates SET usd_per_unit = 3.40 WHERE currency = 'KWD'")
        misses = cache.misses
        assert await _rate_applied(first, writer, donor) == "3.4000000000"
        assert cache.misses > misses  # read from the database, not from what was held before
    finally:
        await conn.close()
    refused = False
    assert await eventually(lambda: cache.live, timeout=20)  # it listens again, and uses memory again
    assert await _listening(first) == "1.0"
    await _rate_applied(first, writer, donor)
    hits = cache.hits
    assert await _rate_applied(first, writer, donor) == "3.4000000000"
    assert cache.hits > hits


async def test_in_one_process_on_sqlite_a_corrected_rate_applies_to_the_very_next_agreement(
    pledges, writer, kuwait
) -> None:
    """Embedded mode has no NOTIFY: this process's own commit empties its cache."""
    await _set_kwd(pledges, writer, "3.25")
    assert await _rate_applied(pledges, writer, kuwait["id"]) == "3.2500000000"
    assert await _rate_applied(pledges, writer, kuwait["id"]) == "3.2500000000"
    assert REFERENCE_CACHE.get(pledges.app).hits >= 1
    await _set_kwd(pledges, writer, "3.30")
    assert await _rate_applied(pledges, writer, kuwait["id"]) == "3.3000000000"


async def test_with_the_cache_off_every_agreement_reads_the_database(start_service, pg_url, writer) -> None:
    """AID_REFERENCE_CACHE=false, for a DATABASE_URL through a transaction-mode pool (no notifications)."""
    svc = await start_service(create_app, PledgesSettings, pg_url, AID_REFERENCE_CACHE="false")
    assert REFERENCE_CACHE.find(svc.app) is None
    donor = (await svc.client.post("/v1/donors", json=KUWAIT, headers=writer)).json()["id"]
    await _set_kwd(svc, writer, "3.25")
    assert await _rate_applied(svc, writer, donor) == "3.2500000000"
    conn = await asyncpg.connect(_plain(pg_url))
    try:
        await conn.execute("UPDATE fx_rates SET usd_per_unit = 3.50 WHERE currency = 'KWD'")
    finally:
        await conn.close()
    assert await _rate_applied(svc, writer, donor) == "3.5000000000"  # at once: nothing held

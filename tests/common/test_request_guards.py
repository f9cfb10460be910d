"""Checks every route passes first: unknown query parameters and NUL characters are 422 problem+json, never a 500
and never a write; client-chosen values never grow the metrics."""

from __future__ import annotations

from tests.common.sample import count_things
from tests.helpers import PROBLEM, auth

URL = "/v1/stored-things"


async def test_a_nul_character_anywhere_is_422_and_nothing_is_written(sample, token) -> None:
    headers = {**auth(token("things:write")), "content-type": "application/json"}
    r = await sample.client.post(URL, content=b'{"name": "a\\u0000b", "count": 1}', headers=headers)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM and "NUL" in r.json()["detail"]
    raw = await sample.client.post(URL, content=b'{"name": "a\x00b", "count": 1}', headers=headers)
    assert raw.status_code == 422 and raw.headers["content-type"] == PROBLEM  # not even JSON
    r = await sample.client.get(URL, params={"cursor": "a\x00"}, headers=headers)
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "query"
    async with sample.runtime.sessions() as session:
        assert await count_things(session) == 0


async def test_an_unknown_query_parameter_is_named(sample, token) -> None:
    r = await sample.client.get(URL, params={"limit": 2, "colour": "blue"}, headers=auth(token("things:write")))
    assert r.status_code == 422 and "colour" in r.json()["detail"] and "limit" in r.json()["detail"]


async def test_cursors_that_cannot_be_read_are_422(sample, token) -> None:
    import base64
    import json

    for moment in ("2024-01-01T00:00:00", "9999-12-31T23:59:59-05:00", "0001-01-01T00:00:00+01:00"):
        raw = json.dumps({"t": moment, "i": "6f1c1b2e-6a0e-4a53-9a55-000000000001"}).encode()
        cursor = base64.urlsafe_b64encode(raw).decode().rstrip("=")
        r = await sample.client.get(URL, params={"cursor": cursor}, headers=auth(token("things:write")))
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, moment


async def test_random_methods_do_not_grow_the_metrics(sample) -> None:
    before = (await sample.client.get("/metrics")).text.count("aid_http_request_duration_seconds_count")
    for i in range(30):
        await sample.client.request(f"X{i}Y", "/v1/stored-things")
    after = (await sample.client.get("/metrics")).text.count("aid_http_request_duration_seconds_count")
    assert after - before <= 2, "unknown methods share one series"

"""Idempotency-Key on a write route (`@idempotent` over a `UnitOfWork`): a retried POST is answered from what was
stored, never done twice; keys are per caller; a request that fails releases its key and writes nothing."""

from __future__ import annotations

import asyncio

from aid_common.db import transaction
from aid_common.tables import IdempotencyRecord
from tests.common.sample import count_things
from tests.helpers import PROBLEM, auth

URL = "/v1/stored-things"


async def _things(sample) -> int:
    async with transaction(sample.runtime.sessions) as session:
        return await count_things(session)


async def test_same_key_same_body_answers_the_first_answer_again(sample, token) -> None:
    headers = {**auth(token("things:write")), "Idempotency-Key": "k-1"}
    first = await sample.client.post(URL, json={"name": "الهلال الأحمر", "count": 1}, headers=headers)
    again = await sample.client.post(URL, json={"name": "الهلال الأحمر", "count": 1}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert await _things(sample) == 1


async def test_same_key_other_body_is_rejected_and_nothing_is_written(sample, token) -> None:
    headers = {**auth(token("things:write")), "Idempotency-Key": "k-2"}
    assert (await sample.client.post(URL, json={"name": "a", "count": 1}, headers=headers)).status_code == 201
    other = await sample.client.post(URL, json={"name": "b", "count": 1}, headers=headers)
    assert other.status_code == 422 and other.headers["content-type"] == PROBLEM
    assert "different request" in other.json()["detail"]
    assert await _things(sample) == 1


async def test_keys_are_scoped_to_the_caller(sample, token) -> None:
    body = {"name": "a", "count": 1}
    one = await sample.client.post(URL, json=body, headers={**auth(token("things:write")), "Idempotency-Key": "k"})
    other_caller = {**auth(token("things:write", subject="someone-else")), "Idempotency-Key": "k"}
    two = await sample.client.post(URL, json=body, headers=other_caller)
    assert one.status_code == two.status_code == 201 and one.json()["id"] != two.json()["id"]
    assert await _things(sample) == 2


async def test_a_failed_request_writes_nothing_and_releases_its_key(sample, token) -> None:
    headers = {**auth(token("things:write")), "Idempotency-Key": "k-3"}
    failed = await sample.client.post(URL, json={"name": "fail-after-write", "count": 1}, headers=headers)
    assert failed.status_code == 422
    assert await _things(sample) == 0  # the unit of work rolled back the row it had flushed
    async with transaction(sample.runtime.sessions) as session:
        assert await session.get(IdempotencyRecord, ("tester", "k-3")) is None
    retried = await sample.client.post(URL, json={"name": "fail-after-write", "count": 1}, headers=headers)
    assert retried.status_code == 422 and "refused" in retried.json()["detail"]  # run again, not "in progress"


async def test_concurrent_requests_with_one_key_write_once(sample, token) -> None:
    headers = {**auth(token("things:write")), "Idempotency-Key": "k-4"}
    answers = await asyncio.gather(
        *(sample.client.post(URL, json={"name": "a", "count": 1}, headers=headers) for _ in range(4))
    )
    assert {r.status_code for r in answers} <= {201, 409}
    assert len({r.json()["id"] for r in answers if r.status_code == 201}) == 1
    assert await _things(sample) == 1


async def test_without_a_key_every_request_writes(sample, token) -> None:
    for _ in range(2):
        r = await sample.client.post(URL, json={"name": "a", "count": 1}, headers=auth(token("things:write")))
        assert r.status_code == 201
    assert await _things(sample) == 2

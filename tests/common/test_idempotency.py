"""Idempotency-Key on a write route (`@idempotent` over a `UnitOfWork`): a retried POST is answered from what was
stored, never done twice; keys are per caller; a request that fails releases its key and writes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt

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


async def test_a_slow_request_keeps_its_key_and_is_never_run_twice(sample, token, monkeypatch) -> None:
    """Hardening item 13: a request slower than the abandonment delay (60 s) lost its key to a retry, and ran
    twice. A request still running now says so (a heartbeat), so the retry hears "in progress"."""
    from aid_common import idempotency

    monkeypatch.setattr(idempotency, "ABANDONED_AFTER", dt.timedelta(seconds=1))
    monkeypatch.setattr(idempotency, "HEARTBEAT", dt.timedelta(seconds=0.2), raising=False)
    headers = {**auth(token("things:write")), "Idempotency-Key": "k-slow"}
    body = {"name": "slow-2.5", "count": 1}
    first = asyncio.create_task(sample.client.post(URL, json=body, headers=headers))
    await asyncio.sleep(1.6)  # past the abandonment delay, the first still working
    retry = await sample.client.post(URL, json=body, headers=headers)
    assert retry.status_code == 409 and "in progress" in retry.json()["detail"]
    assert (await first).status_code == 201
    again = await sample.client.post(URL, json=body, headers=headers)
    assert again.headers["Idempotent-Replayed"] == "true" and again.json() == (await first).json()
    assert await _things(sample) == 1


async def test_without_a_key_every_request_writes(sample, token) -> None:
    for _ in range(2):
        r = await sample.client.post(URL, json={"name": "a", "count": 1}, headers=auth(token("things:write")))
        assert r.status_code == 201
    assert await _things(sample) == 2


def test_fingerprints_and_stored_answers_are_what_they_were_before_the_fast_encoder() -> None:
    """Keys reserved before an upgrade must still match their retries: the fingerprint of a body, and a stored
    answer, are byte for byte what `jsonable_encoder` made of them (the encoder they were computed with)."""
    import datetime as dt
    import enum
    import hashlib
    import json
    import uuid
    from decimal import Decimal

    from fastapi.encoders import jsonable_encoder
    from pydantic import BaseModel, Field

    from aid_common.idempotency import _plain, fingerprint

    class Kind(enum.StrEnum):
        GOVERNMENT = "government"

    class Earmark(BaseModel):
        country: str | None = None
        sector: str = "health"

    class Body(BaseModel):
        donor_id: uuid.UUID
        title: str
        amount: Decimal
        signed_on: dt.date
        at: dt.datetime
        kind: Kind
        earmark: Earmark
        tags: list[str] = []
        note: str | None = None
        legacy: str = Field("x", alias="legacyName")

    body = Body(
        donor_id=uuid.uuid4(), title="منحة لدعم الرعاية الصحية\n\t\"quoted\"", amount=Decimal("125000.50"),
        signed_on=dt.date(2024, 6, 1), at=dt.datetime(2024, 6, 1, 12, 30, 5, 123456, tzinfo=dt.UTC),
        kind=Kind.GOVERNMENT, earmark=Earmark(country="SY"), tags=["ص", "b"], legacyName="y",
    )  # fmt: skip
    before = json.dumps(jsonable_encoder([body]), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert fingerprint("POST /v1/x", [body]) == hashlib.sha256(f"POST /v1/x\n{before}".encode()).hexdigest()
    assert _plain(body) == jsonable_encoder(body)

"""POST /v1/agreements on PostgreSQL: the reference check and the insert are one statement (INSERT … ON CONFLICT DO
NOTHING), the reservation of an Idempotency-Key and the rate-limit counter each one autocommitted statement — so
these tests hold the path to what partners rely on under concurrency."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import event

from aid_common import db, rate_limits
from aid_common.db import rows
from aid_common.db.statements import for_driver
from aid_contracts import PLEDGES_TOPIC
from aid_pledges.app import create_app
from aid_pledges.deps import REFERENCE_CACHE
from aid_pledges.settings import PledgesSettings
from tests.helpers import PROBLEM, eventually
from tests.pledges.conftest import agreement_body, new_donor


async def _pledges(start_service, pg_url):
    return await start_service(create_app, PledgesSettings, pg_url, AID_RATE_LIMIT_WRITES="5/minute")


async def test_racing_posts_of_one_reference_create_one_agreement_and_one_event(
    start_service, pg_url, writer, reader
) -> None:
    svc = await start_service(create_app, PledgesSettings, pg_url)
    donor = await new_donor(svc, writer)
    body = agreement_body(donor["id"])
    answers = await asyncio.gather(*[svc.client.post("/v1/agreements", headers=writer, json=body) for _ in range(8)])
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] + [409] * 7, codes
    refused = next(r for r in answers if r.status_code == 409)
    assert refused.headers["content-type"] == PROBLEM and body["reference"] in refused.json()["detail"]
    created = next(r.json() for r in answers if r.status_code == 201)
    assert created["title"] == body["title"]  # Arabic, as sent
    listed = (await svc.client.get("/v1/agreements", headers=reader)).json()["items"]
    assert [a["id"] for a in listed] == [created["id"]]
    history = (await svc.client.get(f"/v1/agreements/{created['id']}/history", headers=reader)).json()["items"]
    assert [h["action"] for h in history] == ["created", "signed"]
    assert await svc.relay() == 1, "the refused ones wrote no event"


async def test_an_unknown_donor_is_422_and_writes_nothing(start_service, pg_url, writer, reader) -> None:
    svc = await start_service(create_app, PledgesSettings, pg_url)
    r = await svc.client.post(
        "/v1/agreements", headers=writer, json=agreement_body("6f1c1f0e-0000-4000-8000-000000000000")
    )
    assert r.status_code == 422 and "POST /v1/donors" in r.json()["detail"]
    assert (await svc.client.get("/v1/agreements", headers=reader)).json()["items"] == []
    assert await svc.relay() == 0


async def test_the_write_limit_counts_every_post_and_a_replay_answers_the_first(start_service, pg_url, writer) -> None:
    svc = await _pledges(start_service, pg_url)
    donor = await new_donor(svc, writer)  # write 1
    keyed = {**writer, "Idempotency-Key": "partner-retry-1"}
    first = await svc.client.post("/v1/agreements", headers=keyed, json=agreement_body(donor["id"]))  # write 2
    again = await svc.client.post("/v1/agreements", headers=keyed, json=agreement_body(donor["id"]))  # write 3
    assert first.status_code == again.status_code == 201 and again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    for n in (4, 5):
        r = await svc.client.post("/v1/agreements", headers=writer, json=agreement_body(donor["id"], reference=f"R{n}"))
        assert r.status_code == 201
    over = await svc.client.post("/v1/agreements", headers=writer, json=agreement_body(donor["id"], reference="R6"))
    assert over.status_code == 429 and int(over.headers["retry-after"]) >= 1
    assert await svc.relay() == 3, "one event per agreement: the replay and the refused post wrote none"


async def test_a_batch_of_new_agreements_is_four_statements_whatever_its_size(
    start_service, pg_url, writer, reader, monkeypatch
) -> None:
    """Before its unit of work: the write limit and the Idempotency-Key (each run by the driver itself, one
    statement for all the requests gathered). Then its batch (`aid_common.group_commit`): the agreements, their
    history, their events, their stored answers — four statements for one request or for sixteen; the donor and
    the rate come from memory once read."""
    svc = await start_service(create_app, PledgesSettings, pg_url, AID_GROUP_COMMIT_WINDOW_MS="20")
    await eventually(lambda: REFERENCE_CACHE.get(svc.app).live, timeout=10)  # its LISTEN connection is up
    donor = await new_donor(svc, writer)
    await svc.client.post("/v1/agreements", headers=writer, json=agreement_body(donor["id"], reference="warm"))
    alone: list[str] = []
    batched: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:
        batched.append(statement.split()[0])

    async def fetch_alone(engine, statement, params):
        alone.append(for_driver(statement, engine.dialect).sql.split()[0])
        return await db.fetch_alone(engine, statement, params)

    for module in (rate_limits, rows):
        monkeypatch.setattr(module, "fetch_alone", fetch_alone)

    async def post(n: int) -> dict:
        r = await svc.client.post(
            "/v1/agreements",
            headers={**writer, "Idempotency-Key": f"k-{n}"},
            json=agreement_body(donor["id"], reference=f"pledged-{n}", status="pledged", signed_on=None),
        )
        assert r.status_code == 201, r.text
        return r.json()

    group_engine = svc.runtime.group_commit.engine.sync_engine  # the group's own connections
    event.listen(group_engine, "before_cursor_execute", seen)
    try:
        one = await post(0)
        assert (alone, batched) == (["INSERT", "INSERT"], ["INSERT", "INSERT", "INSERT", "UPDATE"])
        batched.clear()
        await asyncio.gather(*(post(n) for n in range(1, 17)))
    finally:
        event.remove(group_engine, "before_cursor_execute", seen)
    assert len(batched) < 4 * 16 and len(batched) % 4 == 0, batched
    assert len(alone) < 2 * 16 and alone.count("INSERT") == len(alone), alone
    history = (await svc.client.get(f"/v1/agreements/{one['id']}/history", headers=reader)).json()["items"]
    assert [h["action"] for h in history] == ["created"]
    assert await svc.relay() == 18  # the warm-up's and these
    pledged = [m for m in svc.bus.messages(PLEDGES_TOPIC) if m.key == one["id"]]
    assert len(pledged) == 1
    sent = json.loads(pledged[0].value)
    assert sent["type"] == "aid.agreement.pledged" and sent["data"]["amount"] == "1000000.00"


async def test_concurrent_writes_counted_together_still_stop_at_the_limit(start_service, pg_url, writer) -> None:
    """The write limit's hits of many requests are one statement (summed per subject); each hit is still counted
    as if alone, so exactly the allowed number pass."""
    svc = await start_service(create_app, PledgesSettings, pg_url, AID_RATE_LIMIT_WRITES="5/minute")
    donor = await new_donor(svc, writer)  # write 1
    answers = await asyncio.gather(
        *(
            svc.client.post("/v1/agreements", headers=writer, json=agreement_body(donor["id"], reference=f"L{n}"))
            for n in range(8)
        )
    )
    assert sorted(r.status_code for r in answers) == [201] * 4 + [429] * 4

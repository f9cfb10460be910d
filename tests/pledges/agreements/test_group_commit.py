"""Group commit on the intake (`aid_common.group_commit`): concurrent POST /v1/agreements on PostgreSQL are written
in shared transactions, and still each request gets its own answer, a conflict fails its request alone, a request
that fails after its rows were written leaves nothing behind, and a crash loses no answered request."""

from __future__ import annotations

import asyncio
import signal

import httpx
from prometheus_client import REGISTRY
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import create_async_engine

from aid_common.errors import Unprocessable
from aid_pledges.agreements import views
from aid_pledges.app import create_app
from aid_pledges.settings import PledgesSettings
from tests.helpers import PROBLEM
from tests.pledges.conftest import KUWAIT, agreement_body, new_donor
from tests.processes import migrate

# A wide window so that requests driven in-process (which reach the write one after another) share batches.
GROUPED = {"AID_GROUP_COMMIT_WINDOW_MS": "20", "AID_RATE_LIMIT_WRITES": "100000/minute"}


def _batches() -> tuple[float, float]:
    labels = {"service": "pledges"}
    count = REGISTRY.get_sample_value("aid_group_commit_batch_size_count", labels) or 0.0
    total = REGISTRY.get_sample_value("aid_group_commit_batch_size_sum", labels) or 0.0
    return count, total


def _rewrites() -> float:
    return REGISTRY.get_sample_value("aid_group_commit_rewrites_total", {"service": "pledges"}) or 0.0


async def _post_all(svc, bodies: list[dict], writer: dict[str, str]) -> list[httpx.Response]:
    return list(
        await asyncio.gather(
            *(
                svc.client.post("/v1/agreements", headers={**writer, "Idempotency-Key": f"k-{n}"}, json=body)
                for n, body in enumerate(bodies)
            )
        )
    )


async def test_64_concurrent_posts_share_transactions_and_each_gets_its_own_answer(
    start_service, pg_url, writer, reader
) -> None:
    svc = await start_service(create_app, PledgesSettings, pg_url, **GROUPED)
    donor = await new_donor(svc, writer)
    bodies = [
        agreement_body(donor["id"], reference=f"G-{n:02}", amount=f"{1000 + n}.50", title=f"منحة رقم {n}")
        for n in range(64)
    ]
    before = _batches()
    answers = await _post_all(svc, bodies, writer)
    count, total = (a - b for a, b in zip(_batches(), before, strict=True))

    assert [r.status_code for r in answers] == [201] * 64, [r.text for r in answers if r.status_code != 201][:3]
    for body, r in zip(bodies, answers, strict=True):
        assert (r.json()["reference"], r.json()["amount"], r.json()["title"]) == (
            body["reference"],
            body["amount"],
            body["title"],
        )
    assert total == 64 and count < 64, f"{total} requests in {count} batches: none were grouped"
    listed = (await svc.client.get("/v1/agreements", headers=reader, params={"limit": 100})).json()["items"]
    assert sorted(a["reference"] for a in listed) == sorted(b["reference"] for b in bodies)
    some = answers[37].json()
    history = (await svc.client.get(f"/v1/agreements/{some['id']}/history", headers=reader)).json()["items"]
    assert [h["action"] for h in history] == ["created", "signed"]
    assert await svc.relay() == 64, "one event per agreement"
    again = await svc.client.post(
        "/v1/agreements", headers={**writer, "Idempotency-Key": "k-37"}, json=bodies[37]
    )  # its stored answer was written in its batch
    assert again.headers["idempotent-replayed"] == "true" and again.json() == some


async def test_a_conflict_in_the_middle_of_a_batch_fails_that_request_alone(
    start_service, pg_url, writer, reader
) -> None:
    svc = await start_service(create_app, PledgesSettings, pg_url, **GROUPED)
    donor = await new_donor(svc, writer)
    taken = await svc.client.post("/v1/agreements", headers=writer, json=agreement_body(donor["id"], reference="T"))
    assert taken.status_code == 201
    bodies = [agreement_body(donor["id"], reference=f"C-{n:02}") for n in range(64)]
    bodies[20] = agreement_body(donor["id"], reference="T")  # taken before the batch
    bodies[40] = agreement_body(donor["id"], reference="C-41")  # taken within it, by its neighbour
    before = _batches()
    answers = await _post_all(svc, bodies, writer)

    assert _batches()[0] - before[0] < 64
    refused = [n for n, r in enumerate(answers) if r.status_code != 201]
    assert len(refused) == 2 and 20 in refused and ({40, 41} & set(refused)), refused
    for n in refused:
        assert answers[n].status_code == 409 and answers[n].headers["content-type"] == PROBLEM
    listed = (await svc.client.get("/v1/agreements", headers=reader, params={"limit": 100})).json()["items"]
    assert len(listed) == 1 + 62 and len({a["reference"] for a in listed}) == 63
    assert await svc.relay() == 63, "the refused requests wrote no event"
    retried = await svc.client.post(
        "/v1/agreements",
        headers={**writer, "Idempotency-Key": "k-20"},
        json=agreement_body(donor["id"], reference="T-2"),
    )
    assert retried.status_code == 201, "a refused request's key was released, not kept by its batch"


async def test_a_request_failing_after_its_rows_were_written_leaves_nothing_and_its_batch_commits(
    start_service, pg_url, writer, reader, monkeypatch
) -> None:
    svc = await start_service(create_app, PledgesSettings, pg_url, **GROUPED)
    donor = await new_donor(svc, writer)
    answer = views.AgreementRead.model_validate

    def fails_for_boom(agreement, *args, **kwargs):
        if getattr(agreement, "reference", None) == "BOOM":  # after the service wrote it, before the answer
            raise Unprocessable("simulated failure after the write")
        return answer(agreement, *args, **kwargs)

    monkeypatch.setattr(views.AgreementRead, "model_validate", fails_for_boom)
    bodies = [agreement_body(donor["id"], reference=f"F-{n:02}") for n in range(16)]
    bodies[7] = agreement_body(donor["id"], reference="BOOM")
    rewrites = _rewrites()
    answers = await _post_all(svc, bodies, writer)

    assert [r.status_code for n, r in enumerate(answers) if n != 7] == [201] * 15
    assert answers[7].status_code == 422
    assert _rewrites() - rewrites >= 1, "its batch was written again without it"
    listed = (await svc.client.get("/v1/agreements", headers=reader, params={"limit": 100})).json()["items"]
    assert sorted(a["reference"] for a in listed) == sorted(b["reference"] for n, b in enumerate(bodies) if n != 7)
    assert await svc.relay() == 15
    monkeypatch.setattr(views.AgreementRead, "model_validate", answer)
    retried = await svc.client.post(
        "/v1/agreements", headers={**writer, "Idempotency-Key": "k-7"}, json=bodies[7]
    )  # nothing of it stayed: not its row, not its key
    assert retried.status_code == 201 and "idempotent-replayed" not in retried.headers


async def test_a_crash_mid_batch_loses_no_answered_request_and_leaves_none_half_written(
    pg_database, processes, kafka_bootstrap, topic_prefix, key_files, token
) -> None:
    url = await pg_database()
    await asyncio.to_thread(migrate, "pledges", url)
    env = {
        "AID_MODE": "production",
        "DATABASE_URL": url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AID_KAFKA_TOPIC_PREFIX": topic_prefix,
        "AID_JWT_PUBLIC_KEY_FILE": str(key_files[1]),
        "AID_RATE_LIMIT_WRITES": "100000/minute",
    }
    pledges = await processes("pledges", "api", env)
    admin = {"Authorization": f"Bearer {token('admin')}"}
    async with httpx.AsyncClient(timeout=30) as http:
        donor = (await http.post(f"{pledges.url}/v1/donors", json=KUWAIT, headers=admin)).json()
        bodies = [agreement_body(donor["id"], reference=f"K-{n:03}") for n in range(400)]

        async def post(n: int) -> int | None:
            try:
                r = await http.post(
                    f"{pledges.url}/v1/agreements", headers={**admin, "Idempotency-Key": f"crash-{n}"}, json=bodies[n]
                )
                return r.status_code
            except httpx.HTTPError:
                return None  # the process died under it: not answered

        posts = [asyncio.create_task(post(n)) for n in range(len(bodies))]
        while sum(t.done() and t.result() == 201 for t in posts) < 40:
            await asyncio.sleep(0.005)
        assert pledges.proc is not None
        pledges.proc.send_signal(signal.SIGKILL)  # mid-stream: batches are being written and committed
        codes = await asyncio.gather(*posts)
        answered = {n for n, c in enumerate(codes) if c == 201}
        assert 40 <= len(answered) < len(bodies), len(answered)

        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                stored = set((await conn.execute(text("SELECT reference FROM agreements"))).scalars())
                bare = (
                    await conn.execute(
                        text(
                            "SELECT count(*) FROM agreements a WHERE (SELECT count(*) FROM agreement_history h "
                            "WHERE h.agreement_id = a.id) <> 2 OR NOT EXISTS (SELECT 1 FROM outbox o "
                            "WHERE o.key = a.id::text)"
                        )
                    )
                ).scalar_one()
            assert {bodies[n]["reference"] for n in answered} <= stored, "an answered request was lost"
            assert bare == 0, "an agreement without its history or its event"

            pledges = await processes("pledges", "api", env)
            again = await asyncio.gather(
                *(
                    http.post(
                        f"{pledges.url}/v1/agreements",
                        headers={**admin, "Idempotency-Key": f"crash-{n}"},
                        json=bodies[n],
                    )
                    for n in range(len(bodies))
                    if n not in answered
                )
            )
            # a request cut off by the crash: done already (its batch committed: its key is answered), or not
            # at all (its reservation is in progress until it is abandoned, then taken over) — never twice
            assert all(
                r.status_code == 201 or (r.status_code == 409 and "in progress" in r.json()["detail"]) for r in again
            ), {r.status_code: r.text for r in again}
            async with engine.connect() as conn:
                counted = (await conn.execute(select(func.count()).select_from(text("agreements")))).scalar_one()
                distinct = (await conn.execute(text("SELECT count(DISTINCT reference) FROM agreements"))).scalar_one()
            assert counted == distinct, "an agreement written twice"
        finally:
            await engine.dispose()


async def test_an_import_whose_donors_are_all_known_is_written_by_its_own_unit_of_work(
    start_service, pg_url, token
) -> None:
    """An import writes flow by flow, each in a savepoint of its own: it is not grouped. When all its donors were
    known, its first write was a new agreement, which joined a batch, and its next write through its own session
    failed (500)."""
    import json

    from tests.fts import FLOW_PAGES

    svc = await start_service(create_app, PledgesSettings, pg_url, **GROUPED)
    admin = {"Authorization": f"Bearer {token('admin')}"}
    page = json.loads(FLOW_PAGES[0].read_bytes())
    first = await svc.client.post(
        "/v1/imports/fts", files=[("files", ("a.json", json.dumps(page).encode()))], headers=admin
    )
    assert first.status_code == 200, first.text
    for flow in page["data"]["flows"]:  # the same flows renumbered: new agreements, every donor known
        flow["id"] = str(int(flow["id"]) + 10_000_000)
        flow["parentFlowId"] = flow.get("parentFlowId") and str(int(flow["parentFlowId"]) + 10_000_000)
        flow["childFlowIds"] = [str(int(c) + 10_000_000) for c in flow.get("childFlowIds") or []]
    again = await svc.client.post(
        "/v1/imports/fts", files=[("files", ("b.json", json.dumps(page).encode()))], headers=admin
    )
    assert again.status_code == 200, again.text
    assert again.json()["created"] == first.json()["created"] > 0

"""Claiming due deliveries and recording attempts (`deliveries.attempts`)."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections import Counter

import pytest
from sqlalchemy import event as sa_event
from sqlalchemy import func, select

from aid_common.db import transaction
from aid_notifications.app import create_app
from aid_notifications.deliveries import attempts
from aid_notifications.deliveries.models import Delivery
from aid_notifications.deliveries.sender import Outcome
from aid_notifications.deliveries.service import history
from aid_notifications.deliveries.worker import DeliveryWorker
from aid_notifications.deps import SECRET_BOX
from aid_notifications.settings import NotificationsSettings
from aid_notifications.subscriptions import service as subscriptions
from tests.helpers import eventually
from tests.notifications.conftest import FAST, create_partner, funding_event, publish, subscribe


@pytest.fixture
async def svc(start_service, sqlite_url, monkeypatch):
    """The service with its delivery worker asleep (it polls every 600 s, is not woken by commits and takes no
    delivery handed at a fan-out): the tests claim by hand."""
    monkeypatch.setattr(DeliveryWorker, "wake", lambda self: None)
    monkeypatch.setattr(DeliveryWorker, "reserve", lambda self, offers, partners: [])
    return await start_service(
        create_app, NotificationsSettings, sqlite_url, role="all", **FAST | {"AID_DELIVERY_POLL_SECONDS": "600"}
    )


async def test_when_many_partners_wait_each_claims_its_fair_share_of_the_slots(svc, admin) -> None:
    big = await create_partner(svc, admin, "Big Partner")
    for path in ("/a", "/b", "/c"):
        await subscribe(svc, admin, big["id"], f"http://127.0.0.1:9/{path}", ["aid.project.*"], countries=["YE"])
    small = []
    for name in ("Qatar Charity", "Kuwait Red Crescent Society"):
        small.append(partner := await create_partner(svc, admin, name))
        await subscribe(svc, admin, partner["id"], "http://127.0.0.1:9/s", ["aid.project.*"], countries=["SY"])
    for country in ("YE", "YE", "YE", "YE", "SY"):
        await publish(svc, funding_event(country))
    sessions = svc.runtime.sessions

    async def queued() -> bool:
        async with transaction(sessions) as session:
            return await session.scalar(select(func.count()).select_from(Delivery)) == 14

    await eventually(queued, timeout=10)

    async def claim(slots: int | None) -> Counter[str]:
        async with sessions() as session, session.begin():
            claimed = await attempts.claim(
                session=session, limit=6, in_flight=Counter(), per_subscription=4, per_partner=4,
                lease=dt.timedelta(seconds=60), box=SECRET_BOX.get(svc.app), slots=slots,
            )  # fmt: skip
            await session.rollback()
        return Counter(str(c.partner_id) for c in claimed)

    assert (await claim(None))[big["id"]] == 4, "by the per-partner limit alone, the big partner takes four of six"
    fair = await claim(6)
    assert fair[big["id"]] == 2 and all(fair[p["id"]] == 1 for p in small), (
        "three partners wait: two slots each at most"
    )


async def test_an_attempt_that_ends_after_a_replay_leaves_the_replayed_turn_waiting(svc, admin) -> None:
    partner = await create_partner(svc, admin)
    sub = await subscribe(svc, admin, partner["id"], "http://127.0.0.1:9/x", ["aid.project.*"])
    await publish(svc, funding_event())
    sessions = svc.runtime.sessions

    async def queued() -> bool:
        async with transaction(sessions) as session:
            return await session.scalar(select(func.count()).select_from(Delivery)) == 1

    await eventually(queued, timeout=10)
    async with transaction(sessions) as session:
        (out,) = await attempts.claim(
            session=session, limit=1, in_flight=Counter(), per_subscription=4, per_partner=4,
            lease=dt.timedelta(seconds=60), box=SECRET_BOX.get(svc.app),
        )  # fmt: skip
    # While the webhook is out, the partner replays: the delivery is queued again for a new turn.
    r = await svc.client.post(
        f"/v1/subscriptions/{sub['id']}/replay", json={"since": "2000-01-01T00:00:00Z"}, headers=admin
    )
    assert r.status_code == 202
    async with transaction(sessions) as session:
        (verdict,) = await attempts.record_outcomes(
            session=session,
            outcomes=[(out, Outcome(status_code=200, error=None, duration_ms=12))],
            policy=svc.runtime.settings.retry_policy,
        )
    assert verdict is None
    async with transaction(sessions) as session:
        delivery = await session.get(Delivery, out.delivery_id)
        assert delivery.status == "pending", "the replayed turn still goes out"
        assert len(await history(session=session, delivery_id=delivery.id)) == 1, "the attempt is kept as history"


async def test_a_claim_reads_in_a_fixed_number_of_statements_however_many_subscriptions_it_takes(svc, admin) -> None:
    """A fan-out claim takes deliveries of many subscriptions and events at once: their addresses, secrets and
    event bodies are read together (a claim of 64 used to cost ~130 statements, one per subscription, secret
    and event) — and each delivery still gets its own subscription's address and secret and its own event."""
    subs = {}
    for i in range(8):
        partner = await create_partner(svc, admin, f"Partner {i}")
        sub = await subscribe(svc, admin, partner["id"], f"http://127.0.0.1:9/p{i}", ["aid.project.*"])
        subs[sub["id"]] = sub
    events = [funding_event(country) for country in ("SY", "YE", "SD")]
    for event in events:
        await publish(svc, event)
    sessions = svc.runtime.sessions

    async def queued() -> bool:
        async with transaction(sessions) as session:
            return await session.scalar(select(func.count()).select_from(Delivery)) == 24

    await eventually(queued, timeout=10)
    statements: list[str] = []
    engine = svc.runtime.engine.sync_engine
    claiming: list[object] = []  # the claim's own connection: the relay and workers run beside it

    def listener(conn, cursor, statement, *rest) -> None:
        if conn in claiming:
            statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", listener)
    try:
        async with transaction(sessions) as session:
            claiming.append((await session.connection()).sync_connection)
            claimed = await attempts.claim(
                session=session, limit=24, in_flight=Counter(), per_subscription=4, per_partner=4,
                lease=dt.timedelta(seconds=60), box=SECRET_BOX.get(svc.app), slots=64,
            )  # fmt: skip
    finally:
        sa_event.remove(engine, "before_cursor_execute", listener)
    assert len(claimed) == 24
    assert 4 <= len(statements) <= 6, statements  # partners waiting, candidates, secrets, bodies, lease
    bodies = {e.id: e.to_json() for e in events}
    for c in claimed:
        assert c.url == subs[str(c.subscription_id)]["url"]
        assert c.secrets == [subs[str(c.subscription_id)]["secret"]]
        assert json.loads(c.body)["id"] in bodies
    assert len({(c.subscription_id, json.loads(c.body)["id"]) for c in claimed}) == 24
    async with transaction(sessions) as session:
        leased = await session.scalar(
            select(func.count()).select_from(Delivery).where(Delivery.next_attempt_at > dt.datetime.now(dt.UTC))
        )
    assert leased == 24, "every claimed delivery is leased"


async def test_deliveries_of_a_disabled_subscription_go_dead_without_taking_the_partner_s_share(svc, admin) -> None:
    """A partner's disabled subscription still has deliveries waiting, older than those of its active one: the
    claim marks them dead (no request is made) and still gives the partner its one slot for the active one."""
    partner = await create_partner(svc, admin)
    sessions = svc.runtime.sessions

    def queued(count: int):
        async def check() -> bool:
            async with transaction(sessions) as session:
                return await session.scalar(select(func.count()).select_from(Delivery)) == count

        return check

    gone = await subscribe(svc, admin, partner["id"], "http://127.0.0.1:9/gone", ["aid.project.*"])
    await publish(svc, funding_event())
    await eventually(queued(1), timeout=10)  # only the first subscription exists: its delivery is the oldest
    live = await subscribe(svc, admin, partner["id"], "http://127.0.0.1:9/live", ["aid.project.*"])
    await publish(svc, funding_event())
    await eventually(queued(3), timeout=10)
    async with transaction(sessions) as session:
        await subscriptions.disable(session=session, subscription_id=uuid.UUID(gone["id"]), reason="410 Gone")
    async with transaction(sessions) as session:
        claimed = await attempts.claim(
            session=session, limit=3, in_flight=Counter(), per_subscription=4, per_partner=1,
            lease=dt.timedelta(seconds=60), box=SECRET_BOX.get(svc.app),
        )  # fmt: skip
    assert [str(c.subscription_id) for c in claimed] == [live["id"]]
    async with transaction(sessions) as session:
        dead = (await session.execute(select(Delivery).where(Delivery.status == "dead"))).scalars().all()
    assert [str(d.subscription_id) for d in dead] == [gone["id"]] * 2
    assert all(d.last_error == "the subscription is disabled" for d in dead)


async def test_a_subscription_s_own_cap_on_requests_at_once_replaces_the_default_within_the_partner_s(
    svc, admin
) -> None:
    """One endpoint takes one request at a time, another keeps up with more than the default (4); the partner's
    cap (AID_DELIVERY_PER_PARTNER) still bounds them all."""
    serial = await create_partner(svc, admin, "Serial Partner")
    busy = await create_partner(svc, admin, "Busy Partner")
    one = await subscribe(svc, admin, serial["id"], "http://127.0.0.1:9/one", ["aid.project.*"])
    r = await svc.client.patch(f"/v1/subscriptions/{one['id']}", json={"max_in_flight": 1}, headers=admin)
    assert r.status_code == 200 and r.json()["max_in_flight"] == 1
    r = await svc.client.post(
        "/v1/subscriptions",
        json={"partner_id": busy["id"], "url": "http://127.0.0.1:9/many", "event_types": ["aid.project.*"],
              "max_in_flight": 10},
        headers=admin,
    )  # fmt: skip
    assert r.status_code == 201 and r.json()["max_in_flight"] == 10
    many = r.json()
    for _ in range(12):
        await publish(svc, funding_event())
    sessions = svc.runtime.sessions

    async def queued() -> bool:
        async with transaction(sessions) as session:
            return await session.scalar(select(func.count()).select_from(Delivery)) == 24

    await eventually(queued, timeout=10)

    async def claim(per_partner: int) -> Counter[str]:
        async with sessions() as session, session.begin():
            claimed = await attempts.claim(
                session=session, limit=24, in_flight=Counter(), per_subscription=4, per_partner=per_partner,
                lease=dt.timedelta(seconds=60), box=SECRET_BOX.get(svc.app),
            )  # fmt: skip
            await session.rollback()
        return Counter(str(c.subscription_id) for c in claimed)

    taken = await claim(per_partner=16)
    assert taken[one["id"]] == 1 and taken[many["id"]] == 10
    assert (await claim(per_partner=8))[many["id"]] == 8, "the partner's cap still holds"
    for bad in (0, 65, "many"):
        r = await svc.client.patch(f"/v1/subscriptions/{one['id']}", json={"max_in_flight": bad}, headers=admin)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", bad
    r = await svc.client.patch(f"/v1/subscriptions/{one['id']}", json={"max_in_flight": None}, headers=admin)
    assert r.status_code == 200 and r.json()["max_in_flight"] is None
    assert (await claim(per_partner=16))[one["id"]] == 4, "unset: the default again"

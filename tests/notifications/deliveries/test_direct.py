"""Deliveries handed to the worker by the fan-out that queues them (`deliveries.direct`): sent at commit with no
claim, never when the transaction rolls back, within the same caps, and still at least once if they are lost."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from aid_common.db import transaction, utcnow
from aid_notifications.app import create_app
from aid_notifications.deliveries import direct
from aid_notifications.deliveries import service as deliveries
from aid_notifications.deliveries.models import Delivery
from aid_notifications.deliveries.worker import DeliveryWorker
from aid_notifications.settings import NotificationsSettings
from tests.helpers import eventually
from tests.notifications.conftest import FAST, create_partner, funding_event, subscribe

ASLEEP = {"AID_DELIVERY_POLL_SECONDS": "600"}  # after its first claim, the worker finds nothing by polling


@pytest.fixture
async def svc(start_service, sqlite_url, monkeypatch):
    """The worker never woken by commits and polling every 600 s: a webhook that goes out was handed over."""
    monkeypatch.setattr(DeliveryWorker, "wake", lambda self: None)
    return await start_service(create_app, NotificationsSettings, sqlite_url, role="all", **FAST | ASLEEP)


async def _running_worker(svc) -> DeliveryWorker:
    """The service's worker, once it has started (and registered to be handed deliveries)."""
    return await eventually(lambda: direct._workers.get(id(svc.runtime.sessions.kw["bind"])))


async def _fan_out(svc, *events) -> None:
    async with transaction(svc.runtime.sessions) as session:
        for event in events:
            await deliveries.fan_out(session=session, event=event)


async def _leased(svc) -> int:
    async with transaction(svc.runtime.sessions) as session:
        return await session.scalar(select(func.count()).where(Delivery.next_attempt_at > utcnow())) or 0


async def test_a_matched_event_is_sent_at_commit_without_a_claim(svc, admin, receiver) -> None:
    partner = await create_partner(svc, admin)
    await subscribe(svc, admin, partner["id"], receiver.url(), ["aid.project.*"])
    await _running_worker(svc)

    await _fan_out(svc, funding_event())

    await eventually(lambda: len(receiver.at("/hook")) == 1, timeout=5)

    async def delivered() -> bool:
        items = (await svc.client.get("/v1/deliveries", headers=admin)).json()["items"]
        return [(d["status"], d["attempts"]) for d in items] == [("delivered", 1)]

    await eventually(delivered, timeout=5)
    assert receiver.at("/hook")[0].headers["webhook-id"].startswith("msg_")


async def test_a_rolled_back_fan_out_sends_nothing_and_gives_its_slots_back(svc, admin, receiver) -> None:
    partner = await create_partner(svc, admin)
    await subscribe(svc, admin, partner["id"], receiver.url(), ["aid.project.*"])
    worker = await _running_worker(svc)

    with pytest.raises(RuntimeError, match="after the fan-out"):
        async with transaction(svc.runtime.sessions) as session:
            await deliveries.fan_out(session=session, event=funding_event())
            assert worker.reserved == 1
            raise RuntimeError("a later handler of the round failed after the fan-out")

    assert worker.reserved == 0 and not +worker.in_flight, "no slot is left held"
    await _fan_out(svc, funding_event())  # the slot is free again: the next one goes out
    await eventually(lambda: len(receiver.at("/hook")) == 1, timeout=5)
    assert len(receiver.at("/hook")) == 1, "the rolled-back delivery was never sent"


async def test_inside_a_savepoint_nothing_is_handed(svc, admin, receiver) -> None:
    partner = await create_partner(svc, admin)
    await subscribe(svc, admin, partner["id"], receiver.url(), ["aid.project.*"])
    worker = await _running_worker(svc)

    async with transaction(svc.runtime.sessions) as session, session.begin_nested():
        await deliveries.fan_out(session=session, event=funding_event())
        assert worker.reserved == 0

    assert await _leased(svc) == 0, "queued due now, for a claim"


async def test_only_what_the_caps_allow_is_handed(start_service, sqlite_url, admin, receiver, monkeypatch) -> None:
    """Two requests at a time per subscription: of five events matched in one transaction, two are handed (and
    written leased); three wait, due now, for a claim."""
    monkeypatch.setattr(DeliveryWorker, "wake", lambda self: None)
    env = FAST | ASLEEP | {"AID_DELIVERY_PER_SUBSCRIPTION": "2"}
    svc = await start_service(create_app, NotificationsSettings, sqlite_url, role="all", **env)
    receiver.answer("/hook", *[(200, {}, 2.0)] * 5)
    partner = await create_partner(svc, admin)
    await subscribe(svc, admin, partner["id"], receiver.url(), ["aid.project.*"])
    await _running_worker(svc)

    await _fan_out(svc, *(funding_event() for _ in range(5)))

    await eventually(lambda: len(receiver.at("/hook")) == 2, timeout=5)
    assert await _leased(svc) == 2
    async with transaction(svc.runtime.sessions) as session:
        due = await session.scalar(select(func.count()).where(Delivery.next_attempt_at <= utcnow()))
    assert due == 3


async def test_handed_deliveries_lost_with_their_worker_are_sent_after_the_lease(
    start_service, sqlite_url, admin, receiver, monkeypatch
) -> None:
    """The process dies between the commit and the requests (here: the worker drops what it is handed). The
    deliveries stay leased; once the lease ends a claim sends them, with the webhook-id they were written with."""
    dropped: list = []
    monkeypatch.setattr(DeliveryWorker, "receive", lambda self, items: (dropped.extend(items), self.release(items)))
    env = FAST | {"AID_DELIVERY_LEASE_SECONDS": "1.5"}
    svc = await start_service(create_app, NotificationsSettings, sqlite_url, role="all", **env)
    partner = await create_partner(svc, admin)
    await subscribe(svc, admin, partner["id"], receiver.url(), ["aid.project.*"])
    await _running_worker(svc)

    started = utcnow()
    await _fan_out(svc, funding_event())

    assert len(dropped) == 1
    await eventually(lambda: len(receiver.at("/hook")) == 1, timeout=10)
    assert utcnow() - started >= dt.timedelta(seconds=1.4), "not before the lease ended"
    assert receiver.at("/hook")[0].headers["webhook-id"] == dropped[0].webhook_id

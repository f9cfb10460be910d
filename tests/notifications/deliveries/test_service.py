"""Events are kept for replays for AID_EVENT_RETENTION_DAYS; after that they go with their finished deliveries,
but never while a delivery still waits. The queue's depth and age are metrics."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter

from sqlalchemy import func, select

from aid_common.db import transaction, utcnow
from aid_notifications.app import create_app
from aid_notifications.deliveries import service
from aid_notifications.deliveries.models import Delivery, SeenEvent
from aid_notifications.deliveries.worker import DeliveryWorker
from aid_notifications.settings import NotificationsSettings
from tests.helpers import eventually
from tests.notifications.conftest import FAST, create_partner, funding_event, publish, subscribe


async def test_old_finished_events_are_forgotten_waiting_ones_kept(notifications, admin, receiver) -> None:
    partner = await create_partner(notifications, admin)
    sub = await subscribe(notifications, admin, partner["id"], receiver.url(), ["aid.project.*"])
    sessions = notifications.runtime.sessions
    long_ago, now = utcnow() - dt.timedelta(days=40), utcnow()
    async with transaction(sessions) as session:
        for event_id, received, status in (("old-done", long_ago, "delivered"), ("old-waiting", long_ago, "failed")):
            session.add(
                SeenEvent(event_id=event_id, type="aid.project.created", body="{}", dimensions={}, received_at=received)
            )
            await session.flush()
            session.add(
                Delivery(
                    id=uuid.uuid4(),
                    subscription_id=uuid.UUID(sub["id"]),
                    partner_id=uuid.UUID(partner["id"]),
                    event_id=event_id,
                    event_type="aid.project.created",
                    status=status,
                    attempts=1,
                    next_attempt_at=now + dt.timedelta(days=1) if status == "failed" else None,
                    created_at=received,
                )
            )
        session.add(SeenEvent(event_id="recent", type="aid.project.created", body="{}", dimensions={}, received_at=now))

    worker = DeliveryWorker(
        sessions=sessions, settings=notifications.runtime.settings, box=notifications.app.state.secret_box
    )
    await worker.forget_old_events()
    await worker.report_queue()

    async with transaction(sessions) as session:
        kept = {e.event_id for e in (await session.execute(SeenEvent.__table__.select())).all()}
        deliveries = {d.event_id for d in (await session.execute(Delivery.__table__.select())).all()}
    assert kept == {"old-waiting", "recent"} and deliveries == {"old-waiting"}
    metrics = (await notifications.client.get("/metrics")).text
    assert "aid_webhook_queue_depth 1.0" in metrics
    age = next(line for line in metrics.splitlines() if line.startswith("aid_webhook_oldest_pending_seconds"))
    assert float(age.split()[-1]) > 39 * 86400


async def test_when_many_partners_wait_each_claims_its_fair_share_of_the_slots(
    start_service, sqlite_url, admin
) -> None:
    # The worker sleeps after its first (empty) claim; the test claims by hand.
    svc = await start_service(
        create_app, NotificationsSettings, sqlite_url, role="all", **FAST | {"AID_DELIVERY_POLL_SECONDS": "600"}
    )
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
            claimed = await service.claim(
                session, limit=6, in_flight=Counter(), per_subscription=4, per_partner=4,
                lease=dt.timedelta(seconds=60), box=svc.app.state.secret_box, slots=slots,
            )  # fmt: skip
            await session.rollback()
        return Counter(str(c.partner_id) for c in claimed)

    assert (await claim(None))[big["id"]] == 4, "by the per-partner limit alone, the big partner takes four of six"
    fair = await claim(6)
    assert fair[big["id"]] == 2 and all(fair[p["id"]] == 1 for p in small), (
        "three partners wait: two slots each at most"
    )

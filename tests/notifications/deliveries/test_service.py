"""Events are kept for replays for AID_EVENT_RETENTION_DAYS; after that they go with their finished deliveries,
but never while a delivery still waits. The queue's depth and age are metrics."""

from __future__ import annotations

import datetime as dt
import uuid

from aid_common.db import transaction, utcnow
from aid_notifications.deliveries.models import Delivery, SeenEvent
from aid_notifications.deliveries.worker import DeliveryWorker
from aid_notifications.deps import SECRET_BOX
from tests.notifications.conftest import create_partner, subscribe


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
        sessions=sessions, settings=notifications.runtime.settings, box=SECRET_BOX.get(notifications.app)
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


async def test_a_batch_of_events_is_matched_once_and_written_a_statement_per_table(
    notifications, admin, receiver
) -> None:
    """Twelve events in one consumer round: the subscriptions are read once, and the events kept for replays,
    their deliveries and their alerts go in one statement per table — not three per event."""
    from sqlalchemy import event as sa_event

    from aid_common.bus import IncomingMessage
    from aid_contracts import PROJECTS_TOPIC
    from tests.notifications.conftest import funding_event

    partner = await create_partner(notifications, admin)
    await subscribe(notifications, admin, partner["id"], receiver.url(), ["aid.project.*"])
    await subscribe(notifications, admin, partner["id"], receiver.url(), ["aid.project.*"], countries=["YE"])
    events = [funding_event() for _ in range(12)]
    messages = [
        IncomingMessage(topic=PROJECTS_TOPIC, partition=0, offset=i, key=e.subject, value=e.to_json())
        for i, e in enumerate(events)
    ]
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = notifications.runtime.sessions.kw["bind"].sync_engine
    sa_event.listen(engine, "before_cursor_execute", count)
    done = await notifications.runtime.consumer.process_batch(messages)
    sa_event.remove(engine, "before_cursor_execute", count)

    assert len(done) == len(events)
    assert sum("FROM subscriptions" in s for s in statements) == 1, "read once for the batch, not per event"
    for table in ("seen_events", "deliveries", "outbox"):
        assert sum(s.startswith(f"INSERT INTO {table} ") for s in statements) == 1, (table, statements)
    async with transaction(notifications.runtime.sessions) as session:
        deliveries = (await session.execute(Delivery.__table__.select())).all()
    assert sorted(d.event_id for d in deliveries) == sorted(e.id for e in events), "one each: Syria only"

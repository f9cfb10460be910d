"""Against real PostgreSQL and Kafka, with the worker as its own OS process: an aid.project.funding_updated
event reaches each matching subscription once, also when the worker is SIGKILLed mid-delivery and another
takes over (at-least-once, with the same webhook-id)."""

from __future__ import annotations

import asyncio

from aiokafka import AIOKafkaProducer
from standardwebhooks.webhooks import Webhook

from aid_common.migrations import upgrade
from aid_contracts import PROJECTS_TOPIC
from aid_notifications.app import create_app
from aid_notifications.settings import NotificationsSettings
from aid_notifications.subscriptions.secrets import new_encryption_key
from tests.helpers import eventually
from tests.notifications.conftest import create_partner, funding_event, subscribe


async def test_worker_killed_mid_delivery_then_replaced_delivers_with_the_same_id(
    pg_url, start_service, processes, receiver, kafka_bootstrap, topic_prefix, key_files, admin
) -> None:
    await asyncio.to_thread(upgrade, "aid_notifications", pg_url)
    env = {
        "AID_MODE": "production",
        "DATABASE_URL": pg_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AID_KAFKA_TOPIC_PREFIX": topic_prefix,
        "AID_JWT_PUBLIC_KEY_FILE": str(key_files[1]),
        "AID_WEBHOOK_SECRETS_KEY": new_encryption_key(),
        "AID_WEBHOOK_ALLOW_PRIVATE": "127.0.0.0/8",
        "AID_DELIVERY_LEASE_SECONDS": "3",
        "AID_DELIVERY_POLL_SECONDS": "0.1",
        "AID_WEBHOOK_TIMEOUT_SECONDS": "20",
    }
    api = await start_service(create_app, NotificationsSettings, pg_url, role="api", **env)
    partner = await create_partner(api, admin)
    slow = await subscribe(api, admin, partner["id"], receiver.url("/slow"), ["aid.project.funding_updated"])
    await subscribe(api, admin, partner["id"], receiver.url("/fast"), ["aid.project.*"], countries=["SY"])
    await subscribe(api, admin, partner["id"], receiver.url("/never"), ["aid.project.*"], countries=["YE"])
    receiver.answer("/slow", (200, {}, 15.0))  # holds the first request open: the worker dies waiting

    worker = await processes("notifications", "worker", env)
    event = funding_event("SY", "health")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        await producer.send_and_wait(
            topic_prefix + PROJECTS_TOPIC, event.to_json().encode(), key=event.subject.encode()
        )
    finally:
        await producer.stop()

    await eventually(lambda: len(receiver.at("/slow")) == 1 and len(receiver.at("/fast")) >= 1, timeout=60)
    worker.kill()
    await processes("notifications", "worker", env)  # a replacement takes over once the claim's lease ends

    async def slow_delivered() -> bool:
        r = await api.client.get(f"/v1/deliveries?subscription_id={slow['id']}&status=delivered", headers=admin)
        return bool(r.json()["items"])

    await eventually(slow_delivered, timeout=60)
    first, again = receiver.at("/slow")[:2]
    assert first.headers["webhook-id"] == again.headers["webhook-id"]
    assert Webhook(slow["secret"]).verify(again.body, again.headers)["id"] == event.id
    assert len(receiver.at("/slow")) == 2
    assert len({r.headers["webhook-id"] for r in receiver.at("/fast")}) == 1
    assert receiver.at("/never") == []

"""The whole system as separate OS processes (`crisisaid serve`) on real PostgreSQL and Kafka, with a real
local webhook receiver."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx
import pytest

from aid_notifications.subscriptions.secrets import new_encryption_key
from tests.flow import Platform
from tests.helpers import auth
from tests.processes import ServiceProcess, migrate
from tests.receiver import Receiver


@dataclass
class Stack(Platform):
    """The platform as separate processes: its workers can be killed and restarted."""

    projects_worker: ServiceProcess
    projects_worker_2: ServiceProcess  # a second member of the projects consumer group (topics have 6 partitions)
    notifications_worker: ServiceProcess
    topic_prefix: str


@pytest.fixture
async def stack(pg_database, processes, kafka_bootstrap, topic_prefix, key_files, token):
    urls = {name: await pg_database() for name in ("pledges", "projects", "notifications")}
    await asyncio.gather(*(asyncio.to_thread(migrate, name, url) for name, url in urls.items()))
    common = {
        "AID_MODE": "production",
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "AID_KAFKA_TOPIC_PREFIX": topic_prefix,
        "AID_JWT_PUBLIC_KEY_FILE": str(key_files[1]),
        "AID_OUTBOX_POLL_SECONDS": "0.5",
        "AID_HANDLER_MAX_ATTEMPTS": "5",
        "LOG_LEVEL": "INFO",
        "AID_RATE_LIMIT_WRITES": "100000/minute",  # one admin token signs hundreds of agreements here
    }
    notifications = {
        "AID_WEBHOOK_SECRETS_KEY": new_encryption_key(),
        "AID_WEBHOOK_ALLOW_PRIVATE": "127.0.0.0/8",
        "AID_WEBHOOK_RETRY_SCHEDULE": "0,0.5,1,2,2,2,2,2,2,2",
        "AID_DELIVERY_LEASE_SECONDS": "5",
        "AID_DELIVERY_POLL_SECONDS": "0.1",
    }
    env = {name: {**common, "DATABASE_URL": url} for name, url in urls.items()}
    env["notifications"].update(notifications)
    started = await asyncio.gather(
        processes("pledges", "all", env["pledges"]),
        processes("projects", "api", env["projects"]),
        processes("projects", "worker", env["projects"]),
        processes("projects", "worker", env["projects"]),
        processes("notifications", "api", env["notifications"]),
        processes("notifications", "worker", env["notifications"]),
    )
    receiver = Receiver()
    await receiver.start()
    async with httpx.AsyncClient(timeout=30) as http:
        pledges, projects_api, projects_worker, projects_worker_2, notifications_api, notifications_worker = started
        yield Stack(
            pledges=pledges,
            projects_api=projects_api,
            notifications_api=notifications_api,
            receiver=receiver,
            admin=auth(token("admin")),
            http=http,
            projects_worker=projects_worker,
            projects_worker_2=projects_worker_2,
            notifications_worker=notifications_worker,
            topic_prefix=topic_prefix,
        )
    await receiver.stop()

"""The whole system as separate OS processes (`crisisaid serve`) on real PostgreSQL and Kafka, with a real
local webhook receiver."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import httpx
import pytest

from aid_notifications.subscriptions.secrets import new_encryption_key
from tests.helpers import auth
from tests.processes import ServiceProcess, migrate
from tests.receiver import Receiver


@dataclass
class Stack:
    pledges: ServiceProcess
    projects_api: ServiceProcess
    projects_worker: ServiceProcess
    projects_worker_2: ServiceProcess  # a second member of the projects consumer group (topics have 6 partitions)
    notifications_api: ServiceProcess
    notifications_worker: ServiceProcess
    receiver: Receiver
    admin: dict[str, str]
    http: httpx.AsyncClient
    topic_prefix: str
    created: dict[str, list] = field(default_factory=dict)

    async def post(self, service: ServiceProcess, path: str, body: dict, **headers: str) -> dict:
        r = await self.http.post(service.url + path, json=body, headers={**self.admin, **headers})
        assert r.status_code in (200, 201, 202), f"{path}: {r.status_code} {r.text}"
        return r.json()

    async def post_until_accepted(self, service: ServiceProcess, path: str, body: dict, key: str) -> dict:
        """What a careful client does: on 503 (database away), 409 (same key still in progress), a dropped
        connection, or a 422 on an earmark to a project created a moment ago (the pledges service learns of it from
        the projects service's events), send the same request again with the same Idempotency-Key."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while True:
            try:
                r = await self.http.post(service.url + path, json=body, headers={**self.admin, "Idempotency-Key": key})
                if r.status_code in (200, 201):
                    return r.json()
                earmark_not_seen_yet = r.status_code == 422 and any(
                    e["location"].startswith("body.earmark") for e in r.json().get("errors") or []
                )
                assert r.status_code in (409, 503) or earmark_not_seen_yet, f"{path}: {r.status_code} {r.text}"
            except httpx.TransportError:
                pass
            assert loop.time() < deadline, f"{path} not accepted within 120 s"
            await asyncio.sleep(0.5)

    async def get(self, service: ServiceProcess, path: str, **params) -> dict:
        r = await self.http.get(service.url + path, params=params, headers=self.admin)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        return r.json()


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
        yield Stack(*started, receiver=receiver, admin=auth(token("admin")), http=http, topic_prefix=topic_prefix)
    await receiver.stop()

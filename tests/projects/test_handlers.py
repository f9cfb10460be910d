"""Projects against real PostgreSQL (migrated by Alembic) and Kafka: a signed agreement on aid.pledges.v1
becomes funding and one aid.project.funding_updated per affected project; the same event twice changes nothing."""

from __future__ import annotations

import asyncio
import json

from aiokafka import AIOKafkaProducer

from aid_common.kafka import KafkaBus
from aid_common.migrations import upgrade
from aid_contracts import PLEDGES_TOPIC, PROJECTS_TOPIC
from aid_projects.app import create_app
from aid_projects.settings import ProjectsSettings
from tests.helpers import eventually, read_topic
from tests.projects.conftest import create_project, envelope, project, signed


async def test_a_signed_agreement_event_funds_projects_once_even_when_delivered_twice(
    pg_url, start_service, kafka_bootstrap, topic_prefix, writer
) -> None:
    await asyncio.to_thread(upgrade, "aid_projects", pg_url)
    bus = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[PLEDGES_TOPIC, PROJECTS_TOPIC])
    svc = await start_service(create_app, ProjectsSettings, pg_url, bus=bus, role="all", AID_MODE="production")
    a = await create_project(svc, writer, "SY-H-1", "600000.00")
    b = await create_project(svc, writer, "SY-H-2", "400000.00")

    event = envelope(signed("500000.00", country="SY", sector="health"), correlation_id="kafka-corr")
    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all", enable_idempotence=True)
    await producer.start()
    try:
        for _ in range(2):  # the same event twice, as a producer retry or a replay would
            await producer.send_and_wait(
                topic_prefix + PLEDGES_TOPIC, event.to_json().encode(), key=event.subject.encode()
            )
    finally:
        await producer.stop()

    async def funded() -> bool:
        return (await project(svc, writer, a["id"]))["funded_usd"] == "300000.00"

    await eventually(funded, timeout=30)
    await eventually(lambda: _outcome(svc, "duplicate"), timeout=30)
    assert (await project(svc, writer, b["id"]))["funded_usd"] == "200000.00"

    records = await read_topic(kafka_bootstrap, topic_prefix + PROJECTS_TOPIC, expect=4, settle=2.0)
    events = [json.loads(r.value) for r in records]
    updates = [e for e in events if e["type"] == "aid.project.funding_updated"]
    assert sorted((e["subject"], e["data"]["funded_usd"]) for e in updates) == sorted(
        [(a["id"], "300000.00"), (b["id"], "200000.00")]
    )
    assert all(e["correlationid"] == "kafka-corr" and e["data"]["cause_event_id"] == event.id for e in updates)
    assert {r.key.decode() for r in records if json.loads(r.value)["type"] == "aid.project.funding_updated"} == {
        a["id"],
        b["id"],
    }
    await bus.stop()


async def _outcome(svc, name: str) -> bool:
    return svc.runtime.consumer.outcomes[name] >= 1

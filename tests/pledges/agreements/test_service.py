"""Pledges against real PostgreSQL and Kafka: one signed CloudEvent per signing, nothing lost in a crash
between the database commit and the publish."""

from __future__ import annotations

import json

from aid_common.kafka import KafkaBus
from aid_contracts import PLEDGES_TOPIC
from aid_pledges.app import create_app
from aid_pledges.settings import PledgesSettings
from tests.helpers import read_topic
from tests.pledges.conftest import KUWAIT, agreement_body


async def test_signing_puts_exactly_one_signed_cloudevent_on_the_topic_keyed_by_agreement(
    start_service, pg_url, kafka_bootstrap, topic_prefix, writer
) -> None:
    bus = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[PLEDGES_TOPIC])
    svc = await start_service(create_app, PledgesSettings, pg_url, bus=bus, role="all")
    donor = (await svc.client.post("/v1/donors", json=KUWAIT, headers=writer)).json()
    pledged = (
        await svc.client.post(
            "/v1/agreements",
            headers=writer,
            json=agreement_body(
                donor["id"], status="pledged", signed_on=None, pledged_on="2024-04-01", title="منحة لبنان 🇱🇧"
            ),
        )
    ).json()
    r = await svc.client.post(
        f"/v1/agreements/{pledged['id']}/sign",
        headers={**writer, "Idempotency-Key": "s1"},
        json={"signed_on": "2024-05-01"},
    )
    assert r.status_code == 200
    again = await svc.client.post(
        f"/v1/agreements/{pledged['id']}/sign",
        headers={**writer, "Idempotency-Key": "s1"},
        json={"signed_on": "2024-05-01"},
    )
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"

    records = await read_topic(kafka_bootstrap, topic_prefix + PLEDGES_TOPIC, expect=3, settle=2.0)
    records = [r for r in records if b"aid.organisation." not in r.value]  # the donor's own event came first
    events = [json.loads(r.value) for r in records]
    assert [e["type"] for e in events] == ["aid.agreement.pledged", "aid.agreement.signed"]
    signed = [(r, e) for r, e in zip(records, events, strict=True) if e["type"] == "aid.agreement.signed"]
    assert len(signed) == 1
    record, event = signed[0]
    assert record.key.decode() == pledged["id"] and event["subject"] == pledged["id"]
    assert dict(record.headers)["content-type"] == b"application/cloudevents+json"
    assert event["specversion"] == "1.0" and event["source"] == "/pledges" and event["correlationid"]
    assert event["data"]["title"] == "منحة لبنان 🇱🇧" and event["data"]["amount_usd"] == "1000000.00"
    await bus.stop()


async def test_a_crash_between_commit_and_publish_loses_nothing(
    start_service, pg_url, kafka_bootstrap, topic_prefix, writer
) -> None:
    # An API process commits agreements and dies before any relay runs.
    api = await start_service(create_app, PledgesSettings, pg_url, role="api")
    donor = (await api.client.post("/v1/donors", json=KUWAIT, headers=writer)).json()
    ids = []
    for i in range(5):
        r = await api.client.post("/v1/agreements", headers=writer, json=agreement_body(donor["id"], reference=f"c{i}"))
        ids.append(r.json()["id"])
    await api.runtime.engine.dispose()  # gone, without publishing

    # A worker started later publishes every committed event exactly once.
    bus = KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=[PLEDGES_TOPIC])
    await start_service(create_app, PledgesSettings, pg_url, bus=bus, role="worker")
    records = await read_topic(kafka_bootstrap, topic_prefix + PLEDGES_TOPIC, expect=6, settle=2.0)
    assert sorted(r.key.decode() for r in records) == sorted([*ids, donor["id"]])  # the donor's event, the 5
    await bus.stop()

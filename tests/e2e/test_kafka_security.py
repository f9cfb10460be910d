"""The headline flow over SASL_SSL on the real local broker (deploy/local/kafka.sh: SCRAM-SHA-512 over TLS, ACLs
enforced): each service authenticates as its own principal, and a principal writes only its own topic; the
console's live feed reads as its own read-only principal."""

from __future__ import annotations

import asyncio
import subprocess

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from aid_common.events import DEADLETTER_TOPIC
from aid_common.kafka import KafkaBus, KafkaSecurity
from aid_console.app import create_app as console_app
from aid_console.deps import FEED
from aid_console.settings import ConsoleSettings
from aid_contracts import ALERTS_TOPIC, PARTNERS_TOPIC, PLEDGES_TOPIC, PROJECTS_TOPIC
from aid_notifications.app import create_app as notifications_app
from aid_notifications.settings import NotificationsSettings
from aid_pledges.app import create_app as pledges_app
from aid_pledges.settings import PledgesSettings
from aid_projects.app import create_app as projects_app
from aid_projects.settings import ProjectsSettings
from tests.conftest import REPO
from tests.helpers import auth, eventually

SASL_SSL = "127.0.0.1:9094"
TLS = REPO / ".infra/kafka/tls"
FEED_TYPES = {"aid.agreement.signed", "aid.project.funding_updated"}


def _security(service: str) -> KafkaSecurity:
    return KafkaSecurity(
        protocol="SASL_SSL",
        username=service,
        password=(TLS / f"{service}.password").read_text().strip(),
        cafile=str(TLS / "ca.pem"),
    )


@pytest.fixture
def principals(topic_prefix, kafka_bootstrap) -> str:
    done = subprocess.run(
        [str(REPO / "deploy/local/kafka.sh"), "principals", topic_prefix], capture_output=True, text=True, timeout=180
    )
    assert done.returncode == 0, done.stderr
    return topic_prefix


async def test_the_headline_flow_over_sasl_ssl_with_a_principal_per_service(
    principals, pg_database, start_service, kafka_bootstrap, token, receiver, key_files
) -> None:
    topics = [PLEDGES_TOPIC, PROJECTS_TOPIC, ALERTS_TOPIC, PARTNERS_TOPIC, DEADLETTER_TOPIC]
    admin_bus = KafkaBus(kafka_bootstrap, topic_prefix=principals, create_topics=topics)  # the operator's setup
    await admin_bus.start()
    await admin_bus.stop()

    def bus(service: str) -> KafkaBus:
        return KafkaBus(SASL_SSL, topic_prefix=principals, client_id=service, security=_security(service))

    env = {
        "AID_WEBHOOK_ALLOW_PRIVATE": "127.0.0.0/8",
        "AID_WEBHOOK_RETRY_SCHEDULE": "0,0.5,1",
        "AID_DELIVERY_POLL_SECONDS": "0.1",
    }
    console = console_app(
        ConsoleSettings(AID_JWT_PUBLIC_KEY_FILE=key_files[1], AID_CONSOLE_COOKIE_SECURE=False), bus=bus("console")
    )
    projects = await start_service(projects_app, ProjectsSettings, await pg_database(), bus=bus("projects"), role="all")
    pledges = await start_service(pledges_app, PledgesSettings, await pg_database(), bus=bus("pledges"), role="all")
    notifications = await start_service(
        notifications_app, NotificationsSettings, await pg_database(), bus=bus("notifications"), role="all", **env
    )
    admin = auth(token("admin"))
    project = {
        "code": "SY-NW-HEALTH-24", "title": "Health care in north-west Syria", "country": "SY", "sector": "health",
        "requirements_usd": "600000.00", "names": {"ar": "الرعاية الصحية في شمال غرب سوريا"},
    }  # fmt: skip
    assert (await projects.client.post("/v1/projects", json=project, headers=admin)).status_code == 201
    partner = (await notifications.client.post("/v1/partners", json={"name": "Qatar Charity"}, headers=admin)).json()
    sub = {"partner_id": partner["id"], "url": receiver.url(), "event_types": ["aid.project.funding_updated"]}
    assert (await notifications.client.post("/v1/subscriptions", json=sub, headers=admin)).status_code == 201
    donor = {"name": "State of Kuwait", "kind": "government", "country": "KW"}
    donor_id = (await pledges.client.post("/v1/donors", json=donor, headers=admin)).json()["id"]
    agreement = {
        "donor_id": donor_id, "reference": "KW-TLS-1", "title": "دعم صحي", "amount": "100000.000", "currency": "KWD",
        "status": "signed", "signed_on": "2024-05-01", "earmark": {"country": "SY", "sector": "health"},
    }  # fmt: skip
    async with console.router.lifespan_context(console):  # the live feed reads as the console principal
        r = await pledges.client.post("/v1/agreements", json=agreement, headers={**admin, "X-Correlation-Id": "tls-1"})
        assert r.status_code == 201, r.text

        await eventually(lambda: receiver.requests, timeout=60)
        assert b"SY-NW-HEALTH-24" in receiver.requests[0].body and b"tls-1" in receiver.requests[0].body
        seen = await eventually(lambda: {e.type for e in FEED.get(console).recent} >= FEED_TYPES, timeout=60)
        assert seen

    # The pledges principal may not publish on the projects service's topic (a forged funding event), nor the
    # console's on any topic it reads.
    for principal, topic in (("pledges", PROJECTS_TOPIC), ("console", PLEDGES_TOPIC)):
        producer = AIOKafkaProducer(
            bootstrap_servers=SASL_SSL, acks="all", enable_idempotence=True, **_security(principal).client_options()
        )
        try:
            with pytest.raises(KafkaError):  # the console's is refused already as an idempotent producer
                await producer.start()
                await asyncio.wait_for(producer.send_and_wait(principals + topic, b"{}", key=b"x"), 30)
        finally:
            await producer.stop()

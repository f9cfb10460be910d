"""On real Kafka and PostgreSQL: a partner created in the notifications service appears in the projects service's
read model, and a project created with that partner's id lists under `?partner_id=`."""

from __future__ import annotations

import asyncio
import time

from aid_common.kafka import KafkaBus
from aid_contracts import ALERTS_TOPIC, PARTNERS_TOPIC, PLEDGES_TOPIC, PROJECTS_TOPIC
from aid_notifications.app import create_app as notifications_app
from aid_notifications.settings import NotificationsSettings
from aid_projects.app import create_app as projects_app
from aid_projects.settings import ProjectsSettings
from tests.helpers import auth
from tests.projects.conftest import project_body


async def test_a_partner_account_becomes_a_project_role(
    pg_database, start_service, kafka_bootstrap, topic_prefix, token
):
    topics = [PLEDGES_TOPIC, PROJECTS_TOPIC, ALERTS_TOPIC, PARTNERS_TOPIC]
    buses = [KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=topics) for _ in range(2)]
    notifications = await start_service(
        notifications_app, NotificationsSettings, await pg_database(), bus=buses[0], role="all"
    )
    projects = await start_service(projects_app, ProjectsSettings, await pg_database(), bus=buses[1], role="all")
    admin = auth(token("admin"))
    body = {"name": "Egyptian Red Crescent", "names": {"ar": "الهلال الأحمر المصري"}}
    partner = (await notifications.client.post("/v1/partners", json=body, headers=admin)).json()
    role = [{"partner_id": partner["id"], "role": "implementing"}]
    deadline = time.monotonic() + 30
    while True:  # known as soon as aid.partner.created has arrived
        r = await projects.client.post(
            "/v1/projects", json=project_body("EG-REF-1", "250000.00", country="EG", partners=role), headers=admin
        )
        if r.status_code == 201:
            break
        assert r.status_code == 422 and time.monotonic() < deadline, r.text
        await asyncio.sleep(0.5)  # each try is a write: polling flat out would meet the write rate limit
    assert r.json()["partners"][0]["name"] == "Egyptian Red Crescent"
    listed = await projects.client.get("/v1/projects", params={"partner_id": partner["id"]}, headers=admin)
    assert [p["code"] for p in listed.json()["items"]] == ["EG-REF-1"]
    for bus in buses:
        await bus.stop()

"""On real Kafka and PostgreSQL: a project created in the projects service is accepted as an earmark by the pledges
service within about a second (its read model follows aid.projects.v1); an unknown one is 422."""

from __future__ import annotations

import asyncio
import time
import uuid

from aid_common.kafka import KafkaBus
from aid_contracts import PLEDGES_TOPIC, PROJECTS_TOPIC
from aid_pledges.app import create_app as create_pledges
from aid_pledges.settings import PledgesSettings
from aid_projects.app import create_app as create_projects
from aid_projects.settings import ProjectsSettings
from tests.helpers import auth
from tests.pledges.conftest import KUWAIT, agreement_body
from tests.projects.conftest import create_project


async def test_a_new_project_is_an_accepted_earmark_within_a_second(
    pg_database, start_service, kafka_bootstrap, topic_prefix, token
) -> None:
    topics = [PLEDGES_TOPIC, PROJECTS_TOPIC]
    buses = [KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=topics) for _ in range(2)]
    projects = await start_service(create_projects, ProjectsSettings, await pg_database(), bus=buses[0], role="all")
    pledges = await start_service(create_pledges, PledgesSettings, await pg_database(), bus=buses[1], role="all")
    writer = auth(token("admin"))
    donor = (await pledges.client.post("/v1/donors", json=KUWAIT, headers=writer)).json()

    unknown = agreement_body(donor["id"], reference="KW-0", earmark={"project_id": str(uuid.uuid4())})
    r = await pledges.client.post("/v1/agreements", json=unknown, headers=writer)
    assert r.status_code == 422 and r.json()["errors"][0]["location"] == "body.earmark.project_id"

    # the consumer group is up when it has seen an earlier project
    await create_project(projects, writer, "WARM-UP", "1000.00")
    await _accepted(pledges, writer, donor, (await _project_ids(projects, writer))[0], timeout=30)

    created = await create_project(projects, writer, "SY-H-1", "600000.00")
    started = time.perf_counter()
    await _accepted(pledges, writer, donor, created["id"], timeout=5)
    assert time.perf_counter() - started < 1.5, "accepted within about a second"
    for bus in buses:
        await bus.stop()


async def _project_ids(svc, headers) -> list[str]:
    return [p["id"] for p in (await svc.client.get("/v1/projects", headers=headers)).json()["items"]]


async def _accepted(pledges, headers, donor, project_id: str, *, timeout: float) -> None:
    deadline = time.perf_counter() + timeout
    body = agreement_body(donor["id"], reference=f"KW-{project_id}", earmark={"project_id": project_id})
    while True:
        r = await pledges.client.post("/v1/agreements", json=body, headers=headers)
        if r.status_code == 201:
            return
        assert r.status_code == 422 and time.perf_counter() < deadline, r.text
        await asyncio.sleep(0.05)

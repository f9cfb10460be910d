"""Earmarks are checked against the pledges service's read model of appeals and projects, fed by the projects
service's events: unknown appeals, pillars and projects, and closed projects, are 422 naming the field."""

from __future__ import annotations

import uuid

from aid_contracts.projects import ProjectUpdated
from tests.helpers import PROBLEM
from tests.pledges.conftest import agreement_body, appeal_created, project_event, tell


async def _agreement(pledges, writer, kuwait, earmark: dict, reference: str = "KW-1", **over):
    body = agreement_body(kuwait["id"], reference=reference, earmark=earmark, **over)
    return await pledges.client.post("/v1/agreements", json=body, headers=writer)


async def test_unknown_appeal_pillar_or_project_is_422_naming_the_field(pledges, writer, kuwait) -> None:
    await tell(pledges, appeal_created())
    cases = [
        ({"appeal": "NOPE-2024"}, "earmark.appeal", "IOM-GA-2024"),
        ({"appeal": "IOM-GA-2024", "pillar": "P9"}, "earmark.pillar", "P1, P2"),
        ({"project_id": str(uuid.uuid4())}, "earmark.project_id", "as of the last event"),
    ]
    for i, (earmark, location, says) in enumerate(cases):
        r = await _agreement(pledges, writer, kuwait, earmark, reference=f"KW-{i}")
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (earmark, r.text)
        assert r.json()["errors"][0]["location"] == f"body.{location}" and says in r.json()["detail"]
    listed = await pledges.client.get("/v1/agreements", headers=writer)
    assert listed.json()["items"] == [], "nothing was written"


async def test_known_appeals_pillars_and_open_projects_are_accepted_closed_ones_refused(
    pledges, writer, kuwait
) -> None:
    await tell(pledges, appeal_created())
    created = project_event()
    await tell(pledges, created)
    ok = [{"appeal": "IOM-GA-2024"}, {"appeal": "IOM-GA-2024", "pillar": "P2"}, {"project_id": str(created.project_id)}]
    for i, earmark in enumerate(ok):
        assert (await _agreement(pledges, writer, kuwait, earmark, reference=f"OK-{i}")).status_code == 201
    assert (await _agreement(pledges, writer, kuwait, {"country": "YE"}, reference="YE")).status_code == 201, (
        "a country with no project yet stays a valid earmark: the money pools"
    )
    await tell(
        pledges,
        project_event("closed", created.project_id, kind=__import__("aid_contracts.projects").projects.ProjectUpdated),
    )
    closed = await _agreement(pledges, writer, kuwait, {"project_id": str(created.project_id)}, reference="CL")
    assert closed.status_code == 422 and "closed" in closed.json()["detail"]


async def test_signing_a_pledge_checks_its_earmark_again(pledges, writer, kuwait) -> None:
    created = project_event()
    await tell(pledges, created)
    earmark = {"project_id": str(created.project_id)}
    r = await _agreement(pledges, writer, kuwait, earmark, status="pledged", signed_on=None, pledged_on="2024-04-01")
    assert r.status_code == 201
    await tell(pledges, project_event("closed", created.project_id, kind=ProjectUpdated))
    sign = await pledges.client.post(
        f"/v1/agreements/{r.json()['id']}/sign", json={"signed_on": "2024-05-01"}, headers=writer
    )
    assert sign.status_code == 422 and sign.json()["errors"][0]["location"] == "body.earmark.project_id"


async def test_agreements_are_listed_and_exported_by_their_earmarked_appeal(pledges, writer, reader, kuwait) -> None:
    await tell(pledges, appeal_created())
    for reference, earmark in (("A-1", {"appeal": "IOM-GA-2024"}), ("C-1", {"country": "SY"})):
        body = agreement_body(kuwait["id"], reference=reference, earmark=earmark)
        assert (await pledges.client.post("/v1/agreements", headers=writer, json=body)).status_code == 201
    listed = (await pledges.client.get("/v1/agreements?appeal=IOM-GA-2024", headers=reader)).json()["items"]
    assert [a["reference"] for a in listed] == ["A-1"]
    exported = (await pledges.client.get("/v1/exports/agreements.csv?appeal=IOM-GA-2024", headers=reader)).text
    assert "A-1" in exported and "C-1" not in exported

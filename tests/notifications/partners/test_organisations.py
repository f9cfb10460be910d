"""A partner account is an organisation: opened for one the pledges service announced, it takes that organisation's
id; every partner that existed before is announced again by the migration, so the pledges service knows them all."""

from __future__ import annotations

import asyncio
import json
import uuid

from sqlalchemy import text

from aid_common.db import create_engine
from aid_common.events import registry
from aid_common.migrations import upgrade
from aid_contracts.pledges import OrganisationCreated, OrganisationUpdated
from tests.helpers import PROBLEM, eventually
from tests.notifications.conftest import publish

SARC = {"name": "Syrian Arab Red Crescent", "names": {"ar": "الهلال الأحمر العربي السوري"}}


def _organisation(kind=OrganisationCreated, **over) -> OrganisationCreated | OrganisationUpdated:
    facts = {"organisation_id": uuid.uuid4(), "kind": "national_society", "country": "SY", "roles": ["recipient"]}
    return kind(**{**facts, **SARC, **over})


async def test_a_partner_account_opened_for_an_organisation_takes_its_id(notifications, admin) -> None:
    unknown = await notifications.client.post(
        "/v1/partners", json={**SARC, "organisation_id": str(uuid.uuid4())}, headers=admin
    )
    assert unknown.status_code == 422 and unknown.headers["content-type"] == PROBLEM
    assert unknown.json()["errors"][0]["location"] == "body.organisation_id"

    sarc = _organisation()
    await publish(notifications, registry.envelope(sarc)[1])
    handled = notifications.runtime.consumer.outcomes
    await eventually(lambda: handled["handled"] >= 1)
    r = await notifications.client.post(
        "/v1/partners", json={**SARC, "organisation_id": str(sarc.organisation_id)}, headers=admin
    )
    assert r.status_code == 201, r.text
    partner = r.json()
    assert partner["id"] == partner["organisation_id"] == str(sarc.organisation_id)
    again = await notifications.client.post(
        "/v1/partners", json={**SARC, "organisation_id": str(sarc.organisation_id)}, headers=admin
    )
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM

    alone = (await notifications.client.post("/v1/partners", json=SARC, headers=admin)).json()
    assert alone["organisation_id"] == alone["id"] != partner["id"], "a new organisation, under the partner's id"


async def test_every_partner_of_before_is_announced_again_by_the_migration(pg_url) -> None:
    await asyncio.to_thread(upgrade, "aid_notifications", pg_url, "0006")
    engine = create_engine(pg_url)
    ids = [uuid.uuid4(), uuid.uuid4()]
    async with engine.begin() as conn:
        await conn.execute(
            text("INSERT INTO partners (id, name, names, created_at) VALUES (:id, :name, CAST(:names AS json), now())"),
            [
                {"id": ids[0], "name": "Kuwait Red Crescent Society", "names": '{"ar": "جمعية الهلال الأحمر الكويتي"}'},
                {"id": ids[1], "name": "Qatar Charity", "names": "{}"},
            ],
        )
    await asyncio.to_thread(upgrade, "aid_notifications", pg_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT key, event_type, payload FROM outbox ORDER BY id"))).all()
    await engine.dispose()
    assert [(r.key, r.event_type) for r in rows] == [(str(i), "aid.partner.updated") for i in ids]
    first = json.loads(rows[0].payload)["data"]
    assert first == {
        "partner_id": str(ids[0]),
        "name": "Kuwait Red Crescent Society",
        "names": {"ar": "جمعية الهلال الأحمر الكويتي"},
    }

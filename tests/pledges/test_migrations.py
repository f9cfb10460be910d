"""The Alembic history builds the schema the service runs on (PostgreSQL), without create_all."""

from __future__ import annotations

import asyncio
import uuid

from sqlalchemy import text

from aid_common.db import create_engine
from aid_common.migrations import upgrade
from aid_pledges.app import create_app
from aid_pledges.settings import PledgesSettings
from tests.pledges.conftest import KUWAIT, agreement_body


async def test_migrated_database_serves_the_api_and_notifies_relays(start_service, pg_url, writer) -> None:
    await asyncio.to_thread(upgrade, "aid_pledges", pg_url)
    await asyncio.to_thread(upgrade, "aid_pledges", pg_url)  # running it again changes nothing
    engine = create_engine(pg_url)
    async with engine.connect() as conn:
        tables = set((await conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname='public'"))).scalars())
        triggers = set((await conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))).scalars())
    await engine.dispose()
    assert {
        "organisations",
        "agreements",
        "disbursements",
        "fx_rates",
        "outbox",
        "inbox",
        "idempotency_keys",
        "alembic_version",
    } <= tables
    assert {"outbox_notify", "fx_rates_changed", "organisations_changed", "fx_rates_truncated"} <= triggers
    svc = await start_service(
        create_app, PledgesSettings, pg_url, AID_MODE="production", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092"
    )
    donor = (await svc.client.post("/v1/donors", json=KUWAIT, headers=writer)).json()
    r = await svc.client.post(
        "/v1/agreements", headers=writer, json=agreement_body(donor["id"], currency="KWD", amount="1000.125")
    )
    assert r.status_code == 201 and r.json()["amount"] == "1000.125"


async def test_every_donor_becomes_an_organisation_with_everything_it_had(pg_url) -> None:
    """The schema as it was (donors), with donors of every shape and an agreement; upgraded: the same rows, ids and
    names as organisations in the donor role (a pooled fund also in that role), the agreement still theirs."""
    await asyncio.to_thread(upgrade, "aid_pledges", pg_url, "0005")
    kuwait, fund, unnamed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    engine = create_engine(pg_url)
    async with engine.begin() as conn:
        insert = text(
            "INSERT INTO donors (id, name, names, kind, country, fts_org_id, fts_types, created_at) "
            "VALUES (:id, :name, CAST(:names AS json), :kind, :country, :fts, CAST(:types AS json), now())"
        )
        await conn.execute(insert, [
            {"id": kuwait, "name": "State of Kuwait", "names": '{"ar": "دولة الكويت"}', "kind": "government",
             "country": "KW", "fts": None, "types": "[]"},
            {"id": fund, "name": "oPt Humanitarian Fund", "names": "{}", "kind": "pooled_fund", "country": None,
             "fts": "7113", "types": '["Pooled fund"]'},
            {"id": unnamed, "name": "Private (individuals & organizations)", "names": "{}", "kind": "private",
             "country": None, "fts": "2933", "types": '["Private organization/foundation"]'},
        ])  # fmt: skip
        await conn.execute(
            text(
                "INSERT INTO agreements (id, donor_id, reference, title, status, amount, currency, fx_rate, amount_usd,"
                " disbursed_usd, pledged_on, created_at, updated_at) VALUES (:id, :donor, 'KW-1', 'منحة', 'pledged',"
                " 1000, 'KWD', 3.25, 3250, 0, '2024-05-01', now(), now())"
            ),
            {"id": uuid.uuid4(), "donor": kuwait},
        )
    await asyncio.to_thread(upgrade, "aid_pledges", pg_url)
    async with engine.connect() as conn:
        rows = (await conn.execute(text(
            "SELECT id, name, names, kind, country, fts_org_id, fts_types, is_donor, is_recipient,"
            " is_implementing_partner, is_pooled_fund FROM organisations "
        ))).all()  # fmt: skip
        donor_of_agreement = (await conn.execute(text("SELECT donor_id FROM agreements"))).scalar_one()
    await engine.dispose()
    assert sorted((tuple(r) for r in rows), key=str) == sorted([
        (fund, "oPt Humanitarian Fund", {}, "pooled_fund", None, "7113", ["Pooled fund"], True, False, False, True),
        (unnamed, "Private (individuals & organizations)", {}, "private", None, "2933",
         ["Private organization/foundation"], True, False, False, False),
        (kuwait, "State of Kuwait", {"ar": "دولة الكويت"}, "government", "KW", None, [], True, False, False, False),
    ], key=str)  # fmt: skip
    assert donor_of_agreement == kuwait

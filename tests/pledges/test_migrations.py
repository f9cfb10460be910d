"""The Alembic history builds the schema the service runs on (PostgreSQL), without create_all."""

from __future__ import annotations

import asyncio

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
        "donors",
        "agreements",
        "disbursements",
        "fx_rates",
        "outbox",
        "inbox",
        "idempotency_keys",
        "alembic_version",
    } <= tables
    assert {"outbox_notify", "fx_rates_changed", "donors_changed", "fx_rates_truncated"} <= triggers
    svc = await start_service(
        create_app, PledgesSettings, pg_url, AID_MODE="production", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092"
    )
    donor = (await svc.client.post("/v1/donors", json=KUWAIT, headers=writer)).json()
    r = await svc.client.post(
        "/v1/agreements", headers=writer, json=agreement_body(donor["id"], currency="KWD", amount="1000.125")
    )
    assert r.status_code == 201 and r.json()["amount"] == "1000.125"

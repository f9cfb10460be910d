"""A consumer batch on real PostgreSQL reads its agreements, their shares and their plan rows once, under the
lane's lock, and carries pool balances forward: the figures are those of one event at a time, and the statements
do not grow with the batch."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from sqlalchemy import event as sa_event

from aid_common.bus import IncomingMessage
from aid_contracts import PLEDGES_TOPIC, PROJECTS_TOPIC
from aid_projects.app import create_app
from aid_projects.settings import ProjectsSettings
from tests.projects.conftest import create_project, disbursed, envelope, project, signed

AGREEMENTS = 30


@pytest.fixture
async def on_postgres(start_service, pg_url):
    return await start_service(create_app, ProjectsSettings, pg_url)


def _messages(events) -> list[IncomingMessage]:
    return [
        IncomingMessage(
            topic=PLEDGES_TOPIC, partition=0, offset=i, key=str(e.agreement_id), value=envelope(e).to_json()
        )
        for i, e in enumerate(events)
    ]


async def test_a_batch_reads_once_and_ends_with_the_figures_of_one_event_at_a_time(on_postgres, writer, reader) -> None:
    svc = on_postgres
    a = await create_project(svc, writer, "SY-H-1", "100000.00")
    b = await create_project(svc, writer, "SY-H-2", "150000.00")
    agreements = [signed("20000.00", country="SY", sector="health") for _ in range(AGREEMENTS)]
    batch = []
    for agreement in agreements:  # each agreement signed, then all of it received, as an FTS paid flow is
        batch += [agreement, disbursed(agreement, "20000.00", "20000.00")]

    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = svc.runtime.sessions.kw["bind"].sync_engine
    sa_event.listen(engine, "before_cursor_execute", count)
    done = await svc.runtime.consumer.process_batch(_messages(batch))
    sa_event.remove(engine, "before_cursor_execute", count)

    assert len(done) == len(batch) and svc.runtime.consumer.outcomes["handled"] == len(batch)
    # 600 000 signed: the projects' gaps (250 000) filled oldest first, the rest in the pool; all of it received
    assert (await project(svc, reader, a["id"]))["funded_usd"] == "100000.00"
    assert (await project(svc, reader, b["id"]))["funded_usd"] == "150000.00"
    assert (await project(svc, reader, a["id"]))["received_usd"] == "100000.00"
    await svc.relay()
    pools = [
        json.loads(m.value)["data"]
        for m in svc.bus.messages(PROJECTS_TOPIC)
        if json.loads(m.value)["type"] == "aid.pool.updated"
    ]
    balances = [Decimal(p["balance_usd"]) for p in pools]
    assert balances == sorted(balances) and balances[-1] == Decimal("350000.00"), "each move's running balance"
    assert sum(Decimal(p["delta_usd"]) for p in pools) == Decimal("350000.00")
    # One event at a time took about seven statements per event (over 400 here); the batch takes a statement per
    # kind of read and per table written, a few more where a flush must come before a read.
    assert len(statements) <= 40, statements

"""The FTS import across services, in process: the real PSE 2020 files posted to the pledges service become
agreements and plans; the projects service, fed by their events, reproduces every row of FTS's three published
tables from its own ledger, to the dollar. Embedded (SQLite, the in-process bus) and on PostgreSQL + Kafka."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from decimal import Decimal

import pytest

from aid_common.kafka import KafkaBus
from aid_common.memory_bus import MemoryBus
from aid_common.migrations import upgrade
from aid_contracts import PLEDGES_TOPIC, PROJECTS_TOPIC
from aid_pledges.app import create_app as create_pledges
from aid_pledges.imports.fts_models import FileKind
from aid_pledges.settings import PledgesSettings
from aid_projects.app import create_app as create_projects
from aid_projects.settings import ProjectsSettings
from tests.fts import FLOW_PAGES, PSE, published
from tests.helpers import auth, eventually

TABLES = sorted(PSE.glob("fts_requirements_funding*.csv"))


async def _stack(stores: str, start_service, tmp_path, pg_database, kafka_bootstrap, topic_prefix):
    if stores == "embedded":
        bus = MemoryBus()
        urls = [f"sqlite+aiosqlite:///{tmp_path / name}.db" for name in ("pledges", "projects")]
        env: dict[str, str] = {}
        buses = [bus, bus]
    else:
        urls = [await pg_database(), await pg_database()]
        for package, url in zip(("aid_pledges", "aid_projects"), urls, strict=True):
            await asyncio.to_thread(upgrade, package, url)
        topics = [PLEDGES_TOPIC, PROJECTS_TOPIC]
        buses = [KafkaBus(kafka_bootstrap, topic_prefix=topic_prefix, create_topics=topics) for _ in urls]
        env = {"AID_MODE": "production"}
    pledges = await start_service(create_pledges, PledgesSettings, urls[0], bus=buses[0], role="all", **env)
    projects = await start_service(create_projects, ProjectsSettings, urls[1], bus=buses[1], role="all", **env)
    return pledges, projects


def _files(paths) -> list[tuple[str, tuple[str, bytes]]]:
    return [("files", (p.name, p.read_bytes())) for p in paths]


@pytest.mark.parametrize("stores", ["embedded", "postgresql+kafka"])
async def test_importing_pse_reproduces_ftss_published_tables(
    stores, start_service, tmp_path, pg_database, kafka_bootstrap, topic_prefix, token
) -> None:
    pledges, projects = await _stack(stores, start_service, tmp_path, pg_database, kafka_bootstrap, topic_prefix)
    admin = auth(token("admin"))
    # children before parents, tables after flows: any order
    files = _files([*FLOW_PAGES[::-1], *TABLES])
    r = await pledges.client.post(
        "/v1/imports/fts", files=files, headers={**admin, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert r.status_code == 200, r.text
    expected = {(r.cluster, None): r.funding_usd for r in published(FileKind.PLAN_CLUSTERS)}

    async def report() -> dict[tuple[str, str | None], Decimal]:
        answer = await projects.client.get("/v1/reports/plan-clusters", params={"country": "PSE"}, headers=admin)
        return {
            (row["cluster"], None): Decimal(row["funding_usd"]) for row in answer.json()["items"] if row["plan_code"]
        }

    async def matches() -> bool:
        mine = await report()
        return all(abs(mine.get(k, Decimal(0)) - v) <= 1 for k, v in expected.items())

    await eventually(matches, timeout=120, interval=0.5)
    rows = (await projects.client.get("/v1/reports/plan-clusters", params={"country": "PS"}, headers=admin)).json()[
        "items"
    ]
    plan_total = sum(Decimal(r["funding_usd"]) for r in rows if r["plan_code"] == "HPSE20")
    outside = sum(Decimal(r["funding_usd"]) for r in rows if r["plan_code"] is None)
    for row in published(FileKind.PLANS):
        assert abs((plan_total if row.plan_id else outside) - row.funding_usd) <= 1, row
    # Counted once everywhere: the money waiting for projects in Palestine is the country's total, not more
    # (pooled-fund allocations and pass-through sub-grants move money already counted; shared flows are no one's).
    pools = (await projects.client.get("/v1/pools", headers=admin)).json()["items"]
    waiting = sum(Decimal(p["balance_usd"]) for p in pools if p["earmark"]["country"] == "PS")
    assert abs(waiting - (plan_total + outside)) <= 1

    # The same money by the dates it moved (each flow's decision date), and as recorded (known_at).
    async def unallocated(**when: str) -> Decimal:
        answer = await projects.client.get("/v1/coverage", params={"by": "country", **when}, headers=admin)
        return sum((Decimal(r["unallocated_usd"]) for r in answer.json()["items"] if r["key"] == "PS"), Decimal(0))

    assert await unallocated(as_of="2015-01-01") == 0
    assert 0 < await unallocated(as_of="2020-06-30") < waiting
    today = dt.datetime.now(dt.UTC).date().isoformat()
    assert abs(await unallocated(as_of=today) - waiting) <= 1  # all by today: some were decided in 2021
    assert await unallocated(known_at="2020-12-31") == 0  # recorded today: not known in 2020
    assert {r["plan_name"] for r in rows if r["plan_code"]} == {
        "occupied Palestinian territory 2020 (part of 2018-2020 HRP)"
    }

    again = await pledges.client.post(
        "/v1/imports/fts",
        files=_files([*TABLES[::-1], *FLOW_PAGES]),
        headers={**admin, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert (again.json()["created"], again.json()["amended"]) == (0, 0)
    await asyncio.sleep(1)
    after = (await projects.client.get("/v1/reports/plan-clusters", params={"country": "PS"}, headers=admin)).json()[
        "items"
    ]
    assert after == rows


async def test_an_import_reaches_a_partner_through_its_subscription_without_a_flood(
    start_service, tmp_path, token, receiver
) -> None:
    """An import is hundreds of agreements at once: a partner following Palestine's pools with a daily cap of 20
    hears 20 webhooks, and every other event waits for the next digest instead of flooding its endpoint."""
    from aid_notifications.app import create_app as create_notifications
    from aid_notifications.settings import NotificationsSettings
    from tests.notifications.deliveries.test_digests import _digests_due, _verified

    bus = MemoryBus()
    url = {name: f"sqlite+aiosqlite:///{tmp_path / name}.db" for name in ("pledges", "projects", "notifications")}
    pledges = await start_service(create_pledges, PledgesSettings, url["pledges"], bus=bus, role="all")
    await start_service(create_projects, ProjectsSettings, url["projects"], bus=bus, role="all")
    notifications = await start_service(
        create_notifications, NotificationsSettings, url["notifications"], bus=bus, role="all",
        AID_WEBHOOK_ALLOW_PRIVATE="127.0.0.0/8", AID_DELIVERY_POLL_SECONDS="0.1",
    )  # fmt: skip
    admin = auth(token("admin"))
    partner = (await notifications.client.post("/v1/partners", json={"name": "UNRWA"}, headers=admin)).json()
    body = {
        "partner_id": partner["id"], "url": receiver.url("/ps"), "event_types": ["aid.pool.updated"],
        "filter": {"countries": ["PS"]}, "max_per_day": 20,
    }  # fmt: skip
    sub = (await notifications.client.post("/v1/subscriptions", json=body, headers=admin)).json()
    r = await pledges.client.post(
        "/v1/imports/fts", files=_files([*FLOW_PAGES, *TABLES]), headers={**admin, "Idempotency-Key": "pse-2020"}
    )
    assert r.status_code == 200, r.text

    async def settled() -> int | None:
        handled = notifications.runtime.consumer.outcomes["handled"]
        await asyncio.sleep(1)
        return handled if handled == notifications.runtime.consumer.outcomes["handled"] and handled > 20 else None

    await eventually(settled, timeout=120)
    await eventually(lambda: len(receiver.at("/ps")) >= 20, timeout=30)
    await asyncio.sleep(1)
    assert len(receiver.at("/ps")) == 20, "the daily cap holds"
    assert await _digests_due(notifications, dt.timedelta(days=1, minutes=1)) == 1
    await eventually(lambda: len(receiver.at("/ps")) == 21, timeout=10)
    digest = _verified(receiver.at("/ps")[-1], sub["secret"])
    assert digest["type"] == "aid.digest" and digest["data"]["over_daily_cap"] == digest["data"]["count"] > 0
    correlations = {_verified(w, sub["secret"]).get("correlationid") for w in receiver.at("/ps")[:20]}
    assert len(correlations) == 1 and None not in correlations, "an import is one correlation id"

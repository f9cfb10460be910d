"""Scoped ledger locks on real PostgreSQL: writers over disjoint earmarks never wait for each other, writers over
the same projects (or money that can reach any project) take turns — and concurrent writers keep every figure
exact."""

from __future__ import annotations

import asyncio
import random
import uuid
from collections import defaultdict
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from aid_common.bus import IncomingMessage
from aid_contracts import PLEDGES_TOPIC
from aid_projects import handlers
from aid_projects.app import create_app
from aid_projects.funding.models import AgreementFunds, LedgerEntry, Share
from aid_projects.projects.models import Project
from aid_projects.settings import ProjectsSettings
from tests.helpers import eventually
from tests.projects.conftest import amended, cancelled, create_project, deliver, envelope, project, signed

ZERO = Decimal("0.00")


@pytest.fixture
async def on_postgres(start_service, pg_url):
    return await start_service(create_app, ProjectsSettings, pg_url, role="all")


async def _waiting_for_a_lock(svc) -> int:
    async with svc.runtime.sessions() as session:
        return await session.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )


async def test_writers_on_disjoint_earmarks_never_wait_while_one_holds_its_lock(on_postgres, writer, reader) -> None:
    svc = on_postgres
    sy = await create_project(svc, writer, "SY-HEALTH", "1000000.00", country="SY")
    ye = await create_project(svc, writer, "YE-WASH", "1000000.00", country="YE", sector="wash")

    # Worker A handles an agreement for Syria and stays inside its transaction (paused mid-handler).
    paused = svc.runtime.sessions()
    await paused.begin()
    first = signed("100000.00", country="SY")
    await handlers.agreement_changed(paused, first, envelope(first))
    try:
        # Worker B: Yemen's agreements go through at once, one by one and as a batch.
        assert await asyncio.wait_for(deliver(svc, signed("200000.00", country="YE", sector="wash")), 15) == "handled"
        batch = [signed("50000.00", country="YE"), signed("25000.00", project_id=uuid.UUID(ye["id"]))]
        messages = [
            IncomingMessage(
                topic=PLEDGES_TOPIC, partition=1, offset=i, key=str(a.agreement_id), value=envelope(a).to_json()
            )
            for i, a in enumerate(batch)
        ]
        assert len(await asyncio.wait_for(svc.runtime.consumer.process_batch(messages), 15)) == 2
        assert (await project(svc, reader, ye["id"]))["funded_usd"] == "275000.00"

        # The same country, and money that may reach any country, wait for worker A.
        same_country = asyncio.create_task(deliver(svc, signed("300000.00", country="SY", sector="health")))
        spanning = asyncio.create_task(deliver(svc, signed("10000.00", sector="health")))
        await eventually(lambda: _count_is(svc, 2), timeout=15)
        assert not same_country.done() and not spanning.done()
        assert (await project(svc, reader, sy["id"]))["funded_usd"] == "0.00"  # A's allocation is not committed yet
        await paused.commit()
    finally:
        await paused.close()
    assert await asyncio.wait_for(same_country, 15) == "handled"
    assert await asyncio.wait_for(spanning, 15) == "handled"
    # 100 000 + 300 000 for Syria; the health-wide 10 000 goes by gap to the only health project there is.
    assert (await project(svc, reader, sy["id"]))["funded_usd"] == "410000.00"


async def test_a_batch_mixing_a_busy_country_with_free_ones_commits_the_free_ones_first(
    on_postgres, writer, reader
) -> None:
    """Partitions carry every country (events are keyed by agreement), so a second worker's batch nearly always
    holds some of what the first is busy with: it handles the rest at once instead of waiting for all of it."""
    svc = on_postgres
    sy = await create_project(svc, writer, "SY-HEALTH", "1000000.00", country="SY")
    ye = await create_project(svc, writer, "YE-HEALTH", "1000000.00", country="YE")
    paused = svc.runtime.sessions()  # worker A, inside its transaction on Syria
    await paused.begin()
    first = signed("100000.00", country="SY")
    await handlers.agreement_changed(paused, first, envelope(first))
    try:
        batch = [signed("300000.00", country="SY"), signed("50000.00", country="YE"), signed("25000.00", country="YE")]
        messages = [
            IncomingMessage(
                topic=PLEDGES_TOPIC, partition=2, offset=i, key=str(a.agreement_id), value=envelope(a).to_json()
            )
            for i, a in enumerate(batch)
        ]
        worker_b = asyncio.create_task(svc.runtime.consumer.process_batch(messages))
        await eventually(lambda: _funded_is(svc, reader, ye["id"], "75000.00"), timeout=15)  # Yemen's committed
        await eventually(lambda: _count_is(svc, 1), timeout=15)  # only Syria's waits
        assert not worker_b.done()
        await paused.commit()
    finally:
        await paused.close()
    assert len(await asyncio.wait_for(worker_b, 15)) == 3
    assert (await project(svc, reader, sy["id"]))["funded_usd"] == "400000.00"
    await _assert_ledger_exact(svc)


async def _funded_is(svc, reader, project_id: str, amount: str) -> bool:
    return (await project(svc, reader, project_id))["funded_usd"] == amount


async def _count_is(svc, n: int) -> bool:
    return await _waiting_for_a_lock(svc) == n


async def test_two_countries_drawing_one_sector_pool_take_turns_on_it(on_postgres, writer, reader) -> None:
    svc = on_postgres
    sy = await create_project(svc, writer, "SY-HEALTH", "100000.00", country="SY")
    ye = await create_project(svc, writer, "YE-HEALTH", "100000.00", country="YE")
    for_sy, for_ye, health = (
        signed("100000.00", country="SY"),
        signed("100000.00", country="YE"),
        signed("150000.00", sector="health"),
    )
    for agreement in (for_sy, for_ye, health):
        assert await deliver(svc, agreement) == "handled"  # the health-wide money waits: no gap anywhere

    # Syria's agreement is withdrawn: its project draws 100 000 from the health pool, inside an open transaction.
    paused = svc.runtime.sessions()
    await paused.begin()
    await handlers.agreement_changed(paused, cancelled(for_sy), envelope(cancelled(for_sy)))
    try:
        # Yemen's is withdrawn too: its project would draw the same pool, so it waits for the row, not the country.
        yemen = asyncio.create_task(deliver(svc, cancelled(for_ye)))
        await eventually(lambda: _count_is(svc, 1), timeout=15)
        await paused.commit()
    finally:
        await paused.close()
    assert await asyncio.wait_for(yemen, 15) == "handled"
    assert (await project(svc, reader, sy["id"]))["funded_usd"] == "100000.00"
    assert (await project(svc, reader, ye["id"]))["funded_usd"] == "50000.00"  # what was left, never more
    await _assert_ledger_exact(svc)


# Concurrent histories: two workers (as two consumer-group members over six partitions) handle the same stream.
COUNTRIES = ("SY", "YE", "SD")
SECTORS = ("health", "wash")


def _earmark(rng: random.Random, projects: list[dict]) -> dict:
    kind = rng.choice(["country", "country", "country+sector", "country+sector", "project", "sector", "none"])
    if kind == "project":
        return {"project_id": uuid.UUID(rng.choice(projects)["id"])}
    if kind == "sector":
        return {"sector": rng.choice(SECTORS)}
    if kind == "none":
        return {}
    place = {"country": rng.choice(COUNTRIES)}
    return place | ({"sector": rng.choice(SECTORS)} if kind == "country+sector" else {})


async def test_two_workers_on_one_stream_keep_every_figure_exact(on_postgres, writer) -> None:
    svc = on_postgres
    rng = random.Random(20261127)
    projects = [
        await create_project(svc, writer, f"{c}-{s}-{i}", f"{rng.randint(50, 400) * 1000}.00", country=c, sector=s)
        for c in COUNTRIES
        for s in SECTORS
        for i in range(2)
    ]
    partitions: dict[int, list] = defaultdict(list)  # per key, in order, as Kafka keeps them
    live: list = []
    for _ in range(160):
        roll = rng.random()
        if live and roll < 0.15:
            event = amended(rng.choice(live), f"{rng.randint(1, 300) * 1000}.00")
        elif live and roll < 0.22:
            event = cancelled(live.pop(rng.randrange(len(live))))
        else:
            event = signed(f"{rng.randint(1, 250) * 1000}.00", **_earmark(rng, projects))
            live.append(event)
        partitions[hash(event.agreement_id) % 6].append(event)
    offsets = defaultdict(int)

    def message(p: int, event) -> IncomingMessage:
        offsets[p] += 1
        body = envelope(event).to_json()
        return IncomingMessage(
            topic=PLEDGES_TOPIC, partition=p, offset=offsets[p], key=str(event.agreement_id), value=body
        )

    async def worker(owned: list[int]) -> None:
        queue = [message(p, e) for p in owned for e in partitions[p]]
        queue.sort(key=lambda m: (m.offset, m.partition))  # interleave the partitions, order kept per key
        while queue:
            batch, queue = queue[:12], queue[12:]
            assert len(await svc.runtime.consumer.process_batch(batch)) == len(batch)

    await asyncio.gather(worker([0, 2, 4]), worker([1, 3, 5]))
    assert svc.runtime.consumer.outcomes["deadlettered"] == 0
    await _assert_ledger_exact(svc)


async def _assert_ledger_exact(svc) -> None:
    async with svc.runtime.sessions() as session:
        agreements = list((await session.execute(select(AgreementFunds))).scalars())
        held = dict(
            (
                await session.execute(
                    select(Share.agreement_id, func.sum(Share.allocated_usd)).group_by(Share.agreement_id)
                )
            ).all()
        )
        ledger = dict(
            (
                await session.execute(
                    select(LedgerEntry.project_id, func.sum(LedgerEntry.amount_usd)).group_by(LedgerEntry.project_id)
                )
            ).all()
        )
        projects = list((await session.execute(select(Project))).scalars())
    for a in agreements:
        target = a.amount_usd if a.status == "signed" else ZERO
        assert held.get(a.agreement_id, ZERO) + a.pool_usd == target, f"agreement {a.reference}: shares + pool"
        assert a.pool_usd >= 0
    for p in projects:
        assert p.funded_usd == ledger.get(p.id, ZERO), f"{p.code}: funded is the sum of its ledger"
        if p.status == "active" and p.funded_usd < p.requirements_usd:
            for a in agreements:
                if a.pool_usd > 0 and a.earmark_project_id is None:
                    fields = {"country": a.earmark_country, "sector": a.earmark_sector}
                    matches = all(v is None or getattr(p, k) == v for k, v in fields.items())
                    assert not (matches and a.earmark_appeal is None), f"{p.code} has a gap while {a.pool_key} waits"


async def test_a_batch_ends_exactly_where_the_same_events_one_by_one_end(pg_database, start_service, writer) -> None:
    """A batch reads what an earmark matches once per transaction (the lane's lock keeps it fixed) while its
    agreements fill, free and refill the same projects: every project's figure and every pool must come out as
    when each event has its own transaction."""
    rng = random.Random(7)
    stream: list = []
    live: list = []
    for _ in range(60):
        roll = rng.random()
        if live and roll < 0.2:
            stream.append(amended(rng.choice(live), f"{rng.randint(1, 200) * 1000}.00"))
        elif live and roll < 0.3:
            stream.append(cancelled(live.pop(rng.randrange(len(live)))))
        else:
            earmark = rng.choice([{"country": "SY"}, {"country": "SY", "sector": "health"}])
            live.append(signed(f"{rng.randint(1, 150) * 1000}.00", **earmark))
            stream.append(live[-1])

    async def outcome(batched: bool) -> dict:
        svc = await start_service(create_app, ProjectsSettings, await pg_database(), role="all")
        for i, (sector, need) in enumerate([("health", 300), ("health", 500), ("wash", 400), ("health", 200)]):
            await create_project(svc, writer, f"SY-{i}", f"{need * 1000}.00", country="SY", sector=sector)
        if batched:
            messages = [
                IncomingMessage(topic=PLEDGES_TOPIC, partition=0, offset=i, key=str(e.agreement_id),
                                value=envelope(e).to_json())
                for i, e in enumerate(stream)
            ]  # fmt: skip
            for start in range(0, len(messages), 20):
                assert len(await svc.runtime.consumer.process_batch(messages[start : start + 20])) == 20
        else:
            for event in stream:
                assert await deliver(svc, event) == "handled"
        await _assert_ledger_exact(svc)
        async with svc.runtime.sessions() as session:
            funded = dict((await session.execute(select(Project.code, Project.funded_usd))).all())
            pools = dict((await session.execute(select(AgreementFunds.agreement_id, AgreementFunds.pool_usd))).all())
        return {"funded": funded, "pools": pools}

    one_by_one, batched = await outcome(False), await outcome(True)
    assert any(v > 0 for v in one_by_one["funded"].values())
    assert batched == one_by_one

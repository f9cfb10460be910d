"""Crashes and outages mid-stream: 200 agreements while the two projects workers (one consumer group over six
partitions, allocating under scoped ledger locks) and the notifications worker are SIGKILLed and restarted, and
a stream during which the broker stops and comes back. Afterwards every project's funding is exactly the sum of
its agreements, every webhook arrived, and duplicates only ever repeat a webhook-id."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
from collections import defaultdict
from collections.abc import Awaitable, Callable
from decimal import Decimal

from aiokafka.admin import AIOKafkaAdminClient
from standardwebhooks.webhooks import Webhook

from aid_contracts import PLEDGES_TOPIC
from tests.conftest import KAFKA
from tests.helpers import eventually
from tests.processes import REPO

# One project per (country, sector): an agreement earmarked to that pair can only go to that project, so the
# expected totals do not depend on the order in which agreements are handled.
PROJECTS = [
    ("SY-NW-HEALTH", "SY", "health"),
    ("SY-EDU", "SY", "education"),
    ("YE-WASH", "YE", "wash"),
    ("SD-FOOD", "SD", "food-security"),
    ("LB-SHELTER", "LB", "shelter"),
    ("AF-EDU", "AF", "education"),
]


async def _setup(stack) -> tuple[dict[str, dict], list[dict], dict]:
    projects = {}
    for code, country, sector in PROJECTS:
        body = {"code": code, "title": code, "country": country, "sector": sector, "requirements_usd": "100000000.00"}
        projects[code] = await stack.post(stack.projects_api, "/v1/projects", body)
    donors = [
        await stack.post(stack.pledges, "/v1/donors", d)
        for d in (
            {"name": "State of Kuwait", "kind": "government", "country": "KW", "names": {"ar": "دولة الكويت"}},
            {"name": "Qatar Fund for Development", "kind": "development_bank", "country": "QA"},
            {"name": "Global Islamic Fund for Refugees", "kind": "pooled_fund", "country": "SA"},
        )
    ]
    partner = await stack.post(stack.notifications_api, "/v1/partners", {"name": "Kuwait Red Crescent Society"})
    sub = await stack.post(
        stack.notifications_api,
        "/v1/subscriptions",
        {
            "partner_id": partner["id"],
            "url": stack.receiver.url("/all"),
            "event_types": ["aid.project.funding_updated"],
        },
    )
    return projects, donors, sub


async def _sign_many(stack, projects, donors, n: int, chaos: Callable[[int], Awaitable[None]]) -> dict[str, Decimal]:
    """Sign `n` agreements (8 at a time); `chaos(signed_so_far)` runs after each. Returns USD expected per project."""
    rng = random.Random(20241125)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    signed = 0
    lock = asyncio.Semaphore(8)

    async def sign(i: int) -> None:
        nonlocal signed
        code, country, sector = PROJECTS[i % len(PROJECTS)]
        earmark = {"project_id": projects[code]["id"]} if i % 5 == 0 else {"country": country, "sector": sector}
        currency, places = rng.choice([("USD", 2), ("KWD", 3), ("QAR", 2)])
        amount = Decimal(rng.randint(100_000, 5_000_000)).scaleb(-places)
        body = {
            "donor_id": donors[i % len(donors)]["id"],
            "reference": f"E2E-{i:04d}",
            "title": f"منحة رقم {i}",
            "amount": str(amount),
            "currency": currency,
            "status": "signed",
            "signed_on": "2024-06-01",
            "earmark": earmark,
        }
        async with lock:
            agreement = await stack.post_until_accepted(stack.pledges, "/v1/agreements", body, key=f"e2e-{i}")
        expected[code] += Decimal(agreement["amount_usd"])
        signed += 1
        await chaos(signed)

    await asyncio.gather(*(sign(i) for i in range(n)))
    return expected


async def _assert_converged(stack, projects, sub, expected: dict[str, Decimal], n: int) -> None:
    async def funding_matches() -> bool:
        for code, project in projects.items():
            got = await stack.get(stack.projects_api, f"/v1/projects/{project['id']}")
            if Decimal(got["funded_usd"]) != expected[code]:
                return False
        return True

    await eventually(funding_matches, timeout=240, interval=1)

    def event_ids() -> set[str]:
        return {json.loads(r.body)["id"] for r in stack.receiver.at("/all")}

    await eventually(lambda: len(event_ids()) >= n, timeout=240, interval=1)
    await asyncio.sleep(2)  # let late duplicates show up, if any
    by_webhook: dict[str, set[str]] = defaultdict(set)
    by_event: dict[str, set[str]] = defaultdict(set)
    agreements_seen = set()
    for request in stack.receiver.at("/all"):
        event = Webhook(sub["secret"]).verify(request.body, request.headers)
        by_webhook[request.headers["webhook-id"]].add(event["id"])
        by_event[event["id"]].add(request.headers["webhook-id"])
        agreements_seen.add(event["data"]["agreement_id"])
    assert len(by_event) == n and len(agreements_seen) == n, "one funding_updated webhook per agreement"
    assert all(len(ids) == 1 for ids in by_webhook.values()), "a webhook-id always carries the same event"
    assert all(len(ids) == 1 for ids in by_event.values()), "a repeated event keeps its webhook-id"
    for code, project in projects.items():
        ledger = await stack.get(stack.projects_api, f"/v1/projects/{project['id']}/allocations", limit=500)
        assert sum(Decimal(e["amount_usd"]) for e in ledger["items"]) == expected[code]


async def test_workers_killed_mid_stream_lose_nothing_and_count_nothing_twice(stack) -> None:
    projects, donors, sub = await _setup(stack)
    restarts: list[asyncio.Task] = []

    async def chaos(signed: int) -> None:
        if signed == 40:
            stack.projects_worker.kill()
            restarts.append(asyncio.create_task(_restart_after(stack.projects_worker, 1.0)))
        elif signed == 75:
            stack.projects_worker_2.kill()
            restarts.append(asyncio.create_task(_restart_after(stack.projects_worker_2, 1.0)))
        elif signed == 110:
            stack.notifications_worker.kill()
            restarts.append(asyncio.create_task(_restart_after(stack.notifications_worker, 1.0)))

    expected = await _sign_many(stack, projects, donors, 200, chaos)
    await asyncio.gather(*restarts)
    await _assert_converged(stack, projects, sub, expected, 200)
    assert await _partitions(stack, PLEDGES_TOPIC) >= 6
    for worker in (stack.projects_worker, stack.projects_worker_2):  # both group members took their share
        assert await _handled(stack, worker) > 0


async def _handled(stack, worker) -> float:
    text = (await stack.http.get(worker.url + "/metrics")).text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("aid_events_consumed_total{")
        and 'type="aid.agreement.signed"' in line
        and 'outcome="handled"' in line
    )


async def _partitions(stack, topic: str) -> int:
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    try:
        (described,) = await admin.describe_topics([stack.topic_prefix + topic])
    finally:
        await admin.close()
    return len(described["partitions"])


async def test_a_broker_outage_mid_stream_loses_nothing(stack, broker_control) -> None:
    projects, donors, sub = await _setup(stack)
    outage: list[asyncio.Task] = []

    async def chaos(signed: int) -> None:
        if signed == 20:
            outage.append(asyncio.create_task(asyncio.to_thread(broker_control.stop)))

    expected = await _sign_many(stack, projects, donors, 60, chaos)
    await asyncio.gather(*outage)
    await asyncio.sleep(2)  # the services notice the broker is gone
    await asyncio.to_thread(broker_control.start)
    await _assert_converged(stack, projects, sub, expected, 60)


async def test_a_database_restart_mid_stream_loses_nothing(stack) -> None:
    projects, donors, sub = await _setup(stack)
    restart: list[asyncio.Task] = []

    async def chaos(signed: int) -> None:
        if signed == 20:
            restart.append(asyncio.create_task(asyncio.to_thread(_restart_postgres)))

    expected = await _sign_many(stack, projects, donors, 60, chaos)
    await asyncio.gather(*restart)
    await _assert_converged(stack, projects, sub, expected, 60)


def _restart_postgres() -> None:
    subprocess.run([str(REPO / "deploy/local/postgres.sh"), "restart"], check=True, timeout=120)


async def _restart_after(process, seconds: float) -> None:
    await asyncio.sleep(seconds)
    await process.start()

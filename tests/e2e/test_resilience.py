"""Crashes and outages mid-stream: 200 agreements while the two projects workers (one consumer group over six
partitions, allocating under scoped ledger locks) and the notifications worker are SIGKILLed and restarted, and
a stream during which the broker stops and comes back. Afterwards every project's funding is exactly the sum of
its agreements, every webhook arrived, and duplicates only ever repeat a webhook-id."""

from __future__ import annotations

import asyncio
import subprocess

from aiokafka.admin import AIOKafkaAdminClient

from aid_contracts import PLEDGES_TOPIC
from tests.conftest import KAFKA
from tests.flow import assert_converged, set_up, sign_many
from tests.processes import REPO


async def test_workers_killed_mid_stream_lose_nothing_and_count_nothing_twice(stack) -> None:
    projects, donors, sub = await set_up(stack)
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

    expected = await sign_many(stack, projects, donors, 200, chaos)
    await asyncio.gather(*restarts)
    await assert_converged(stack, projects, sub, expected, 200)
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
    projects, donors, sub = await set_up(stack)
    outage: list[asyncio.Task] = []

    async def chaos(signed: int) -> None:
        if signed == 20:
            outage.append(asyncio.create_task(asyncio.to_thread(broker_control.stop)))

    expected = await sign_many(stack, projects, donors, 60, chaos)
    await asyncio.gather(*outage)
    await asyncio.sleep(2)  # the services notice the broker is gone
    await asyncio.to_thread(broker_control.start)
    await assert_converged(stack, projects, sub, expected, 60)


async def test_a_database_restart_mid_stream_loses_nothing(stack) -> None:
    projects, donors, sub = await set_up(stack)
    restart: list[asyncio.Task] = []

    async def chaos(signed: int) -> None:
        if signed == 20:
            restart.append(asyncio.create_task(asyncio.to_thread(_restart_postgres)))

    expected = await sign_many(stack, projects, donors, 60, chaos)
    await asyncio.gather(*restart)
    await assert_converged(stack, projects, sub, expected, 60)


def _restart_postgres() -> None:
    subprocess.run([str(REPO / "deploy/local/postgres.sh"), "restart"], check=True, timeout=120)


async def _restart_after(process, seconds: float) -> None:
    await asyncio.sleep(seconds)
    await process.start()

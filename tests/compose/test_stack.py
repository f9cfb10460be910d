"""The compose stack as an operator runs it: an agreement's funding reaches the projects and a verified webhook
reaches the partner, through the containers, while one service container is killed and another restarted;
Prometheus scrapes every service container with the alert rules loaded."""

from __future__ import annotations

import asyncio
import time

import httpx
import yaml

from tests.compose.conftest import Containers
from tests.conftest import REPO
from tests.flow import Platform, assert_converged, set_up, sign_many
from tests.helpers import eventually

PROMETHEUS = "http://127.0.0.1:9090"
SERVICES = ("pledges-api", "pledges-worker", "projects-api", "projects-worker", "notifications-api",
            "notifications-worker")  # fmt: skip


async def test_agreements_fund_projects_and_reach_the_partner_while_containers_restart(
    containers: Containers, platform: Platform
) -> None:
    projects, donors, sub = await set_up(platform)
    chaos_done: list[asyncio.Task] = []

    async def kill_and_start(service: str) -> None:
        await asyncio.to_thread(containers.podman, "kill", "--signal", "KILL", containers.container(service))
        await asyncio.sleep(1)
        await asyncio.to_thread(containers.podman, "start", containers.container(service))

    async def chaos(signed: int) -> None:
        if signed == 10:  # a crash mid-stream: the projects worker's container is SIGKILLed, then started again
            chaos_done.append(asyncio.create_task(kill_and_start("projects-worker")))
        elif signed == 20:  # an operator's restart: SIGTERM, the grace period, a new start
            restart = ("restart", "--time", "30", containers.container("notifications-worker"))
            chaos_done.append(asyncio.create_task(asyncio.to_thread(containers.podman, *restart)))

    started = time.monotonic()
    expected = await sign_many(platform, projects, donors, 40, chaos)
    await asyncio.gather(*chaos_done)
    await assert_converged(platform, projects, sub, expected, 40)
    print(f"\n40 agreements funded and their 40 webhooks verified through the containers in "
          f"{time.monotonic() - started:.1f} s, one container killed and one restarted mid-stream")  # fmt: skip
    for service in ("projects-worker", "notifications-worker"):  # both back and healthy
        containers.podman("healthcheck", "run", containers.container(service))


async def test_prometheus_scrapes_every_service_container_with_the_alert_rules_loaded(
    containers: Containers,
) -> None:
    async with httpx.AsyncClient(timeout=10) as http:

        async def targets() -> dict[str, str]:
            r = await http.get(f"{PROMETHEUS}/api/v1/targets")
            return {t["labels"]["instance"]: t["health"] for t in r.json()["data"]["activeTargets"]}

        await eventually(lambda: _all_up(targets), timeout=60, interval=2)
        up = await targets()
        assert sorted(i.split(":")[0] for i in up) == sorted(SERVICES) and set(up.values()) == {"up"}

        rules = (await http.get(f"{PROMETHEUS}/api/v1/rules")).json()["data"]["groups"]
        written = yaml.safe_load((REPO / "deploy/prometheus/alerts.yml").read_text())["groups"]
        assert {g["name"]: len(g["rules"]) for g in rules} == {g["name"]: len(g["rules"]) for g in written}
        # both containers of each service (api and worker) scraped under the service's label, as the alerts group them
        query = await http.get(f"{PROMETHEUS}/api/v1/query", params={"query": "count by (service) (up == 1)"})
        counts = {r["metric"]["service"]: r["value"][1] for r in query.json()["data"]["result"]}
        assert counts == {"pledges": "2", "projects": "2", "notifications": "2"}


async def _all_up(targets) -> bool:
    try:
        got = await targets()
    except httpx.TransportError:
        return False
    return len(got) == len(SERVICES) and set(got.values()) == {"up"}

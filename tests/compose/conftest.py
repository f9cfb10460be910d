"""docker-compose.yml run for real: the images `deploy/containers/images.sh` builds without a registry, started by
`deploy/containers/compose.sh` with podman-compose, in this test run's own network namespace (`make compose-live`
runs it under `unshare --net`), so the ports the compose file publishes open there and nowhere else. Run any
other way these tests fail, never skip."""

from __future__ import annotations

import ipaddress
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.conftest import REPO
from tests.flow import Platform
from tests.helpers import auth
from tests.receiver import Receiver

COMPOSE = REPO / "deploy/containers/compose.sh"
PROJECT = "crisisaid"
# Webhooks to the test's receiver go to the compose network's gateway: a private address the platform refuses
# unless allowlisted. Podman gives its networks subnets from 10.88.0.0/16 upwards.
ALLOWED = ipaddress.ip_network("10.88.0.0/13")
ENV = {**os.environ, "CONTAINERS_CONF": str(REPO / "deploy/containers/containers.conf"), "AID_PROJECT": PROJECT}


@dataclass
class Published:
    url: str


@dataclass
class Containers:
    """The running compose project: its containers by compose service name."""

    def container(self, service: str) -> str:
        return f"{PROJECT}_{service}_1"

    def podman(self, *args: str) -> str:
        out = subprocess.run(["podman", *args], env=ENV, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, f"podman {' '.join(args)}: {out.stderr[-2000:]}"
        return out.stdout

    def compose(self, *args: str) -> str:
        out = subprocess.run([str(COMPOSE), *args], env=ENV, capture_output=True, text=True, timeout=600)
        assert out.returncode == 0, f"compose.sh {' '.join(args)}: {out.stderr[-4000:]}"
        return out.stdout

    def gateway(self) -> str:
        (network,) = json.loads(self.podman("network", "inspect", f"{PROJECT}_default"))
        return network["subnets"][0]["gateway"]


@pytest.fixture(scope="session")
def containers() -> Iterator[Containers]:
    if {name for _, name in socket.if_nameindex()} != {"lo"}:  # interfaces of this process's network namespace
        pytest.fail("run these through `make compose-live`: the compose stack gets its own network namespace")
    if shutil.which("podman") is None or not (REPO / ".venv/bin/podman-compose").exists():
        pytest.fail("podman or podman-compose missing: run `deploy/containers/images.sh all` (make compose-live does)")
    stack = Containers()
    ENV["AID_WEBHOOK_ALLOW_PRIVATE"] = str(ALLOWED)
    stack.compose("down")
    started = time.monotonic()
    try:
        stack.compose("up")
        print(f"\ncompose stack up (13 containers, health checks passing) in {time.monotonic() - started:.1f} s")
        yield stack
    finally:
        subprocess.run([str(COMPOSE), "down"], env=ENV, capture_output=True, timeout=300)


@pytest.fixture
async def platform(containers: Containers) -> AsyncIterator[Platform]:
    gateway = containers.gateway()
    assert ipaddress.ip_address(gateway) in ALLOWED, f"the compose network's gateway {gateway} is outside {ALLOWED}"
    token = containers.compose("token", "admin").strip()  # the command docker-compose.yml documents
    receiver = Receiver(host=gateway)  # the bridge's address in this namespace: containers reach it, nothing else
    await receiver.start()
    async with httpx.AsyncClient(timeout=30) as http:
        yield Platform(
            pledges=Published("http://127.0.0.1:8001"),
            projects_api=Published("http://127.0.0.1:8002"),
            notifications_api=Published("http://127.0.0.1:8003"),
            receiver=receiver,
            admin=auth(token),
            http=http,
        )
    await receiver.stop()

"""Both overlays' pods actually running (`podman kube play`): the migration Jobs complete; every replica of every
Deployment becomes ready on SASL_SSL Kafka with its own principal and runs as the manifest says (uid 10001,
read-only root, no capabilities, its memory limit); a service is refused what its KafkaUser's ACLs do not grant;
and the headline flow runs through the pods while a worker's process is killed and its restart policy brings it
back."""

from __future__ import annotations

import json
import os
import signal
import time

import httpx

from aid_common.auth import mint_token
from tests.flow import Platform, assert_converged, set_up, sign_many
from tests.helpers import auth, eventually
from tests.live.cluster import BOOTSTRAP, podman
from tests.live.pods import SERVICES, Pods
from tests.receiver import Receiver

UNITS = {"Mi": 1024**2, "Gi": 1024**3}


def test_the_jobs_complete_and_every_deployment_becomes_ready(pods: Pods) -> None:
    assert sorted(pods.jobs) == sorted(f"{s}-migrate" for s in SERVICES)
    assert sorted(pods.deployments) == sorted(f"{s}-{role}" for s in SERVICES for role in ("api", "worker"))
    for name, played in pods.deployments.items():  # as many pods as the overlay's replicas
        deployment = next(d for d in pods.cluster.of_kind("Deployment") if d["metadata"]["name"] == name)
        assert len(played.pods) == deployment["spec"]["replicas"], (name, played.pods)
    print()
    for step, seconds in pods.timings.items():
        print(f"kube play ({pods.overlay}): {step} in {seconds:.1f} s")
    for played in pods.deployments.values():  # ready means the database and the broker (SASL_SSL) are reachable
        checks = httpx.get(f"{played.url}{played.ready_path}", timeout=5).json()["checks"]
        assert checks == {"database": "ok", "broker": "ok"}, (played.workload, checks)


def _memory_limit(pods: Pods, workload: str) -> int:
    deployment = next(d for d in pods.cluster.of_kind("Deployment") if d["metadata"]["name"] == workload)
    limit = deployment["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]["memory"]
    return int(limit[:-2]) * UNITS[limit[-2:]]


def test_every_pod_runs_as_its_manifest_says(pods: Pods) -> None:
    for name, played in pods.deployments.items():
        for container in played.containers:  # every replica
            (info,) = json.loads(podman("inspect", container))
            assert info["Config"]["User"] == "10001:10001", container
            assert info["HostConfig"]["ReadonlyRootfs"] is True, container
            assert info["EffectiveCaps"] in (None, []), container
            assert info["HostConfig"]["Memory"] == _memory_limit(pods, name), container
            status = podman("exec", container, "sh", "-c", "id -u; grep CapEff /proc/1/status")
            assert status.splitlines() == ["10001", "CapEff:\t0000000000000000"], (container, status)
            refused = podman("exec", container, "sh", "-c", "touch /opt/venv/x 2>&1 || true")
            assert "Read-only file system" in refused, (container, refused)


ACL_PROBE = """
import asyncio, ssl, sys
from aiokafka import AIOKafkaProducer
from aiokafka.errors import TopicAuthorizationFailedError

async def main():
    producer = AIOKafkaProducer(
        bootstrap_servers="%(bootstrap)s:9093", security_protocol="SASL_SSL", sasl_mechanism="SCRAM-SHA-512",
        sasl_plain_username="%(user)s", sasl_plain_password=open("/kafka-user/password").read().strip(),
        ssl_context=ssl.create_default_context(cafile="/kafka-ca/ca.crt"), request_timeout_ms=15000)
    await producer.start()
    try:
        await producer.send_and_wait("%(topic)s", b"{}")
        print("written")
    except TopicAuthorizationFailedError:
        print("refused")
    finally:
        await producer.stop()

asyncio.run(main())
"""


def test_a_service_is_refused_what_its_kafka_user_is_not_granted(pods: Pods) -> None:
    """The pledges pod, with its own credentials, may not write the projects topic (its KafkaUser grants only
    aid.pledges.v1 and the dead letters); the broker refuses it, and takes the same write to the dead letters."""

    def write(topic: str) -> str:
        probe = ACL_PROBE % {"bootstrap": BOOTSTRAP, "user": "crisisaid-pledges", "topic": topic}
        return podman("exec", pods.api("pledges").container, "python", "-c", probe).strip()

    assert write("aid.projects.v1") == "refused"
    assert write("aid.deadletter.v1") == "written"


async def test_the_headline_flow_runs_through_the_pods_while_a_worker_is_killed(pods: Pods) -> None:
    token = mint_token(pods.cluster.private_key, subject="operator", scopes=["admin"])
    receiver = Receiver(host=pods.cluster.gateway())  # the bridge's address here: the pods reach it
    await receiver.start()
    worker = pods.deployments["projects-worker"]

    async def chaos(signed: int) -> None:
        if signed == 10:  # a crash, not a stop: the process dies and the pod's restartPolicy Always restarts it
            os.kill(int(podman("inspect", "--format", "{{.State.Pid}}", worker.container)), signal.SIGKILL)

    try:
        async with httpx.AsyncClient(timeout=30) as http:
            platform = Platform(
                pledges=pods.api("pledges"),
                projects_api=pods.api("projects"),
                notifications_api=pods.api("notifications"),
                receiver=receiver,
                admin=auth(token),
                http=http,
            )
            projects, donors, sub = await set_up(platform)
            started = time.monotonic()
            expected = await sign_many(platform, projects, donors, 30, chaos)
            await assert_converged(platform, projects, sub, expected, 30)
            seconds = time.monotonic() - started
            print(f"\nkube play ({pods.overlay}): 30 agreements funded, 30 webhooks verified in {seconds:.1f} s")
    finally:
        await receiver.stop()
    restarts = await eventually(lambda: int(podman("inspect", "--format", "{{.RestartCount}}", worker.container)))
    assert restarts >= 1

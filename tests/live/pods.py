"""An overlay run as pods: the stand-in cluster first, then its Jobs (to completion), then its Deployments, every
replica ready when its own readiness probe answers."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from tests.live.cluster import Cluster, podman
from tests.live.play import Played, play, shimmed, wait_completed, wait_ready

SERVICES = ("pledges", "projects", "notifications")


@dataclass
class Pods:
    overlay: str
    cluster: Cluster
    jobs: dict[str, Played] = field(default_factory=dict)
    deployments: dict[str, Played] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)

    @classmethod
    def start(cls, overlay: str, objects: list[dict[str, Any]]) -> Pods:
        for service in SERVICES:  # the overlay's image names and tags, on the images images.sh built
            image = next(o for o in objects if o["kind"] == "Deployment" and o["metadata"]["name"].startswith(service))
            podman("tag", f"crisisaid/{service}:local", image["spec"]["template"]["spec"]["containers"][0]["image"])
        pods = cls(overlay, Cluster(objects))
        started = time.monotonic()
        pods.cluster.start()
        pods.timings["stand-ins (Kafka with topics, users and ACLs; PostgreSQL)"] = time.monotonic() - started
        started = time.monotonic()
        # webhooks to the test's receiver on the network's gateway: allowlisted as an operator's overlay would
        extra = {"notifications": {"AID_WEBHOOK_ALLOW_PRIVATE": pods.cluster.subnet()}}
        for job in pods.cluster.of_kind("Job"):
            manifest, played = shimmed(job, pods.cluster, {})
            pods.jobs[job["metadata"]["name"]] = play(manifest, played, pods.cluster)
        for played in pods.jobs.values():
            wait_completed(played)
        pods.timings["migration Jobs completed"] = time.monotonic() - started
        started = time.monotonic()
        for deployment in pods.cluster.of_kind("Deployment"):
            name = deployment["metadata"]["name"]
            manifest, played = shimmed(deployment, pods.cluster, extra.get(name.split("-")[0], {}))
            pods.deployments[name] = play(manifest, played, pods.cluster)
        for played in pods.deployments.values():
            wait_ready(played)
        pods.timings["Deployments' pods ready"] = time.monotonic() - started
        return pods

    def api(self, service: str) -> Played:
        return self.deployments[f"{service}-api"]

    def stop(self) -> None:
        for played in [*self.jobs.values(), *self.deployments.values()]:
            for pod in played.pods:
                podman("pod", "rm", "-f", "-t", "0", pod, check=False)
        self.cluster.cleanup()

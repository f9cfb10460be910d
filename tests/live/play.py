"""The rendered Deployments and Jobs run as pods by `podman kube play`, with the shims podman 4.3 needs and nothing
else changed (image, args, user, read-only root, capabilities, memory limits, volumes, mounts stay as rendered):
- env: `configMapKeyRef`, `secretKeyRef` and `envFrom` resolved to values (4.3 reads neither ConfigMap objects
  from the same file nor Secrets), then `$(VAR)` in args expanded (4.3 passes it through literally);
- `secret` volumes become host directories holding the Secret's items (4.3 has no Secret volumes);
- Jobs become Pods that run once (4.3 plays no Jobs); `ports` are dropped (4.3 would publish them on the host)
  after named probe ports are resolved; probes are dropped too, and `Prober` does the kubelet's part: it calls each
  container's readiness probe (path and port as rendered) on the pod's address.
`overrides` sets environment values per service on top (what an operator's overlay would)."""

from __future__ import annotations

import copy
import json
import re
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import yaml

from tests.live.cluster import NETWORK, Cluster, podman, podman_ok

PROBES = ("startupProbe", "livenessProbe", "readinessProbe")


@dataclass
class Played:
    """One workload's pods (as many as its replicas), their app containers, where its readiness probe answers; `pod`
    and `container` name the first, which `url` reaches."""

    workload: str
    pods: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    ready_path: str | None = None
    ready_port: int | None = None

    @property
    def pod(self) -> str:
        return self.pods[0]

    @property
    def container(self) -> str:
        return self.containers[0]

    def url_of(self, container: str) -> str:
        info = json.loads(podman("inspect", container))[0]
        return f"http://{info['NetworkSettings']['Networks'][NETWORK]['IPAddress']}:{self.ready_port}"

    @property
    def url(self) -> str:
        return self.url_of(self.container)


def _env(container: dict[str, Any], cluster: Cluster, extra: dict[str, str]) -> dict[str, str]:
    maps = {c["metadata"]["name"]: c.get("data", {}) for c in cluster.of_kind("ConfigMap")}
    values: dict[str, str] = {}
    for source in container.get("envFrom", []):
        values |= maps[source["configMapRef"]["name"]]
    for var in container.get("env", []):
        ref = var.get("valueFrom", {})
        if "configMapKeyRef" in ref:
            values[var["name"]] = maps[ref["configMapKeyRef"]["name"]][ref["configMapKeyRef"]["key"]]
        elif "secretKeyRef" in ref:
            values[var["name"]] = cluster.secrets[ref["secretKeyRef"]["name"]][ref["secretKeyRef"]["key"]].decode()
        else:
            values[var["name"]] = var["value"]
    return values | extra


def _expand(text: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\((\w+)\)", lambda m: env.get(m.group(1), m.group(0)), text)


def shimmed(workload: dict[str, Any], cluster: Cluster, extra: dict[str, str]) -> tuple[dict[str, Any], Played]:
    name = workload["metadata"]["name"]
    spec = copy.deepcopy(workload["spec"]["template"]["spec"])
    played = Played(workload=name)
    for volume in spec.get("volumes", []):
        if "secret" in volume:
            secret = volume.pop("secret")
            data = cluster.secrets[secret["secretName"]]
            items = secret.get("items") or [{"key": k, "path": k} for k in data]
            folder = f"volumes/{name}/{volume['name']}"
            for item in items:
                cluster.file(f"{folder}/{item['path']}", data[item["key"]])
            volume["hostPath"] = {"path": str(cluster.root / folder), "type": "Directory"}
    (container,) = spec["containers"]
    env = _env(container, cluster, extra)
    container["env"] = [{"name": k, "value": v} for k, v in sorted(env.items())]
    container.pop("envFrom", None)
    container["args"] = [_expand(a, env) for a in container.get("args", [])]
    ports = {p.get("name"): p["containerPort"] for p in container.pop("ports", [])}
    if probe := container.get("readinessProbe", {}).get("httpGet"):
        played.ready_path, port = probe["path"], probe["port"]
        played.ready_port = ports[port] if isinstance(port, str) else port
    for probe_name in PROBES:
        container.pop(probe_name, None)
    if workload["kind"] == "Job":
        spec["restartPolicy"] = "Never"
        labels = workload["spec"]["template"]["metadata"].get("labels", {})
        manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels}, "spec": spec}
    else:
        manifest = copy.deepcopy(workload)
        manifest["metadata"].pop("namespace", None)
        manifest["spec"]["template"]["spec"] = spec
    return manifest, played


def play(manifest: dict[str, Any], played: Played, cluster: Cluster) -> Played:
    path = cluster.file(f"manifests/{played.workload}.yaml", yaml.safe_dump(manifest).encode())
    out = podman("kube", "play", "--network", NETWORK, "--replace", str(path))
    pods = re.findall(r"^Pod:\s*\n([0-9a-f]{64})$", out, re.MULTILINE)  # "Pod:", then the pod's id
    assert pods, f"kube play started no pod for {played.workload}: {out}"
    for pod in pods:
        info = json.loads(podman("pod", "inspect", pod))
        info = info[0] if isinstance(info, list) else info
        played.pods.append(info["Name"])
        played.containers += [c["Name"] for c in info["Containers"] if not c["Name"].endswith("-infra")]
    return played


def wait_completed(played: Played, timeout: float = 180) -> None:
    code = podman("wait", played.container, timeout=timeout).strip().splitlines()[-1]
    assert code == "0", f"{played.workload} exited {code}: {podman('logs', '--tail', '30', played.container)}"


def wait_ready(played: Played, timeout: float = 180) -> float:
    """Poll each pod's readiness probe as the kubelet would, until it answers 200; returns the seconds it took."""
    started = time.monotonic()
    for container in played.containers:
        while True:
            try:
                if httpx.get(f"{played.url_of(container)}{played.ready_path}", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if not podman_ok("container", "exists", container) or time.monotonic() - started > timeout:
                raise AssertionError(f"{played.workload} not ready: {podman('logs', '--tail', '40', container)}")
            time.sleep(1)
    return time.monotonic() - started

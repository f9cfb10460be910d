"""Both overlays against a real Kubernetes API server (its validation, defaulting, admission and the vendored
Strimzi CRDs): every object accepted by a server-side dry run and then for real, every pod template admitted
under PodSecurity `restricted`, and a wrong manifest refused as a cluster would refuse it."""

from __future__ import annotations

import time
from typing import Any

import pytest

from tests.live.kube import Kube, rendered

OVERLAYS = ("dev", "prod")


def _namespace(kube: Kube, objects: list[dict[str, Any]]) -> dict[str, Any]:
    """Create the overlay's namespace for real (a dry run of namespaced objects needs it) and its default
    ServiceAccount (what the service-account controller, absent here, would make)."""
    namespace = objects[0]
    assert namespace["kind"] == "Namespace" and kube.apply(namespace).status_code in (200, 201)
    name = namespace["metadata"]["name"]
    account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "default", "namespace": name}}
    assert kube.apply(account).status_code in (200, 201)
    return namespace


def _refusals(kube: Kube, objects: list[dict[str, Any]], *, dry_run: bool) -> list[str]:
    refused = []
    for o in objects:
        r = kube.apply(o, dry_run=dry_run)
        if r.status_code not in (200, 201):
            refused.append(f"{o['kind']}/{o['metadata']['name']}: {r.status_code} {r.json().get('message')}")
    return refused


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_is_accepted_by_a_dry_run_and_then_for_real(kube: Kube, overlay: str) -> None:
    objects = rendered(overlay)
    started = time.monotonic()
    _namespace(kube, objects)
    assert _refusals(kube, objects[1:], dry_run=True) == []
    dry = time.monotonic() - started
    assert _refusals(kube, objects, dry_run=False) == []
    for o in objects:  # stored as applied
        assert kube.client.get(f"{kube.collection(o)}/{o['metadata']['name']}").status_code == 200
    print(f"{overlay}: {len(objects)} objects, server dry run {dry:.1f} s, applied {time.monotonic() - started:.1f} s")


def _pods(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """A Pod for each Deployment's and Job's template, as their controllers would create it."""
    pods = []
    for o in objects:
        if o["kind"] in ("Deployment", "Job"):
            template = o["spec"]["template"]
            pods.append({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"{o['metadata']['name']}-check", "namespace": o["metadata"]["namespace"],
                             "labels": template["metadata"].get("labels", {})},
                "spec": template["spec"],
            })  # fmt: skip
    return pods


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_pod_template_is_admitted_under_pod_security_restricted(kube: Kube, overlay: str) -> None:
    objects = rendered(overlay)
    namespace = _namespace(kube, objects)
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    pods = _pods(objects)
    assert len(pods) >= 9  # api and worker per service, and the migration jobs
    for pod in pods:
        r = kube.create(pod, dry_run=True)
        assert r.status_code == 201, f"{pod['metadata']['name']}: {r.json().get('message')}"
    loose = _pods(objects)[0]
    container = loose["spec"]["containers"][0]
    container["securityContext"].update(allowPrivilegeEscalation=True, capabilities={"add": ["NET_RAW"]})
    r = kube.create(loose, dry_run=True)
    assert r.status_code == 403 and "violates PodSecurity" in r.json()["message"], r.text


def test_the_api_server_refuses_what_was_wrong(kube: Kube) -> None:
    """The defects a real API server found, as manifests: each is refused with the server's reason."""
    objects = rendered("prod")
    _namespace(kube, objects)
    policy = next(o for o in objects if o["metadata"]["name"].endswith("webhook-egress"))
    policy["spec"]["egress"][0]["to"][1]["ipBlock"]["except"].append("::ffff:0:0/96")
    refused = kube.apply(policy, dry_run=True)
    assert refused.status_code == 422 and "IPv4-mapped" in refused.json()["message"]

    user = next(o for o in objects if o["kind"] == "KafkaUser")
    with pytest.raises(LookupError, match=r"serves no KafkaUser in kafka\.strimzi\.io/v1beta2"):
        kube.apply({**user, "apiVersion": "kafka.strimzi.io/v1beta2"}, dry_run=True)
    acl = user["spec"]["authorization"]["acls"][0]
    acl["operation"] = acl.pop("operations")[0]  # the v1beta2 spelling, gone from v1
    refused = kube.create(user, dry_run=True)
    assert refused.status_code in (400, 422) and "unknown field" in refused.text, refused.text


def _unavailable(kube: Kube, deployments: list[dict[str, Any]]) -> list[str]:
    waiting = []
    for d in deployments:
        status = kube.client.get(f"{kube.collection(d)}/{d['metadata']['name']}").json().get("status", {})
        available = {c["type"]: c for c in status.get("conditions", [])}.get("Available", {})
        if available.get("status") != "True" or status.get("availableReplicas") != d["spec"]["replicas"]:
            reasons = [f"{c['type']}: {c.get('message')}" for c in status.get("conditions", [])]
            counts = f"{status.get('availableReplicas')}/{d['spec']['replicas']}"
            waiting.append(f"{d['metadata']['name']} {counts} {reasons}")
    return waiting


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_deployment_becomes_available_on_a_node(kube: Kube, overlay: str) -> None:
    """The controllers make each Deployment's pods (admitted under PodSecurity `restricted`), the scheduler puts
    them on kwok's fake node, and each Deployment reports Available with all its replicas."""
    objects = rendered(overlay)
    _namespace(kube, objects)
    assert _refusals(kube, objects[1:], dry_run=False) == []
    deployments = [o for o in objects if o["kind"] == "Deployment"]
    started, waiting = time.monotonic(), ["not checked yet"]
    while waiting and time.monotonic() - started < 180:
        waiting = _unavailable(kube, deployments)
        time.sleep(1)
    assert waiting == []
    print(f"{overlay}: {len(deployments)} Deployments Available in {time.monotonic() - started:.1f} s")

"""The Kubernetes manifests, rendered with kustomize and every object validated with kubernetes-validate
(no cluster here), plus the rules an ops team relies on: probes, resources, non-root read-only containers,
graceful termination, and references that resolve."""

from __future__ import annotations

import os
import subprocess
from collections import defaultdict
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy/k8s"
KUBERNETES_VERSION = "1.31"
SERVICES = ("pledges", "projects", "notifications")
EXTERNAL_SECRETS = {"crisisaid-keys", "crisisaid-webhook-secrets"}  # made by ops from secrets.template.yaml
# written by the Strimzi operators: the cluster CA, and one Secret per KafkaUser
STRIMZI_SECRETS = {"crisisaid-cluster-ca-cert", *(f"crisisaid-{s}" for s in SERVICES)}


def _kustomize() -> str:
    path = os.environ.get("KUSTOMIZE") or str(REPO / ".infra/bin/kustomize")
    if not Path(path).exists():
        pytest.fail(f"kustomize not found at {path}: run `make tools` (tests never skip)")
    return path


@pytest.fixture(scope="module", params=["dev", "prod"])
def rendered(request) -> tuple[str, list[dict]]:
    out = subprocess.run(
        [_kustomize(), "build", str(K8S / "overlays" / request.param)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr
    return request.param, [d for d in yaml.safe_load_all(out.stdout) if d]


def _by_kind(objects: list[dict]) -> dict[str, dict[str, dict]]:
    kinds: dict[str, dict[str, dict]] = defaultdict(dict)
    for o in objects:
        kinds[o["kind"]][o["metadata"]["name"]] = o
    return kinds


def test_every_object_is_valid_kubernetes(rendered) -> None:
    _, objects = rendered
    for o in objects:
        if o["apiVersion"].startswith(("kafka.strimzi.io/", "monitoring.coreos.com/")):
            continue  # a custom resource: checked below (and tests/deploy/test_monitoring.py)
        kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)


def test_the_secret_templates_are_valid_too() -> None:
    for o in yaml.safe_load_all((K8S / "secrets.template.yaml").read_text()):
        kubernetes_validate.validate(o, KUBERNETES_VERSION, strict=True)


def test_every_service_has_its_full_set_of_objects(rendered) -> None:
    overlay, objects = rendered
    kinds = _by_kind(objects)
    namespace = {"dev": "crisisaid-dev", "prod": "crisisaid"}[overlay]
    assert set(kinds["Namespace"]) == {namespace}
    assert all(o["metadata"].get("namespace") == namespace for o in objects if o["kind"] != "Namespace")
    for s in SERVICES:
        assert {f"{s}-api", f"{s}-worker"} <= set(kinds["Deployment"])
        assert f"{s}-api" in kinds["Service"] and f"{s}-migrate" in kinds["Job"]
        assert {f"{s}-api", f"{s}-worker"} <= set(kinds["HorizontalPodAutoscaler"])
        assert {f"{s}-api", f"{s}-worker"} <= set(kinds["PodDisruptionBudget"])
        assert f"{s}-app" in kinds["NetworkPolicy"]
    topics = {t["spec"]["topicName"]: t["spec"] for t in kinds["KafkaTopic"].values()}
    assert set(topics) == {"aid.pledges.v1", "aid.projects.v1", "aid.alerts.v1", "aid.partners.v1", "aid.deadletter.v1"}
    replicas = 1 if overlay == "dev" else 3
    for spec in topics.values():
        assert spec["partitions"] >= 6 and spec["replicas"] == replicas
        assert spec["config"]["min.insync.replicas"] <= spec["replicas"]


def test_containers_are_probed_bounded_non_root_read_only_and_stop_gracefully(rendered) -> None:
    _, objects = rendered
    for d in _by_kind(objects)["Deployment"].values():
        pod = d["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0
        assert pod["terminationGracePeriodSeconds"] >= 30 and pod["automountServiceAccountToken"] is False
        [c] = pod["containers"]
        assert c["livenessProbe"]["httpGet"]["path"] == "/healthz"
        assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
        assert c["lifecycle"]["preStop"]
        assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
        assert c["resources"]["limits"]["memory"]
        sc = c["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["allowPrivilegeEscalation"] is False
        assert sc["capabilities"]["drop"] == ["ALL"]
        role = d["metadata"]["labels"]["app.kubernetes.io/component"]
        assert c["args"] == ["serve", "$(AID_SERVICE)", "--role", role]
        assert ":" in c["image"] and not c["image"].endswith(":latest")


def test_references_resolve(rendered) -> None:
    overlay, objects = rendered
    kinds = _by_kind(objects)
    secrets = set(kinds["Secret"]) | EXTERNAL_SECRETS | STRIMZI_SECRETS
    assert {f"crisisaid-{s}" for s in SERVICES} <= set(kinds["KafkaUser"]), "a KafkaUser per service"
    if overlay == "prod":
        secrets |= {f"{s}-db" for s in SERVICES}  # made by ops from secrets.template.yaml
    template_secrets = {o["metadata"]["name"] for o in yaml.safe_load_all((K8S / "secrets.template.yaml").read_text())}
    assert EXTERNAL_SECRETS | {f"{s}-db" for s in SERVICES} == template_secrets
    for workload in [*kinds["Deployment"].values(), *kinds["Job"].values()]:
        pod = workload["spec"]["template"]["spec"]
        service = workload["metadata"]["labels"]["app.kubernetes.io/name"]
        [c] = pod["containers"]
        for ref in c.get("envFrom", []):
            assert ref["configMapRef"]["name"] in kinds["ConfigMap"]
        for env in c.get("env", []):
            source = env.get("valueFrom", {})
            if "configMapKeyRef" in source:
                cm = kinds["ConfigMap"][source["configMapKeyRef"]["name"]]
                assert cm["data"][source["configMapKeyRef"]["key"]] == service
            if "secretKeyRef" in source:
                assert source["secretKeyRef"]["name"] in secrets
                assert source["secretKeyRef"]["name"] == f"{service}-db"
        for volume in pod.get("volumes", []):
            if "secret" in volume:
                assert volume["secret"]["secretName"] in secrets
    for hpa in kinds["HorizontalPodAutoscaler"].values():
        assert hpa["spec"]["scaleTargetRef"]["name"] in kinds["Deployment"]
    pods = {name: d["spec"]["template"]["metadata"]["labels"] for name, d in kinds["Deployment"].items()}

    def selects(selector: dict[str, str]) -> set[str]:
        return {n for n, labels in pods.items() if selector.items() <= labels.items()}

    for name, svc in kinds["Service"].items():
        assert selects(svc["spec"]["selector"]) == {name}, "a Service reaches exactly its api pods"
    for name, pdb in kinds["PodDisruptionBudget"].items():
        assert selects(pdb["spec"]["selector"]["matchLabels"]) == {name}


def test_only_the_notifications_worker_may_call_out_and_never_to_private_ranges(rendered) -> None:
    _, objects = rendered
    policies = _by_kind(objects)["NetworkPolicy"]
    for name, policy in policies.items():
        for rule in policy["spec"].get("egress", []):
            for peer in rule.get("to", []):
                block = peer.get("ipBlock")
                if block:
                    assert name == "notifications-webhook-egress"
                    if ":" in block["cidr"]:  # the IPv6 block: its ranges are checked against the app's below
                        continue
                    assert {"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "169.254.0.0/16"} <= set(block["except"])
    egress = policies["notifications-webhook-egress"]["spec"]["podSelector"]["matchLabels"]
    assert egress == {"app.kubernetes.io/component": "worker", "app.kubernetes.io/name": "notifications"}


def test_network_policies_and_the_app_agree(rendered) -> None:
    """Egress goes to DNS, PostgreSQL and Kafka by selector only; webhooks to the ports the app allows, never to
    special-purpose ranges (the same list as the app's SSRF guard)."""
    import ipaddress

    from aid_notifications.subscriptions.ssrf import _BLOCKED

    _, objects = rendered
    kinds = _by_kind(objects)
    for name, policy in kinds["NetworkPolicy"].items():
        if name.endswith("-app"):
            for rule in policy["spec"]["egress"]:
                assert rule.get("to"), f"{name}: every egress rule names its destination"
                assert all("podSelector" in peer for peer in rule["to"]), f"{name}: destinations by selector"
    webhook = kinds["NetworkPolicy"]["notifications-webhook-egress"]["spec"]["egress"][0]
    ports = {p["port"] for p in webhook["ports"]}
    config = next(c for n, c in kinds["ConfigMap"].items() if n.startswith("notifications-service"))
    assert ports == {int(p) for p in config["data"]["AID_WEBHOOK_PORTS"].split(",")}
    closed = {ipaddress.ip_network(c) for block in webhook["to"] for c in block["ipBlock"]["except"]}
    for net in _BLOCKED:
        assert (
            any(net.subnet_of(c) for c in closed if c.version == net.version)
            or net.prefixlen == 128
            or net
            in {ipaddress.ip_network("::/96"), ipaddress.ip_network("100::/64"), ipaddress.ip_network("fec0::/10")}
            or net == ipaddress.ip_network("::ffff:0:0/96")  # goes out as IPv4; an ipBlock may not name it
        ), f"{net} is closed by the app but open in the NetworkPolicy"
    assert not [c for c in closed if c.version == 6 and c.subnet_of(ipaddress.ip_network("::ffff:0:0/96"))], (
        "the API server refuses an IPv4-mapped IPv6 block"
    )


def test_every_disruption_budget_lets_a_node_drain(rendered) -> None:
    """A budget of minAvailable 1 over one replica allows no eviction: a node drain blocks for ever."""
    overlay, objects = rendered
    kinds = _by_kind(objects)
    for name, pdb in kinds["PodDisruptionBudget"].items():
        selector = pdb["spec"]["selector"]["matchLabels"]
        replicas = [
            d["spec"]["replicas"]
            for d in kinds["Deployment"].values()
            if selector.items() <= d["spec"]["selector"]["matchLabels"].items()
        ]
        assert replicas, f"{overlay}/{name} selects no Deployment"
        if "minAvailable" in pdb["spec"]:
            assert min(replicas) > pdb["spec"]["minAvailable"], f"{overlay}/{name}: {replicas} replicas"
        else:
            assert pdb["spec"]["maxUnavailable"] >= 1, f"{overlay}/{name}"


def test_strimzi_resources_use_the_served_api_version(rendered) -> None:
    """Strimzi 1.x serves only kafka.strimzi.io/v1."""
    _, objects = rendered
    strimzi = [o for o in objects if o["apiVersion"].startswith("kafka.strimzi.io/")]
    assert strimzi and {o["apiVersion"] for o in strimzi} == {"kafka.strimzi.io/v1"}


def test_each_kafka_user_reads_exactly_what_its_service_consumes(rendered) -> None:
    """The topics a service's handlers.py subscribes to are the topics its KafkaUser may read: one missing and the
    consumer is refused at startup; one more and it could read what it has no business with."""
    from aid_common.subscriptions import topics_of
    from aid_notifications import handlers as notifications
    from aid_pledges import handlers as pledges
    from aid_projects import handlers as projects

    _, objects = rendered
    users = _by_kind(objects)["KafkaUser"]
    for service, handlers in {"pledges": pledges, "projects": projects, "notifications": notifications}.items():
        reads = {
            a["resource"]["name"]
            for a in users[f"crisisaid-{service}"]["spec"]["authorization"]["acls"]
            if "Read" in a["operations"] and a["resource"]["type"] == "topic"
        }
        assert reads == set(topics_of(handlers.SUBSCRIPTIONS)), service


def test_each_kafka_user_writes_only_its_own_topic(rendered) -> None:
    _, objects = rendered
    owner = {
        "pledges": {"aid.pledges.v1"},
        "projects": {"aid.projects.v1"},
        "notifications": {"aid.alerts.v1", "aid.partners.v1"},
    }
    users = _by_kind(objects)["KafkaUser"]
    for name, user in users.items():
        service = name.removeprefix("crisisaid-")
        writes = {
            a["resource"]["name"]
            for a in user["spec"]["authorization"]["acls"]
            if "Write" in a["operations"] and a["resource"]["type"] == "topic"
        }
        assert writes == (owner[service] | {"aid.deadletter.v1"} if service in owner else set()), name
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
    console = users["crisisaid-console"]["spec"]["authorization"]["acls"]  # the live feed: reads, nothing else
    assert {(a["resource"]["name"], tuple(a["operations"])) for a in console} == {
        ("aid.pledges.v1", ("Read", "Describe")),
        ("aid.projects.v1", ("Read", "Describe")),
    }

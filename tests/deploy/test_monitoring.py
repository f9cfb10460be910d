"""Ops: the alert rules pass `promtool check rules` and one `promtool test rules` case per alert; Kubernetes gets the
same rules as a PrometheusRule and compose loads them; every Grafana dashboard plots metrics the services export."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
import yaml

from tests.conftest import REPO

PROMETHEUS = REPO / "deploy/prometheus"
DASHBOARDS = REPO / "deploy/grafana/dashboards"


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool not found: run `make tools` (installs Debian's prometheus package; tests never skip)")
    return path


def test_the_rules_pass_promtool_check_and_each_alert_its_unit_test() -> None:
    checked = subprocess.run(
        [_promtool(), "check", "rules", "alerts.yml"], cwd=PROMETHEUS, capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = subprocess.run(
        [_promtool(), "test", "rules", "alerts.test.yml"], cwd=PROMETHEUS, capture_output=True, text=True
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    alerts = {r["alert"] for g in yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"] for r in g["rules"]}
    cases = yaml.safe_load((PROMETHEUS / "alerts.test.yml").read_text())["tests"]
    tested_alerts = {t["alertname"] for case in cases for t in case["alert_rule_test"] if t["exp_alerts"]}
    assert alerts == tested_alerts == {
        "ConsumerLagGrowing", "EventsDeadLettered", "OutboxBacklog", "WebhookFailureRate", "WebhookDeliveryStuck",
        "CacheNotListening",
    }  # fmt: skip


def test_kubernetes_and_compose_load_the_same_rules() -> None:
    rules = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    rule = yaml.safe_load((REPO / "deploy/k8s/base/prometheus-rules.yaml").read_text())
    assert rule["kind"] == "PrometheusRule" and rule["spec"]["groups"] == rules
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    assert (
        "./deploy/prometheus/alerts.yml:/etc/prometheus/alerts.yml:ro" in compose["services"]["prometheus"]["volumes"]
    )
    config = yaml.safe_load((REPO / "deploy/compose/prometheus.yml").read_text())
    assert config["rule_files"] == ["/etc/prometheus/alerts.yml"]
    grafana = compose["services"]["grafana"]["volumes"]
    assert "./deploy/grafana/dashboards:/var/lib/grafana/dashboards:ro" in grafana


def _exported_metrics() -> set[str]:
    from prometheus_client import REGISTRY

    import aid_common.metrics  # noqa: F401
    import aid_notifications.deliveries.worker
    import aid_notifications.subscriptions.service  # noqa: F401

    names = set()
    for family in REGISTRY.collect():
        names.add(family.name)
        names.update(sample.name for sample in family.samples)
    suffixes = ("_bucket", "_count", "_sum", "_total")
    return names | {n + s for n in names for s in suffixes}


@pytest.mark.parametrize("service", ["pledges", "projects", "notifications"])
def test_every_dashboard_panel_plots_an_exported_metric(service) -> None:
    dashboard = json.loads((DASHBOARDS / f"{service}.json").read_text())
    exported = _exported_metrics()
    rules = (PROMETHEUS / "alerts.yml").read_text()
    assert dashboard["uid"] == f"crisisaid-{service}" and len(dashboard["panels"]) >= 8
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            used = set(re.findall(r'(?<!")\baid_[a-z_]+', target["expr"]))  # names, not quoted label values
            assert used and used <= exported, (panel["title"], used - exported)
    for name in set(re.findall(r"\baid_[a-z_]+", rules)):
        assert name in exported, f"alert rule on {name}, which no service exports"

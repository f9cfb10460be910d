"""The AsyncAPI document is generated from the registry, parses as YAML and JSON, and lists every event type."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

import aid_contracts  # noqa: F401
from aid_common.asyncapi import build_asyncapi
from aid_common.events import registry
from tests.conftest import REPO


def _resolve(doc: dict, ref: str) -> object:
    node: object = doc
    for part in ref.removeprefix("#/").split("/"):
        assert isinstance(node, dict) and part in node, f"dangling $ref {ref}"
        node = node[part]
    return node


def _refs(node: object) -> list[str]:
    if isinstance(node, dict):
        return [v for k, v in node.items() if k == "$ref"] + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def test_cli_prints_valid_yaml_and_json_listing_every_registered_event_type() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "crisisaid.main", "asyncapi"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    doc = yaml.safe_load(out)
    as_json = json.loads(
        subprocess.run(
            [sys.executable, "-m", "crisisaid.main", "asyncapi", "--format", "json"],
            cwd=REPO,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert doc == as_json
    assert doc["asyncapi"] == "3.0.0"
    titles = {m["name"] for m in doc["components"]["messages"].values()}
    assert titles == {e.type for e in registry.all()}
    assert {"aid.agreement.signed", "aid.project.funding_updated", "aid.alert.created"} <= titles
    addresses = {c["address"] for c in doc["channels"].values()}
    assert {"aid.pledges.v1", "aid.projects.v1", "aid.alerts.v1", "aid.deadletter.v1"} <= addresses
    for ref in _refs(doc):
        _resolve(doc, ref)


def test_committed_document_is_up_to_date() -> None:
    committed = yaml.safe_load((REPO / "docs/asyncapi.yaml").read_text("utf-8"))
    assert committed == build_asyncapi(registry), "run `make asyncapi` and commit docs/asyncapi.yaml"

"""Just enough of a Kubernetes client for the manifest tests, over httpx: discovery (which kinds exist, their
plural names, namespaced or not), server-side apply with strict field validation, dry run or for real."""

from __future__ import annotations

import json
import subprocess
import time
from typing import Any

import httpx
import yaml

from tests.deploy.test_k8s import K8S, _kustomize

MANAGER = "crisisaid-live"


def rendered(overlay: str) -> list[dict[str, Any]]:
    """`kustomize build` of an overlay, its Namespace first."""
    out = subprocess.run([_kustomize(), "build", str(K8S / "overlays" / overlay)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    objects = [o for o in yaml.safe_load_all(out.stdout) if o]
    return sorted(objects, key=lambda o: o["kind"] != "Namespace")


class Kube:
    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self._kinds: dict[str, dict[str, tuple[str, bool]]] = {}

    def _resources(self, api_version: str) -> dict[str, tuple[str, bool]]:
        if api_version not in self._kinds:
            r = self.client.get("/api/v1" if api_version == "v1" else f"/apis/{api_version}")
            found = r.json().get("resources", []) if r.status_code == 200 else []
            self._kinds[api_version] = {
                res["kind"]: (res["name"], res["namespaced"]) for res in found if "/" not in res["name"]
            }
        return self._kinds[api_version]

    def collection(self, obj: dict[str, Any]) -> str:
        api_version, kind = obj["apiVersion"], obj["kind"]
        plural, namespaced = self._resources(api_version).get(kind, (None, False))
        if plural is None:
            raise LookupError(f"the API server serves no {kind} in {api_version}")
        base = "/api/v1" if api_version == "v1" else f"/apis/{api_version}"
        namespace = obj["metadata"].get("namespace", "default")
        return f"{base}/namespaces/{namespace}/{plural}" if namespaced else f"{base}/{plural}"

    def apply(self, obj: dict[str, Any], *, dry_run: bool = False) -> httpx.Response:
        params = {"fieldManager": MANAGER, "fieldValidation": "Strict", "force": "true"}
        if dry_run:
            params["dryRun"] = "All"
        return self.client.patch(
            f"{self.collection(obj)}/{obj['metadata']['name']}",
            params=params,
            content=json.dumps(obj),  # JSON is YAML: the apply patch type takes it
            headers={"content-type": "application/apply-patch+yaml"},
        )

    def create(self, obj: dict[str, Any], *, dry_run: bool = False) -> httpx.Response:
        params = {"fieldValidation": "Strict", **({"dryRun": "All"} if dry_run else {})}
        return self.client.post(self.collection(obj), params=params, json=obj)

    def establish(self, crd: dict[str, Any], timeout: float = 30) -> None:
        """Apply a CustomResourceDefinition and wait until its kinds are served."""
        answer = self.apply(crd)
        assert answer.status_code in (200, 201), answer.text
        name = crd["metadata"]["name"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = self.client.get(f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{name}").json()
            conditions = (status.get("status") or {}).get("conditions") or []
            if any(c["type"] == "Established" and c["status"] == "True" for c in conditions):
                self._kinds.clear()
                return
            time.sleep(0.2)
        raise TimeoutError(f"{name} not established in {timeout} s")

"""The live Kubernetes tests run through `make k8s-live`: in their own network namespace (unshare -n), with etcd and
the kube-apiserver binary `deploy/local/tools.sh apiserver` builds, and the images `deploy/containers/images.sh`
builds for the pods `podman kube play` runs. Run any other way they fail, never skip."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator

import pytest
import yaml

from tests.conftest import REPO
from tests.live.apiserver import ApiServer
from tests.live.kube import Kube, rendered
from tests.live.pods import Pods

BINARIES = [REPO / ".infra/bin" / b for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")]
CRDS = REPO / "deploy/k8s/live/crds"


def in_own_network_namespace() -> bool:
    """Only loopback and what podman made here (its bridges and their veths): not the host's namespace."""
    names = {name for _, name in socket.if_nameindex()}
    return all(n == "lo" or n.startswith(("podman", "veth")) for n in names)


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    if not in_own_network_namespace():
        pytest.fail("run these through `make k8s-live`: the API server gets its own network namespace")
    missing = [b.name for b in BINARIES if not b.exists()] + (["etcd"] if shutil.which("etcd") is None else [])
    if missing:
        pytest.fail(f"{', '.join(missing)} missing: run `deploy/local/tools.sh apiserver` (make k8s-live does)")
    server = ApiServer(tmp_path_factory.mktemp("apiserver"), BINARIES[0])
    try:
        client = server.start()
        server.start_nodes(client)
        kube = Kube(client)
        for path in sorted(CRDS.glob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text()):
                if crd:
                    kube.establish(crd)
        yield kube
    finally:
        server.stop()


@pytest.fixture(scope="session", params=["dev", "prod"])
def pods(request: pytest.FixtureRequest) -> Iterator[Pods]:
    """An overlay's Jobs and Deployments as pods on the stand-in cluster (see tests/live/cluster.py, play.py)."""
    if not in_own_network_namespace():
        pytest.fail("run these through `make k8s-live`: the pods get a network namespace of their own")
    if shutil.which("podman") is None:
        pytest.fail("podman missing: run `deploy/containers/images.sh all` (make k8s-live does)")
    started = Pods.start(request.param, rendered(request.param))
    try:
        yield started
    finally:
        started.stop()

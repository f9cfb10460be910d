"""The live Kubernetes tests run through `make k8s-live`: in their own network namespace (unshare -n), with etcd and
the kube-apiserver binary `deploy/local/tools.sh apiserver` builds. Run any other way they fail, never skip."""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator

import pytest
import yaml

from tests.conftest import REPO
from tests.live.apiserver import ApiServer
from tests.live.kube import Kube

BINARY = REPO / ".infra/bin/kube-apiserver"
CRDS = REPO / "deploy/k8s/live/crds"


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    if {name for _, name in socket.if_nameindex()} != {"lo"}:  # interfaces of this process's network namespace
        pytest.fail("run these through `make k8s-live`: the API server gets its own network namespace")
    if not BINARY.exists() or shutil.which("etcd") is None:
        pytest.fail("kube-apiserver or etcd missing: run `deploy/local/tools.sh apiserver` (make k8s-live does)")
    server = ApiServer(tmp_path_factory.mktemp("apiserver"), BINARY)
    try:
        kube = Kube(server.start())
        for path in sorted(CRDS.glob("*.yaml")):
            for crd in yaml.safe_load_all(path.read_text()):
                if crd:
                    kube.establish(crd)
        yield kube
    finally:
        server.stop()

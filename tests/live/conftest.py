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

BINARIES = [REPO / ".infra/bin" / b for b in ("kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok")]
CRDS = REPO / "deploy/k8s/live/crds"


@pytest.fixture(scope="session")
def kube(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kube]:
    if {name for _, name in socket.if_nameindex()} != {"lo"}:  # interfaces of this process's network namespace
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

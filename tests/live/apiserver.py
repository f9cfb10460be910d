"""A real Kubernetes control plane for the manifest tests: etcd (Debian), kube-apiserver, kube-controller-manager
and kube-scheduler (built from the Go module proxy by `deploy/local/tools.sh apiserver`) and kwok, which plays the
kubelet of one fake node (pods are scheduled, become Running and Ready, and run nothing). On loopback inside the
test run's own network namespace (`make k8s-live` runs pytest under `unshare -n`), with a CA, a serving
certificate and a service-account key made here, and one static admin token. Nothing is published on the host."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
import subprocess
import time
from pathlib import Path

import httpx
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

TOKEN = "crisisaid-live-admin"


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


def _certificates(directory: Path) -> None:
    now = dt.datetime.now(dt.UTC)
    ca_key, key = _key(), _key()
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "crisisaid-live-ca")])
    ca = (
        x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    names = [
        x509.DNSName("localhost"),
        x509.DNSName("kubernetes.default.svc"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    server = (
        x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kube-apiserver")]))
        .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False).sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (directory / "server-key.pem").write_bytes(_pem(key))
    sa = _key()
    (directory / "sa-key.pem").write_bytes(_pem(sa))
    (directory / "sa.pem").write_bytes(
        sa.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    (directory / "tokens.csv").write_text(f"{TOKEN},admin,admin,system:masters\n")


def _kubeconfig(directory: Path) -> Path:
    cluster = {"server": ApiServer.URL, "certificate-authority": str(directory / "ca.pem")}
    config = {
        "apiVersion": "v1", "kind": "Config", "current-context": "live",
        "clusters": [{"name": "live", "cluster": cluster}],
        "users": [{"name": "admin", "user": {"token": TOKEN}}],
        "contexts": [{"name": "live", "context": {"cluster": "live", "user": "admin"}}],
    }  # fmt: skip
    path = directory / "kubeconfig.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


FAKE_NODE = {
    "apiVersion": "v1", "kind": "Node",
    "metadata": {"name": "kwok-node-0", "annotations": {"kwok.x-k8s.io/node": "fake"},
                 "labels": {"type": "kwok", "kubernetes.io/hostname": "kwok-node-0", "kubernetes.io/os": "linux"}},
    "status": {"allocatable": {"cpu": "32", "memory": "256Gi", "pods": "110"},
               "capacity": {"cpu": "32", "memory": "256Gi", "pods": "110"}},
}  # fmt: skip


class ApiServer:
    URL = "https://127.0.0.1:6443"

    def __init__(self, directory: Path, binary: Path) -> None:
        self.directory, self.binary = directory, binary
        self.processes: list[subprocess.Popen] = []

    def _run(self, name: str, command: list[str]) -> None:
        log = (self.directory / f"{name}.log").open("wb")
        self.processes.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))

    def start_nodes(self, client: httpx.Client) -> None:
        """The controllers, the scheduler and kwok's fake node: Deployments become Available (pods created,
        admitted, scheduled, Ready), Jobs run, nothing executes."""
        d, bin_dir = self.directory, self.binary.parent
        kubeconfig = str(_kubeconfig(d))
        self._run("kube-controller-manager", [
            str(bin_dir / "kube-controller-manager"), f"--kubeconfig={kubeconfig}", "--leader-elect=false",
            "--bind-address=127.0.0.1", f"--service-account-private-key-file={d / 'sa-key.pem'}",
            f"--root-ca-file={d / 'ca.pem'}",
        ])  # fmt: skip
        self._run("kube-scheduler", [
            str(bin_dir / "kube-scheduler"), f"--kubeconfig={kubeconfig}", "--leader-elect=false",
            "--bind-address=127.0.0.1",
        ])  # fmt: skip
        self._run("kwok", [
            str(bin_dir / "kwok"), f"--kubeconfig={kubeconfig}", f"--config={bin_dir / 'kwok-stages.yaml'}",
            "--manage-all-nodes=false",
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake", "--cidr=10.0.0.1/24",
            "--node-ip=10.0.0.1", "--server-address=127.0.0.1:10247",
        ])  # fmt: skip
        r = client.post("/api/v1/nodes", json=FAKE_NODE)
        assert r.status_code in (201, 409), r.text

    def start(self) -> httpx.Client:
        d = self.directory
        _certificates(d)
        etcd_log, api_log = (d / "etcd.log").open("wb"), (d / "kube-apiserver.log").open("wb")
        client_url = "http://127.0.0.1:2379"
        etcd = ["etcd", "--data-dir", str(d / "etcd"), "--listen-client-urls", client_url,
                "--advertise-client-urls", client_url, "--listen-peer-urls", "http://127.0.0.1:2380"]  # fmt: skip
        apiserver = [
            str(self.binary), "--etcd-servers=http://127.0.0.1:2379", "--bind-address=127.0.0.1",
            "--advertise-address=127.0.0.1", "--secure-port=6443", f"--cert-dir={d}",
            f"--tls-cert-file={d / 'server.pem'}", f"--tls-private-key-file={d / 'server-key.pem'}",
            f"--token-auth-file={d / 'tokens.csv'}", "--authorization-mode=RBAC",
            "--service-account-issuer=https://kubernetes.default.svc",
            f"--service-account-key-file={d / 'sa.pem'}", f"--service-account-signing-key-file={d / 'sa-key.pem'}",
            "--service-cluster-ip-range=10.96.0.0/16", "--endpoint-reconciler-type=none",  # loopback: no endpoints
        ]  # fmt: skip
        self.processes.append(subprocess.Popen(etcd, stdout=etcd_log, stderr=subprocess.STDOUT))
        self.processes.append(subprocess.Popen(apiserver, stdout=api_log, stderr=subprocess.STDOUT))
        client = httpx.Client(
            base_url=self.URL,
            verify=ssl.create_default_context(cafile=str(d / "ca.pem")),
            headers={"Authorization": f"Bearer {TOKEN}"},
            timeout=30,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            for p in self.processes:
                if p.poll() is not None:
                    raise RuntimeError(f"{p.args[0]} exited {p.returncode}: see {d}")
            try:
                if client.get("/readyz").status_code == 200:
                    return client
            except httpx.TransportError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"kube-apiserver not ready in 120 s: {(d / 'kube-apiserver.log').read_text()[-2000:]}")

    def stop(self) -> None:
        for p in reversed(self.processes):
            p.terminate()
        for p in self.processes:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()

"""What a cluster gives the manifests before any of our pods starts, stood in with podman on one network:
- Strimzi's part: a Kafka broker (the stand-in image docker-compose.yml names) reachable as
  `crisisaid-kafka-bootstrap:9093` over SASL_SSL with a cluster CA, the KafkaTopics created as declared (with one
  replica: one broker), and for
  each KafkaUser its SCRAM-SHA-512 credentials, its ACLs, and the Secret Strimzi would write (`password`);
- the in-cluster PostgreSQL the database Secrets point at (`postgres:5432`, one database per service);
- the Secrets `deploy/k8s/secrets.template.yaml` asks the operator to create, made the way it says
  (`crisisaid keygen`), and those an overlay leaves to the operator (prod's database URLs), from that template.
Every file a container reads lives under one directory (world-readable: the containers run as other users)."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import secrets
import shlex
import shutil
import subprocess
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import REPO

CONTAINERS_CONF = REPO / "deploy/containers/containers.conf"
ENV = {**os.environ, "CONTAINERS_CONF": str(CONTAINERS_CONF)}
NETWORK = "crisisaid-kube"
KAFKA_IMAGE = "apache/kafka:4.1.1"
POSTGRES_IMAGE = "postgres:16.6-bookworm"
BOOTSTRAP = "crisisaid-kafka-bootstrap"
TOOLS = "java -Xmx128m -XX:+UseSerialGC -cp '/opt/kafka/libs/*'"


def podman(*args: str, timeout: float = 300, check: bool = True) -> str:
    out = subprocess.run(["podman", *args], env=ENV, capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"podman {' '.join(args)[:300]}: {out.stderr[-3000:]}")
    return out.stdout


def podman_ok(*args: str) -> bool:
    return subprocess.run(["podman", *args], env=ENV, capture_output=True, timeout=120).returncode == 0


def kafka_env(properties: dict[str, str]) -> dict[str, str]:
    """Server properties as the official image's KAFKA_* variables: `_` → `__`, `-` → `___`, `.` → `_`."""
    return {
        "KAFKA_" + k.replace("_", "__").replace("-", "___").replace(".", "_").upper(): v for k, v in properties.items()
    }


def _cert(subject: str, key: ec.EllipticCurvePrivateKey, issuer: tuple[x509.Name, Any] | None, dns: list[str]):
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)])
    signer_name, signer_key = issuer or (name, key)
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(signer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    return builder.sign(signer_key, hashes.SHA256())


def _pem(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


class Cluster:
    """The stand-ins, started on NETWORK in the current network namespace; `secrets` holds every Secret the
    manifests reference, by name, as {key: bytes}."""

    def __init__(self, objects: list[dict[str, Any]]) -> None:
        self.objects = objects
        self.root = Path(tempfile.mkdtemp(prefix="crisisaid-kube-"))
        self.root.chmod(0o755)
        self.secrets: dict[str, dict[str, bytes]] = {}
        self.private_key: bytes = b""

    def of_kind(self, kind: str) -> list[dict[str, Any]]:
        return [o for o in self.objects if o["kind"] == kind]

    def file(self, relative: str, content: bytes) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in [path.parent, *path.parent.parents]:
            if parent == self.root.parent:
                break
            parent.chmod(0o755)
        path.write_bytes(content)
        path.chmod(0o644)
        return path

    # --- the network, PostgreSQL, the operator's Secrets ---------------------------------------------------
    def start(self) -> None:
        self.stop()
        podman("network", "create", NETWORK)
        self._operator_secrets()
        self._postgres()
        self._kafka()
        self._wait_for_postgres()
        self._strimzi()

    def gateway(self) -> str:
        (network,) = json.loads(podman("network", "inspect", NETWORK))
        return network["subnets"][0]["gateway"]

    def subnet(self) -> str:
        (network,) = json.loads(podman("network", "inspect", NETWORK))
        return str(ipaddress.ip_network(network["subnets"][0]["subnet"]))

    def _operator_secrets(self) -> None:
        """As secrets.template.yaml says: `crisisaid keygen DIR`, then public.pem and webhook-secrets.key as Secrets;
        the database Secrets are the overlay's own (dev generates them)."""
        keys = Path(tempfile.mkdtemp(prefix="keys-"))
        try:
            subprocess.run([str(REPO / ".venv/bin/crisisaid"), "keygen", str(keys)], check=True, capture_output=True)
            self.private_key = (keys / "private.pem").read_bytes()
            self.secrets["crisisaid-keys"] = {"public.pem": (keys / "public.pem").read_bytes()}
            webhook_key = (keys / "webhook-secrets.key").read_bytes()
            self.secrets["crisisaid-webhook-secrets"] = {"webhook-secrets.key": webhook_key}
        finally:
            shutil.rmtree(keys)
        for s in self.of_kind("Secret"):
            data = {k: base64.b64decode(v) for k, v in (s.get("data") or {}).items()}
            data |= {k: v.encode() for k, v in (s.get("stringData") or {}).items()}
            self.secrets[s["metadata"]["name"]] = data
        # what the overlay leaves to the operator (prod: the database Secrets), filled in from the template
        template = yaml.safe_load_all((REPO / "deploy/k8s/secrets.template.yaml").read_text())
        for s in (t for t in template if t and t["metadata"]["name"] not in self.secrets):
            values = {k: v.replace("CHANGE_ME", "aid").encode() for k, v in s["stringData"].items()}
            self.secrets[s["metadata"]["name"]] = values

    def _postgres(self) -> None:
        init = self.file("postgres/10-databases.sql", (REPO / "deploy/compose/postgres-init.sql").read_bytes())
        podman(
            "run", "-d", "--name", "postgres", "--network", NETWORK, "--network-alias", "postgres",
            "-e", "POSTGRES_USER=aid", "-e", "POSTGRES_PASSWORD=aid",  # dev's database Secrets; prod's are made so
            "-v", f"{init}:/docker-entrypoint-initdb.d/10-databases.sql:ro", POSTGRES_IMAGE,
        )  # fmt: skip

    def _wait_for_postgres(self) -> None:
        deadline = time.monotonic() + 90
        while not podman_ok("exec", "postgres", "pg_isready", "-U", "aid", "-d", "aid_notifications"):
            assert time.monotonic() < deadline, "postgres did not become ready in 90 s"
            time.sleep(1)

    # --- Strimzi's part -------------------------------------------------------------------------------------
    def _kafka(self) -> None:
        ca_key, broker_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
        ca = _cert("crisisaid cluster CA", ca_key, None, [])
        broker = _cert(BOOTSTRAP, broker_key, (ca.subject, ca_key), [BOOTSTRAP, "localhost"])
        key = broker_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
        keystore = self.file("kafka/broker.pem", key + _pem(broker) + _pem(ca))
        self.secrets["crisisaid-cluster-ca-cert"] = {"ca.crt": _pem(ca)}
        properties = {
            "node.id": "1",
            "process.roles": "broker,controller",
            # PLAINTEXT on the broker's own loopback only: the admin tools below act there as a super user
            "listeners": "PLAINTEXT://127.0.0.1:9092,CONTROLLER://127.0.0.1:9091,SASL_SSL://:9093",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:9092,SASL_SSL://{BOOTSTRAP}:9093",
            "controller.listener.names": "CONTROLLER",
            "controller.quorum.voters": "1@127.0.0.1:9091",
            "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL",
            "inter.broker.listener.name": "PLAINTEXT",
            "sasl.enabled.mechanisms": "SCRAM-SHA-512",
            "listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config":
                "org.apache.kafka.common.security.scram.ScramLoginModule required;",
            "listener.name.sasl_ssl.ssl.keystore.type": "PEM",
            "listener.name.sasl_ssl.ssl.keystore.location": "/tls/broker.pem",
            "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
            "super.users": "User:ANONYMOUS",
            "auto.create.topics.enable": "false",  # topics exist only as the KafkaTopics declare them
            "offsets.topic.replication.factor": "1",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }  # fmt: skip
        env = [a for k, v in kafka_env(properties).items() for a in ("-e", f"{k}={v}")]
        podman(
            "run", "-d", "--name", "kafka", "--network", NETWORK, "--network-alias", BOOTSTRAP,
            "-e", "KAFKA_HEAP_OPTS=-Xmx512m -Xms256m", *env, "-v", f"{keystore.parent}:/tls:ro", KAFKA_IMAGE,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        probe = f"{TOOLS} org.apache.kafka.tools.BrokerApiVersionsCommand --bootstrap-server 127.0.0.1:9092"
        while not podman_ok("exec", "kafka", "sh", "-c", probe):
            running = podman("inspect", "--format", "{{.State.Running}}", "kafka").strip() == "true"
            assert running, podman("logs", "kafka")
            assert time.monotonic() < deadline, "kafka did not answer in 120 s"
            time.sleep(2)

    def _strimzi(self) -> None:
        """KafkaTopics → topics with their partitions and config; KafkaUsers → SCRAM credentials, ACLs and the
        Secret `<user>` with key `password` (what the Strimzi operator does), in one script run in the broker."""
        admin = "--bootstrap-server 127.0.0.1:9092"
        script = ["set -e"]
        for t in self.of_kind("KafkaTopic"):
            spec = t["spec"]
            # one broker here: every topic has one replica, whatever the overlay asks of a real cluster
            config = {**spec.get("config", {}), "min.insync.replicas": 1}
            configs = " ".join(f"--config {shlex.quote(f'{k}={v}')}" for k, v in config.items())
            script.append(
                f"{TOOLS} org.apache.kafka.tools.TopicCommand {admin} --create --if-not-exists "
                f"--topic {spec['topicName']} --partitions {spec['partitions']} --replication-factor 1 {configs}"
            )
        for u in self.of_kind("KafkaUser"):
            user = u["metadata"]["name"]
            assert u["spec"]["authentication"]["type"] == "scram-sha-512", user
            password = secrets.token_urlsafe(24)
            self.secrets[user] = {"password": password.encode()}
            script.append(
                f"{TOOLS} kafka.admin.ConfigCommand {admin} --alter --entity-type users --entity-name {user} "
                f"--add-config 'SCRAM-SHA-512=[iterations=4096,password={password}]'"
            )  # fmt: skip
            by_grant: dict[tuple[tuple[str, ...], str], list[str]] = defaultdict(list)
            for acl in u["spec"]["authorization"]["acls"]:
                assert acl["resource"]["patternType"] == "literal", acl
                by_grant[(tuple(acl["operations"]), acl["resource"]["type"])].append(acl["resource"]["name"])
            for (operations, kind), names in by_grant.items():
                ops = " ".join(f"--operation {o}" for o in operations)
                resources = " ".join(f"--{kind} {n}" for n in names)
                acl = f"{TOOLS} org.apache.kafka.tools.AclCommand {admin} --add --allow-principal User:{user}"
                script.append(f"{acl} {ops} {resources}")
        out = subprocess.run(
            ["podman", "exec", "kafka", "sh", "-c", "\n".join(script)], env=ENV, capture_output=True, text=True,
            timeout=600,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr[-3000:]

    def stop(self) -> None:
        for name in ("kafka", "postgres"):
            podman("rm", "-f", "-t", "0", name, check=False)
        podman("network", "rm", "-f", NETWORK, check=False)

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

"""docker-compose.yml cannot run here (no Docker engine): check offline what `docker compose up` relies on."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APPS = {"pledges": 8001, "projects": 8002, "notifications": 8003}
PROCESSES = [(app, role) for app in APPS for role in ("api", "worker")]


def _deps(service: dict) -> dict[str, str]:
    return {name: spec["condition"] for name, spec in service.get("depends_on", {}).items()}


@pytest.mark.parametrize(("app", "role"), PROCESSES)
def test_each_service_process_has_its_command_env_healthcheck_and_dependencies(app, role) -> None:
    s = SERVICES[f"{app}-{role}"]
    assert s["image"] == f"crisisaid/{app}:local"
    assert s["command"] == ["serve", app, "--role", role]
    env = {k: str(v) for k, v in s["environment"].items()}
    assert env["AID_MODE"] == "production" and env["KAFKA_BOOTSTRAP_SERVERS"] == "kafka:9092"
    assert env["PORT"] == str(APPS[app])
    assert urlsplit(env["DATABASE_URL"]).path == f"/aid_{app}" and env["DATABASE_URL"].startswith(
        "postgresql+asyncpg://"
    )
    assert env["AID_JWT_PUBLIC_KEY_FILE"] == "/keys/public.pem" and "keys:/keys:ro" in s["volumes"]
    if app == "notifications":
        assert env["AID_WEBHOOK_SECRETS_KEY_FILE"] == "/keys/webhook-secrets.key"
    health = s["healthcheck"]["test"]
    assert "/readyz" in " ".join(health) and s["healthcheck"]["interval"]
    assert _deps(s) == {
        "kafka": "service_healthy",
        "postgres": "service_healthy",
        "keygen": "service_completed_successfully",
        f"migrate-{app}": "service_completed_successfully",
    }
    assert s["restart"] == "unless-stopped" and s["stop_grace_period"]
    assert ("ports" in s) == (role == "api")


@pytest.mark.parametrize("app", APPS)
def test_migrations_run_before_the_services_against_their_own_database(app) -> None:
    m = SERVICES[f"migrate-{app}"]
    assert m["command"] == ["migrate", app] and m["image"] == f"crisisaid/{app}:local"
    assert urlsplit(m["environment"]["DATABASE_URL"]).path == f"/aid_{app}"
    assert _deps(m)["postgres"] == "service_healthy"
    init = (REPO / "deploy/compose/postgres-init.sql").read_text()
    assert f"CREATE DATABASE aid_{app} OWNER aid;" in init


def test_infrastructure_has_healthchecks_and_kraft_settings() -> None:
    kafka = SERVICES["kafka"]
    assert kafka["environment"]["KAFKA_PROCESS_ROLES"] == "broker,controller"
    assert kafka["environment"]["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] == 1
    assert kafka["environment"]["KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS"] == 0
    for name in ("kafka", "postgres", "prometheus"):
        assert SERVICES[name]["healthcheck"]["test"], name
    assert "10-databases.sql" in " ".join(SERVICES["postgres"]["volumes"])


def test_every_image_is_pinned_and_every_build_file_exists() -> None:
    for name, s in SERVICES.items():
        image = s.get("image", "")
        assert ":" in image and not image.endswith(":latest"), name
        if "build" in s:
            assert (REPO / s["build"]["context"] / s["build"]["dockerfile"]).is_file(), name
    built = {s["image"] for s in SERVICES.values() if "build" in s}
    assert built == {f"crisisaid/{app}:local" for app in APPS}


def test_prometheus_scrapes_every_process_on_its_port() -> None:
    config = yaml.safe_load((REPO / "deploy/compose/prometheus.yml").read_text())
    targets = {t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]}
    assert targets == {f"{app}-{role}:{APPS[app]}" for app, role in PROCESSES}


@pytest.mark.parametrize("app", APPS)
def test_dockerfiles_are_slim_non_root_and_install_from_the_lock_file(app) -> None:
    text = (REPO / f"services/{app}/Dockerfile").read_text()
    assert all(re.search(r"-slim", line) for line in text.splitlines() if line.startswith("FROM"))
    assert "uv sync --frozen --no-dev" in text
    user = re.findall(r"^USER (\S+)", text, re.M)
    assert user and not user[-1].startswith(("0", "root"))
    assert "HEALTHCHECK" in text and f"EXPOSE {APPS[app]}" in text
    assert f'CMD ["serve", "{app}"' in text
    ignored = (REPO / ".dockerignore").read_text().split()
    assert {".venv", ".git", ".data", ".infra"} <= set(ignored)

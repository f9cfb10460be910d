"""Schemathesis, a real outside client, fuzzes every operation of each service's OpenAPI document, with an admin
token and with a partner's token: no server error, only documented status codes and content types, and answers
that match their schemas. Seeded and bounded for CI; `AID_FUZZ_EXAMPLES=500` for a longer run."""

from __future__ import annotations

import os
import uuid

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.testclient import TestClient

from aid_common.settings import Mode
from aid_notifications.app import create_app as notifications_app
from aid_notifications.settings import NotificationsSettings
from aid_pledges.app import create_app as pledges_app
from aid_pledges.settings import PledgesSettings
from aid_projects.app import create_app as projects_app
from aid_projects.settings import ProjectsSettings
from tests.helpers import auth

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = int(os.environ.get("AID_FUZZ_EXAMPLES", "12"))
PARTNER = uuid.UUID("6f1c1b2e-6a0e-4a53-9a55-00000000f022")
SERVICES = {
    "pledges": (pledges_app, PledgesSettings),
    "projects": (projects_app, ProjectsSettings),
    "notifications": (notifications_app, NotificationsSettings),
}


def _started(name: str, tmp_path_factory, key_files):
    create_app, settings_cls = SERVICES[name]
    db = tmp_path_factory.mktemp(f"fuzz-{name}") / "db.sqlite"
    app = create_app(
        settings_cls(
            AID_MODE=Mode.EMBEDDED,
            DATABASE_URL=f"sqlite+aiosqlite:///{db}",
            AID_JWT_PUBLIC_KEY_FILE=str(key_files[1]),
            AID_WEBHOOK_ALLOW_PRIVATE="127.0.0.0/8",
            AID_RATE_LIMIT_WRITES="1000000/minute",  # fuzz the routes, not the abuse limit (tested on its own)
        ),
        role="api",
    )
    return app


def _serve(name: str, tmp_path_factory, key_files):
    with TestClient(_started(name, tmp_path_factory, key_files), raise_server_exceptions=False) as client:
        yield client  # the app's lifespan (runtime start and stop) runs once per module


@pytest.fixture(scope="module")
def pledges(tmp_path_factory, key_files):
    yield from _serve("pledges", tmp_path_factory, key_files)


@pytest.fixture(scope="module")
def projects(tmp_path_factory, key_files):
    yield from _serve("projects", tmp_path_factory, key_files)


@pytest.fixture(scope="module")
def notifications(tmp_path_factory, key_files):
    yield from _serve("notifications", tmp_path_factory, key_files)


@pytest.fixture(scope="module")
def callers(token) -> list[dict[str, str]]:
    """An admin, and a partner's system with the scopes a partner holds."""
    scopes = "pledges:read projects:read notifications:read notifications:write"
    return [
        auth(token("admin", subject="fuzz-admin")),
        auth(token(scopes, partner_id=PARTNER, subject="fuzz-partner")),
    ]


FUZZ = settings(max_examples=EXAMPLES, derandomize=True, deadline=None, suppress_health_check=list(HealthCheck))


def _fuzz(client: TestClient, callers: list[dict[str, str]]) -> None:
    """Every operation, with valid and with invalid inputs, as each caller; every finding is reported at once."""
    schema = schemathesis.openapi.from_asgi("/openapi.json", client.app)
    findings: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert operations
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode))
            def run(case) -> None:
                for headers in callers:
                    case.call_and_validate(session=client, headers=headers, checks=CHECKS)

            try:
                run()
            except Unsatisfiable:
                continue  # no invalid input exists for an operation that takes none (e.g. /healthz)
            except Exception as exc:  # a finding: collected, so one run shows them all
                findings.append(f"{operation.label} [{mode.value}]: {exc}"[:3000])
    assert not findings, f"{len(findings)} finding(s):\n\n" + "\n\n".join(findings)


def test_pledges_api(pledges, callers) -> None:
    _fuzz(pledges, callers)


def test_projects_api(projects, callers) -> None:
    _fuzz(projects, callers)


def test_notifications_api(notifications, callers) -> None:
    _fuzz(notifications, callers)

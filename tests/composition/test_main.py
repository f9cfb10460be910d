"""The crisisaid command: keys, tokens that the services accept, clear errors."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from aid_common.auth import TokenVerifier
from aid_notifications.settings import NotificationsSettings
from crisisaid.main import app

runner = CliRunner()


def test_keygen_then_token_gives_a_token_the_services_verify(tmp_path) -> None:
    assert runner.invoke(app, ["keygen", str(tmp_path)]).exit_code == 0
    assert oct((tmp_path / "private.pem").stat().st_mode & 0o777) == "0o600"
    assert oct((tmp_path / "webhook-secrets.key").stat().st_mode & 0o777) == "0o600"
    settings = NotificationsSettings(
        AID_MODE="production",
        DATABASE_URL="postgresql+asyncpg://aid:aid@db/aid_notifications",
        AID_JWT_PUBLIC_KEY_FILE=str(tmp_path / "public.pem"),
        AID_WEBHOOK_SECRETS_KEY_FILE=str(tmp_path / "webhook-secrets.key"),
    )
    assert settings.webhook_secrets_key is not None
    with pytest.raises(ValidationError, match="Fernet"):
        NotificationsSettings(
            AID_MODE="production",
            DATABASE_URL="postgresql+asyncpg://aid:aid@db/aid_notifications",
            AID_JWT_PUBLIC_KEY_FILE=str(tmp_path / "public.pem"),
            AID_WEBHOOK_SECRETS_KEY="not-a-key",
        )
    partner = "6f1c1b2e-6a0e-4a53-9a55-000000000001"
    result = runner.invoke(
        app,
        [
            "token",
            "--scope",
            "notifications:read",
            "--partner-id",
            partner,
            "--ttl",
            "2h",
            "--subject",
            "qatar-charity-erp",
            "--key-file",
            str(tmp_path / "private.pem"),
        ],
    )
    assert result.exit_code == 0, result.output
    caller = TokenVerifier.from_file(tmp_path / "public.pem").verify(result.stdout.strip())
    assert caller.subject == "qatar-charity-erp" and "jti: " in result.stderr
    assert caller.scopes == {"notifications:read"} and str(caller.partner_id) == partner


def test_token_errors_say_what_is_wrong(tmp_path) -> None:
    missing = runner.invoke(app, ["token", "--scope", "admin", "--key-file", str(tmp_path / "nope.pem")])
    assert missing.exit_code == 2 and "no private key" in missing.output
    runner.invoke(app, ["keygen", str(tmp_path)])
    key = ["--key-file", str(tmp_path / "private.pem")]
    bad_ttl = runner.invoke(app, ["token", "--scope", "admin", "--ttl", "soon", "--subject", "ops-anna", *key])
    assert bad_ttl.exit_code == 2 and "--ttl" in bad_ttl.output
    nobody = runner.invoke(app, ["token", "--scope", "admin", *key])
    assert nobody.exit_code == 2 and "--subject is required" in nobody.output


def test_revoke_puts_the_token_id_on_the_list(tmp_path) -> None:
    from aid_common.auth import RevocationList

    listed = tmp_path / "revoked-tokens"
    jti = "6f1c1b2e-6a0e-4a53-9a55-000000000007"
    result = runner.invoke(app, ["token", "revoke", jti, "--file", str(listed)])
    assert result.exit_code == 0, result.output
    assert jti in RevocationList(listed) and "other" not in RevocationList(listed)
    assert runner.invoke(app, ["token", "revoke", "not-an-id", "--file", str(listed)]).exit_code == 2


def test_migrate_refuses_a_bad_database_url(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    result = runner.invoke(app, ["migrate", "pledges"])
    assert result.exit_code == 2 and "DATABASE_URL" in result.output


def _serve(key_files, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`crisisaid serve` in its own process (it configures logging for the whole process)."""
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AID_", "DATABASE_URL", "KAFKA_"))}
    return subprocess.run(
        [sys.executable, "-m", "crisisaid.main", "serve", *args],
        env={**base, "AID_JWT_PUBLIC_KEY_FILE": str(key_files[1]), **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_serve_names_an_unreachable_database_and_where(key_files) -> None:
    result = _serve(
        key_files,
        "pledges",
        "--wait",
        "1",
        DATABASE_URL="postgresql+asyncpg://aid:secret@127.0.0.1:1/aid_pledges",
        KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092",
    )
    assert result.returncode == 2
    assert "cannot reach the database at 127.0.0.1:1/aid_pledges" in result.stderr
    assert "secret" not in result.stdout + result.stderr


def test_serve_names_an_unreachable_broker(key_files, pg_url) -> None:
    result = _serve(key_files, "projects", "--wait", "1", DATABASE_URL=pg_url, KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:1")
    assert result.returncode == 2 and "cannot reach Kafka at 127.0.0.1:1" in result.stderr


def test_serve_refuses_missing_or_odd_configuration(key_files) -> None:
    result = _serve(key_files, "pledges", DATABASE_URL="mysql://x", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092")
    assert result.returncode == 2 and "unsupported DATABASE_URL scheme" in result.stderr
    result = _serve(key_files, "notifications", KAFKA_BOOTSTRAP_SERVERS="127.0.0.1:9092")
    assert result.returncode == 2 and "DATABASE_URL is required" in result.stderr
    result = _serve(key_files, "pledges", "--role", "boss")
    assert result.returncode == 2 and "--role" in result.stderr

"""The crisisaid command: keys, tokens that the services accept, clear errors."""

from __future__ import annotations

from typer.testing import CliRunner

from aid_cli.main import app
from aid_common.auth import TokenVerifier

runner = CliRunner()


def test_keygen_then_token_gives_a_token_the_services_verify(tmp_path) -> None:
    assert runner.invoke(app, ["keygen", str(tmp_path)]).exit_code == 0
    assert oct((tmp_path / "private.pem").stat().st_mode & 0o777) == "0o600"
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
            "--key-file",
            str(tmp_path / "private.pem"),
        ],
    )
    assert result.exit_code == 0, result.output
    caller = TokenVerifier.from_file(tmp_path / "public.pem").verify(result.output.strip())
    assert caller.scopes == {"notifications:read"} and str(caller.partner_id) == partner


def test_token_errors_say_what_is_wrong(tmp_path) -> None:
    missing = runner.invoke(app, ["token", "--scope", "admin", "--key-file", str(tmp_path / "nope.pem")])
    assert missing.exit_code == 2 and "no private key" in missing.output
    runner.invoke(app, ["keygen", str(tmp_path)])
    bad_ttl = runner.invoke(
        app, ["token", "--scope", "admin", "--ttl", "soon", "--key-file", str(tmp_path / "private.pem")]
    )
    assert bad_ttl.exit_code == 2 and "--ttl" in bad_ttl.output


def test_migrate_refuses_a_bad_database_url(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://x")
    result = runner.invoke(app, ["migrate", "pledges"])
    assert result.exit_code == 2 and "DATABASE_URL" in result.output

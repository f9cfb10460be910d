"""crisisaid: run, migrate and operate the crisis-aid platform."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from crisisaid.remote import import_app, report_app
from crisisaid.services import SERVICES, ServiceName

app = typer.Typer(
    help="Crisis-aid coordination platform: services, migrations, tokens.", no_args_is_help=True, add_completion=False
)


def _fail(message: str) -> NoReturn:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(2)


def _parse_ttl(value: str) -> dt.timedelta:
    m = re.fullmatch(r"(\d+)([smhd])", value.strip())
    if not m:
        _fail(f"--ttl {value!r}: use a number and a unit, e.g. 30m, 1h, 7d")
    n, unit = int(m.group(1)), m.group(2)
    return dt.timedelta(**{{"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[unit]: n})


@app.command()
def dev(
    no_demo: Annotated[bool, typer.Option("--no-demo", help="start without the demo data set")] = False,
    data_dir: Annotated[Path, typer.Option(help="where the SQLite files, keys and admin token live")] = Path(".data"),
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    base_port: Annotated[int, typer.Option(help="pledges' port; projects and notifications take the next two")] = 8001,
) -> None:
    """Embedded mode: the three services in one process on 8001/8002/8003 (what `make run` calls)."""
    from crisisaid.embedded import prepare, run_embedded

    public, admin = prepare(data_dir)
    try:
        asyncio.run(
            run_embedded(
                data_dir=data_dir, host=host, demo=not no_demo, public=public, token=admin, base_port=base_port
            )
        )
    except OSError as exc:
        _fail(f"cannot start: {exc} (is another instance running on {base_port}-{base_port + 2}?)")


def _serve_console(*, host: str, port: int | None) -> None:
    """The coordination console (AID_PLEDGES_URL, AID_PROJECTS_URL, AID_NOTIFICATIONS_URL name the services)."""
    import uvicorn

    from aid_common.logging import configure_logging
    from aid_console.app import create_app
    from aid_console.settings import ConsoleSettings

    settings = ConsoleSettings()
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    uvicorn.run(
        create_app(settings),
        host=host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,  # aid_common.proxies decides (AID_TRUSTED_PROXIES)
    )


@app.command()
def serve(
    service: Annotated[str, typer.Argument(help="pledges, projects, notifications or console")],
    role: Annotated[str, typer.Option(help="api = HTTP only; worker = relay, consumers, delivery; all = both")] = "all",
    port: Annotated[int | None, typer.Option(help="default: PORT, else the service's port")] = None,
    host: Annotated[str, typer.Option()] = "0.0.0.0",  # noqa: S104 - a server in a container listens on all
    wait: Annotated[
        float, typer.Option(help="seconds to wait for the database and broker at start (0: do not check)")
    ] = 60.0,
) -> None:
    """One service as its own process, configured by the environment (DATABASE_URL, KAFKA_BOOTSTRAP_SERVERS, …)."""
    import uvicorn
    from pydantic import ValidationError

    from aid_common.logging import configure_logging
    from aid_common.state import runtime_of

    if service == "console":
        _serve_console(host=host, port=port)
        return
    if service not in SERVICES:
        _fail(f"unknown service {service!r}: use pledges, projects, notifications or console")
    if role not in ("api", "worker", "all"):
        _fail(f"--role {role!r}: use api, worker or all")
    spec = SERVICES[ServiceName(service)]
    try:
        settings = spec.settings()
    except ValidationError as exc:
        _fail(f"configuration of {spec.name} is invalid:\n{exc}")
    configure_logging(settings.log_level)
    try:
        application = spec.create_app()(settings, role=role)
    except ValueError as exc:
        _fail(str(exc))
    runtime_of(application).freeze_heap_at_start = True
    if wait > 0:
        from crisisaid.preflight import Unreachable, preflight

        try:
            asyncio.run(preflight(settings, timeout=wait))
        except Unreachable as exc:
            _fail(f"{spec.name}: {exc}")
    uvicorn.run(
        application,
        host=host,
        port=port or int(os.environ.get("PORT", spec.port)),
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=20,
        proxy_headers=False,  # aid_common.proxies decides (AID_TRUSTED_PROXIES)
    )


@app.command()
def migrate(service: ServiceName) -> None:
    """Upgrade the service's database (DATABASE_URL) to the latest Alembic revision."""
    from sqlalchemy.exc import DBAPIError, OperationalError

    from aid_common.migrations import upgrade

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgresql+asyncpg://", "sqlite+aiosqlite://")):
        _fail("DATABASE_URL must be postgresql+asyncpg://user:pass@host:5432/db (or sqlite+aiosqlite:///file)")
    spec = SERVICES[service]
    where = url.split("@")[-1]
    typer.echo(f"migrating {spec.name} at {where} …")
    try:
        upgrade(spec.package, url)
    except (OSError, OperationalError, DBAPIError) as exc:
        _fail(f"cannot reach the database at {where}: {exc}")
    typer.echo(f"{spec.name}: at the latest revision")


token_app = typer.Typer(
    help="Mint a bearer token (`crisisaid token --scope …`) or revoke one (`crisisaid token revoke JTI`)."
)
app.add_typer(token_app, name="token")
app.add_typer(import_app, name="import")
app.add_typer(report_app, name="report")
EMBEDDED_KEY = Path(".data/keys/private.pem")


def _embedded_key() -> Path | None:
    """The embedded mode's key, looked for from here up to the filesystem root (any directory of the checkout)."""
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        candidate = folder / EMBEDDED_KEY
        if candidate.exists():
            return candidate
    return None


@token_app.callback(invoke_without_command=True)
def token(
    ctx: typer.Context,
    scope: Annotated[str | None, typer.Option(help='space-separated scopes, e.g. "pledges:write pledges:read"')] = None,
    subject: Annotated[
        str | None,
        typer.Option(help="who the token is for (sub claim): required outside embedded mode, one per person or system"),
    ] = None,
    partner_id: Annotated[str | None, typer.Option(help="limit the token to one partner's objects")] = None,
    ttl: Annotated[str, typer.Option(help="lifetime: 30m, 1h, 7d (capped by the services' maximum)")] = "1h",
    key_file: Annotated[Path | None, typer.Option(envvar="AID_JWT_PRIVATE_KEY_FILE", help="private key PEM")] = None,
) -> None:
    """Print a signed bearer token (its id, for revoking it, goes to stderr)."""
    if ctx.invoked_subcommand is not None:
        return
    import jwt

    from aid_common.auth import mint_token

    if not scope:
        _fail('--scope is required, e.g. --scope "pledges:read projects:read"')
    found = key_file or _embedded_key()
    if found is None or not found.exists():
        _fail(
            f"no private key at {found or EMBEDDED_KEY}: run `make run` once in the checkout (embedded mode writes "
            ".data/keys/private.pem), or set AID_JWT_PRIVATE_KEY_FILE / --key-file (crisisaid keygen DIR makes one)"
        )
    key_file = found
    embedded = os.environ.get("AID_MODE") == "embedded" or (
        key_file.name == "private.pem" and key_file.parent.match(".data/keys")
    )
    if not subject:
        if not embedded:
            _fail("--subject is required outside embedded mode: name the person or system the token is for")
        subject = "operator"
    if partner_id:
        try:
            uuid.UUID(partner_id)
        except ValueError:
            _fail(f"--partner-id {partner_id!r} is not a UUID")
    minted = mint_token(
        key_file.read_bytes(), subject=subject, scopes=scope, partner_id=partner_id, ttl=_parse_ttl(ttl)
    )
    typer.echo(minted)
    typer.echo(f"jti: {jwt.decode(minted, options={'verify_signature': False})['jti']}", err=True)


@token_app.command("revoke")
def revoke(
    jti: Annotated[str, typer.Argument(help="the token's id (printed when it was minted; the jti claim)")],
    file: Annotated[
        Path, typer.Option(envvar="AID_REVOKED_TOKENS_FILE", help="the revocation list every service reads")
    ] = Path(".data/revoked-tokens"),
) -> None:
    """Revoke a token: its id goes on the list every service checks (AID_REVOKED_TOKENS_FILE)."""
    try:
        uuid.UUID(jti)
    except ValueError:
        _fail(f"{jti!r} is not a token id (a UUID)")
    file.parent.mkdir(parents=True, exist_ok=True)
    with file.open("a") as out:
        out.write(jti + "\n")
    typer.echo(f"revoked {jti} in {file}; services read the list within a second")


@app.command()
def keygen(directory: Path) -> None:
    """Write new keys: DIR/private.pem and DIR/public.pem (token signing) and DIR/webhook-secrets.key (encrypts
    webhook secrets at rest)."""
    from aid_common.auth import write_keypair
    from aid_notifications.subscriptions.secrets import new_encryption_key

    private, public = write_keypair(directory)
    secrets_key = directory / "webhook-secrets.key"
    if not secrets_key.exists():
        secrets_key.touch(mode=0o600)
        secrets_key.write_text(new_encryption_key() + "\n")
    typer.echo(f"wrote {private} (keep it secret) and {public} (give it to every service)")
    typer.echo(f"wrote {secrets_key} (the notifications service's AID_WEBHOOK_SECRETS_KEY_FILE; keep it secret)")


@app.command("reseal-secrets")
def reseal_secrets() -> None:
    """Seal every webhook signing secret again under the newest AID_WEBHOOK_SECRETS_KEY (the first of a
    comma-separated list): after adding a new key in front, before dropping the old one."""
    import asyncio

    from aid_common.db import create_engine, session_factory, transaction
    from aid_notifications.settings import NotificationsSettings
    from aid_notifications.subscriptions import service
    from aid_notifications.subscriptions.secrets import SecretBox

    settings = NotificationsSettings()
    key = settings.webhook_secrets_key
    box = SecretBox(key.get_secret_value() if key else None)

    async def run() -> tuple[int, list[uuid.UUID]]:
        engine = create_engine(settings.database_url)
        try:
            async with transaction(session_factory(engine)) as session:
                return await service.reseal_all(session=session, box=box)
        finally:
            await engine.dispose()

    resealed, unreadable = asyncio.run(run())
    typer.echo(f"resealed {resealed} signing secret(s) under the newest key")
    if unreadable:
        ids = ", ".join(sorted({str(i) for i in unreadable}))
        _fail(f"{len(unreadable)} secret(s) open with none of the configured keys (subscriptions {ids})")


@app.command()
def receive(
    port: Annotated[int, typer.Option(help="port to listen on")] = 9000,
    secret: Annotated[
        str | None, typer.Option(envvar="AID_WEBHOOK_SECRET", help="the subscription's whsec_… secret")
    ] = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    show: Annotated[bool, typer.Option("--show", help="also print each verified payload in full")] = False,
) -> None:
    """A webhook receiver to try subscriptions with: verifies signatures and prints each event."""
    import uvicorn

    from crisisaid.receiver import receiver_app

    if not secret:
        typer.echo("no --secret: printing events without verifying their signatures", err=True)
    typer.echo(f"receiving webhooks on http://{host}:{port}/ (any path)")
    uvicorn.run(receiver_app(secret, show=show), host=host, port=port, log_level="warning")


@app.command()
def asyncapi(fmt: Annotated[str, typer.Option("--format", help="yaml or json")] = "yaml") -> None:
    """Print the AsyncAPI 3.0 document of every event type, generated from the registry."""
    import json

    import aid_contracts  # noqa: F401  (registers the events)
    from aid_common.asyncapi import asyncapi_yaml, build_asyncapi
    from aid_common.events import registry

    if fmt == "json":
        sys.stdout.write(json.dumps(build_asyncapi(registry), indent=2, ensure_ascii=False) + "\n")
    else:
        sys.stdout.write(asyncapi_yaml(registry))


if __name__ == "__main__":
    app()

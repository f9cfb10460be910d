"""Embedded mode: the three services in one process, SQLite files under the data directory, the in-process
bus. The same apps, handlers, outbox and inbox as in production."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import httpx
import typer
import uvicorn

from aid_common.auth import mint_token, write_keypair
from aid_common.logging import configure_logging
from aid_common.memory_bus import MemoryBus
from aid_common.settings import Mode
from aid_console.app import create_app as create_console
from aid_console.settings import ConsoleSettings
from crisisaid.demo import DemoLoadError, load_demo
from crisisaid.services import SERVICES, ServiceSpec


class _Server(uvicorn.Server):
    """Several servers share one loop: the signals are handled once, for all of them."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def ensure_keys(data_dir: Path) -> tuple[Path, Path]:
    private = Path(os.environ.get("AID_JWT_PRIVATE_KEY_FILE", data_dir / "keys" / "private.pem"))
    public = Path(os.environ.get("AID_JWT_PUBLIC_KEY_FILE", data_dir / "keys" / "public.pem"))
    if not private.exists() or not public.exists():
        private, public = write_keypair(data_dir / "keys")
        typer.echo(f"created a signing key pair in {private.parent}")
    return private, public


def admin_token(private: Path, data_dir: Path) -> str:
    token = mint_token(private.read_bytes(), subject="admin", scopes="admin", ttl=dt.timedelta(days=30))
    path = data_dir / "admin-token"
    path.touch(mode=0o600, exist_ok=True)
    path.write_text(token + "\n")
    return token


def prepare(data_dir: Path) -> tuple[Path, str]:
    """Data directory, key pair and admin token, before the event loop starts serving."""
    data_dir.mkdir(parents=True, exist_ok=True)
    private, public = ensure_keys(data_dir)
    return public, admin_token(private, data_dir)


async def run_embedded(
    *,
    data_dir: Path,
    host: str,
    demo: bool,
    public: Path,
    token: str,
    base_port: int = 8001,
    console_port: int | None = None,
) -> None:
    # A person reads these, not a log shipper: plain lines, and only warnings unless LOG_LEVEL says otherwise.
    configure_logging(os.environ.get("LOG_LEVEL", "WARNING"), json=False)
    bus = MemoryBus()
    servers = [
        (spec, _service_server(spec, data_dir=data_dir, host=host, port=base_port + offset, public=public, bus=bus))
        for offset, spec in enumerate(SERVICES.values())
    ]
    local = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    console_port = console_port if console_port is not None else base_port - 1
    console_server = _console_server(
        host=host, local=local, base_port=base_port, port=console_port, public=public, bus=bus, data_dir=data_dir
    )
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        asyncio.get_running_loop().add_signal_handler(sig, stopping.set)
    tasks = [asyncio.create_task(s.serve()) for _, s in servers] + [asyncio.create_task(console_server.serve())]
    while not all(s.started for _, s in servers) or not console_server.started:
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    if all(s.started for _, s in servers):
        typer.echo(f"\nCrisis-aid platform, embedded mode (SQLite in {data_dir}, in-process bus)")
        typer.echo(f"  console        http://{local}:{console_port}/   sign in with the admin token below")
        for spec, server in servers:
            url = f"http://{host}:{server.config.port}"
            typer.echo(f"  {spec.name:<14} {url}   docs: {url}/docs")
        typer.echo(f"\nadmin token (also in {data_dir / 'admin-token'}):\n{token}\n")
        if demo:
            await _load_demo({spec.name: f"http://{local}:{server.config.port}" for spec, server in servers}, token)
        await stopping.wait()
        await _drain(bus)
    for _, server in servers:
        server.should_exit = True
    console_server.should_exit = True
    await asyncio.gather(*tasks)


def _service_server(
    spec: ServiceSpec, *, data_dir: Path, host: str, port: int, public: Path, bus: MemoryBus
) -> _Server:
    settings = spec.settings(
        AID_MODE=Mode.EMBEDDED,
        DATABASE_URL=f"sqlite+aiosqlite:///{(data_dir / spec.name).resolve()}.db",
        PORT=port,
        AID_JWT_PUBLIC_KEY_FILE=public,
        KAFKA_BOOTSTRAP_SERVERS="",
        # On a developer's machine, webhooks to a local receiver (crisisaid receive) are the point.
        AID_WEBHOOK_ALLOW_PRIVATE=os.environ.get("AID_WEBHOOK_ALLOW_PRIVATE", "127.0.0.0/8,::1/128"),
        AID_REVOKED_TOKENS_FILE=_revoked(data_dir),
    )
    app = spec.create_app()(settings, role="all", bus=bus)
    return _Server(uvicorn.Config(app, host=host, port=port, log_config=None, access_log=False, proxy_headers=False))


def _revoked(data_dir: Path) -> Path:
    """The revocation list every service and the console read; `crisisaid token revoke JTI` (run from the
    checkout) writes here by default."""
    return Path(os.environ.get("AID_REVOKED_TOKENS_FILE", data_dir / "revoked-tokens")).resolve()


def _console_server(
    *, host: str, local: str, base_port: int, port: int, public: Path, bus: MemoryBus, data_dir: Path
) -> _Server:
    console = create_console(
        ConsoleSettings(
            AID_PLEDGES_URL=f"http://{local}:{base_port}",
            AID_PROJECTS_URL=f"http://{local}:{base_port + 1}",
            AID_NOTIFICATIONS_URL=f"http://{local}:{base_port + 2}",
            AID_CONSOLE_COOKIE_SECURE=False,  # http://127.0.0.1: a developer's machine
            AID_JWT_PUBLIC_KEY_FILE=public,
            AID_REVOKED_TOKENS_FILE=_revoked(data_dir),
        ),
        bus=bus,
    )
    config = uvicorn.Config(console, host=host, port=port, log_config=None, access_log=False, proxy_headers=False)
    return _Server(config)


async def _load_demo(urls: dict[str, str], token: str) -> None:
    try:
        if not await load_demo(urls, token, echo=typer.echo):
            typer.echo("demo data: already there (kept from the last run)")
    except (DemoLoadError, httpx.HTTPError) as exc:
        typer.echo(f"demo data: could not be loaded: {exc}", err=True)


async def _drain(bus: MemoryBus, timeout: float = 10.0) -> None:
    """The in-process bus forgets everything at exit: let consumers catch up before the servers stop."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while bus.backlog() and loop.time() < deadline:  # noqa: ASYNC110 - a counter, nothing to await
        await asyncio.sleep(0.1)

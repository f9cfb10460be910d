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

import typer
import uvicorn

from aid_cli.services import SERVICES
from aid_common.auth import mint_token, write_keypair
from aid_common.logging import configure_logging
from aid_common.memory_bus import MemoryBus
from aid_common.settings import Mode


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


async def run_embedded(*, data_dir: Path, host: str, demo: bool, public: Path, token: str) -> None:
    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    bus = MemoryBus()
    servers = []
    for spec in SERVICES.values():
        settings = spec.settings(
            AID_MODE=Mode.EMBEDDED,
            DATABASE_URL=f"sqlite+aiosqlite:///{(data_dir / spec.name).resolve()}.db",
            PORT=spec.port,
            AID_JWT_PUBLIC_KEY_FILE=str(public),
            KAFKA_BOOTSTRAP_SERVERS="",
        )
        app = spec.create_app()(settings, role="all", bus=bus)
        config = uvicorn.Config(app, host=host, port=spec.port, log_config=None, access_log=False)
        servers.append((spec, _Server(config)))
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: [setattr(s, "should_exit", True) for _, s in servers])
    tasks = [asyncio.create_task(s.serve()) for _, s in servers]
    while not all(s.started for _, s in servers):
        if any(t.done() for t in tasks):
            break
        await asyncio.sleep(0.05)
    if all(s.started for _, s in servers):
        typer.echo(f"\nCrisis-aid platform, embedded mode (SQLite in {data_dir}, in-process bus)")
        for spec, _ in servers:
            typer.echo(f"  {spec.name:<14} http://{host}:{spec.port}   docs: http://{host}:{spec.port}/docs")
        typer.echo(f"\nadmin token (also in {data_dir / 'admin-token'}):\n{token}\n")
        if demo:
            typer.echo("demo data: not loaded yet (arrives with the end-to-end issue); use --no-demo to silence this")
    await asyncio.gather(*tasks)

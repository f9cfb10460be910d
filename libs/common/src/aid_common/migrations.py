"""Alembic glue shared by the services: each service's migrations/env.py calls `run_migrations`."""

from __future__ import annotations

import asyncio
import os
from importlib import resources
from typing import Any

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.ext.asyncio import async_engine_from_config

from aid_common import tables as _tables  # noqa: F401  (platform tables known to autogenerate)
from aid_common.db import PlatformBase


def alembic_config(package: str, database_url: str) -> Config:
    """A Config for the migrations shipped inside `package` (e.g. aid_pledges), no alembic.ini needed."""
    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files(package) / "migrations"))
    cfg.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return cfg


def upgrade(package: str, database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(package, database_url), revision)


def run_migrations(metadata: MetaData) -> None:
    """The body of env.py: online migrations over an async engine, with the platform tables included."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url") or os.environ.get("DATABASE_URL", "")
    if not url:
        raise SystemExit("DATABASE_URL is not set")
    targets = [PlatformBase.metadata, metadata]

    def do_run(connection: Any) -> None:
        context.configure(
            connection=connection,
            target_metadata=targets,
            compare_type=True,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = async_engine_from_config({"sqlalchemy.url": url}, prefix="sqlalchemy.", poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
        await engine.dispose()

    asyncio.run(run_async())

"""Each service's Alembic history builds exactly the schema its models describe (no forgotten migration)."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command

from aid_common.migrations import alembic_config, upgrade


@pytest.mark.parametrize("package", ["aid_pledges", "aid_projects", "aid_notifications"])
async def test_alembic_history_matches_the_models(pg_url, package) -> None:
    await asyncio.to_thread(upgrade, package, pg_url)
    await asyncio.to_thread(command.check, alembic_config(package, pg_url))  # raises when models drift

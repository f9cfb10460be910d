"""Migration 0006 dates every money entry already recorded by the day it was recorded (UTC), so figures read
before the upgrade read the same after it, `as_of` and `known_at` alike."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy import text

from aid_common.db import create_engine
from aid_common.migrations import upgrade


def _row(table: sa.Table, **given: object) -> dict:
    """A row of `table` as it stood at that revision: the given values, and any value for the other columns."""
    fill = {sa.Uuid: uuid.uuid4, sa.String: lambda: "x", sa.Text: lambda: "x", sa.Numeric: lambda: 0,
            sa.Integer: lambda: 0, sa.Boolean: lambda: False, sa.JSON: dict, sa.Date: dt.date.today,
            sa.DateTime: lambda: dt.datetime.now(dt.UTC)}  # fmt: skip
    row = {}
    for column in table.columns:
        if column.name in given:
            row[column.name] = given[column.name]
        elif not column.nullable:
            kind = next(k for k in fill if isinstance(column.type, k))
            row[column.name] = fill[kind]()
    return row


async def test_entries_recorded_before_the_upgrade_are_dated_by_the_day_they_were_recorded(pg_url) -> None:
    await asyncio.to_thread(upgrade, "aid_projects", pg_url, "0005")
    engine = create_engine(pg_url)
    agreement, project = uuid.uuid4(), uuid.uuid4()
    late_evening = dt.datetime(2024, 6, 30, 23, 30, tzinfo=dt.timezone(dt.timedelta(hours=-4)))  # 1 July, UTC
    async with engine.begin() as conn:
        tables = await conn.run_sync(
            lambda sync: {
                name: sa.Table(name, sa.MetaData(), autoload_with=sync)
                for name in ("agreement_funds", "projects", "ledger_entries", "pool_entries")
            }
        )
        await conn.execute(
            sa.insert(tables["agreement_funds"]).values(_row(tables["agreement_funds"], agreement_id=agreement))
        )
        await conn.execute(sa.insert(tables["projects"]).values(_row(tables["projects"], id=project)))
        for name, links in (("ledger_entries", {"project_id": project}), ("pool_entries", {})):
            row = _row(tables[name], agreement_id=agreement, created_at=late_evening, **links)
            await conn.execute(sa.insert(tables[name]).values(row))
    await asyncio.to_thread(upgrade, "aid_projects", pg_url)
    async with engine.connect() as conn:
        days = {
            table: set((await conn.execute(text(f"SELECT effective_on FROM {table}"))).scalars())  # noqa: S608
            for table in ("ledger_entries", "pool_entries")
        }
        nullable = (
            await conn.execute(
                text(
                    "SELECT count(*) FROM information_schema.columns WHERE column_name = 'effective_on' "
                    "AND is_nullable = 'YES' AND table_name IN ('ledger_entries', 'pool_entries', 'received_entries')"
                )
            )
        ).scalar()
    await engine.dispose()
    assert days == {"ledger_entries": {dt.date(2024, 7, 1)}, "pool_entries": {dt.date(2024, 7, 1)}}
    assert nullable == 0

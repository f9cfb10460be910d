"""Rows a transaction writes when it ends, a statement per table, instead of a statement per call.

For writers called once per event of a consumer round that add a row or two each time (the event kept for
replays, its deliveries, their alerts): `defer_rows` keeps them with the transaction, and `write_deferred`
writes each table's rows in one statement — in the order the tables were first deferred, so a row referencing
another table's row is written after it. A consumer round writes them when it finishes (a refused row fails the
round like a failing event), an event run in a SAVEPOINT before its savepoint is released, and `transaction()`
before it commits. A commit with rows still deferred is refused, never silently short of them.

The rows live in the transaction's `kept` dict: a savepoint rolled back forgets them with the rest, so a
rolled-back event's rows are never written. Until written they are not in the database: a writer that must count
them reads `deferred_rows` beside its query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy import event as sa_event
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from aid_common.db.kept import kept, kept_in
from aid_common.db.statements import COPY_FROM_ROWS, bulk_insert, insert_or_skip, is_postgres

_NAME = "aid_common.deferred"


@dataclass
class _Rows:
    table: Table
    conflict: tuple[str, ...]
    rows: list[dict[str, Any]] = field(default_factory=list)


def defer_rows(
    session: AsyncSession, table: Table, rows: list[dict[str, Any]], *, conflict: tuple[str, ...] = ()
) -> None:
    """Write `rows` into `table` when the transaction's deferred rows are written. With `conflict`, a row whose
    key (those columns) is taken is skipped (INSERT … ON CONFLICT DO NOTHING). Rows carry every column they set."""
    if not rows:
        return
    groups = kept(session, _NAME)
    group = groups.get((table.name, conflict))
    if group is None:
        group = groups[(table.name, conflict)] = _Rows(table, conflict)
    group.rows.extend(rows)


def deferred_rows(session: AsyncSession, table: Table) -> list[dict[str, Any]]:
    """The rows deferred for `table` in this transaction and not written yet."""
    return [row for group in kept(session, _NAME).values() if group.table is table for row in group.rows]


async def write_deferred(session: AsyncSession) -> None:
    """Write every deferred row: one statement per table — on PostgreSQL one execution, not one per row as an
    executemany would be (`insert_rows`: the rows as one JSON array; COPY from a hundred rows without a key to
    skip)."""
    from aid_common.db.rows import insert_rows  # rows → units → here: imported when first needed

    groups = kept(session, _NAME)
    while groups:
        key = next(iter(groups))
        group = groups.pop(key)
        if not is_postgres(session):  # SQLite: in-process, an executemany is one call
            statement = insert_or_skip(group.table, conflict=group.conflict, on=session) if group.conflict else None
            await session.execute(statement if statement is not None else insert(group.table), group.rows)
        elif not group.conflict and len(group.rows) >= COPY_FROM_ROWS:
            await bulk_insert(session, group.table, group.rows)
        else:
            await insert_rows(await session.connection(), group.table, group.rows, conflict=group.conflict or None)


def _unwritten(session: Session) -> None:
    if session.in_nested_transaction():
        return
    groups = kept_in(session, _NAME)
    if groups:
        tables = ", ".join(sorted({g.table.name for g in groups.values()}))
        raise RuntimeError(f"rows deferred for {tables} were not written: call write_deferred before the commit")


sa_event.listen(Session, "before_commit", _unwritten)

"""A new aggregate written as few times as can be: its row (unless its natural key is taken), rows that belong to
it, and the event that reports it — all or nothing.

On PostgreSQL it is one statement (data-modifying CTEs): the row's INSERT … ON CONFLICT DO NOTHING RETURNING is a
CTE, and its dependent rows and its outbox row are INSERT … SELECT … WHERE EXISTS on it, so a taken key writes
nothing at all — one round trip where there were three. Elsewhere (SQLite, the one-process embedded mode) one
statement each, the first of which is the same key check.

Many at once (`insert_many`: an import's page of new records) is the same as one batch of a group commit: a
statement per table for all of them, each aggregate skipped alone when its key is taken.

Inside a request's unit of work that has a group (`aid_common.group_commit`), the aggregate is handed to it
instead: written with the other requests of its batch, a statement per table for all of them.

How it stays correct: the dependents and the event are written only if the row's INSERT returned a row; the
statement is built once per shape (table, key, dependents and how many rows of each) from Core, and its values go
as bound parameters typed by their columns.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Select, Table, bindparam, exists, insert, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.db import Transaction, dialect_of, insert_or_skip, is_postgres
from aid_common.group_commit import Dependents, GroupCommit, NewAggregate, write_aggregates

__all__ = ["Dependents", "NewAggregate", "insert_many", "insert_new"]


_Shape = tuple[Table, tuple[str, ...], int]  # a dependent table, its columns, how many rows


def _param(prefix: str, table: Table, column: str) -> Any:
    return bindparam(f"{prefix}{column}", type_=table.c[column].type)  # typed: dates, money and JSON as columns


@functools.cache
def _skip_taken(table: Table, conflict: tuple[str, ...], dialect: str) -> Any:
    return insert_or_skip(table, conflict=conflict, on=dialect).returning(*table.primary_key.columns)


@functools.cache
def _all_in_one(
    table: Table, conflict: tuple[str, ...], shapes: tuple[tuple[Table, tuple[str, ...], int], ...]
) -> Select[Any]:
    """WITH new AS (INSERT … ON CONFLICT DO NOTHING RETURNING key), INSERT each dependent's rows and the outbox row,
    each SELECTed only WHERE EXISTS (SELECT FROM new); SELECT key FROM new."""
    new = (
        pg_insert(table)
        .values({c.key: _param("a_", table, c.key) for c in table.columns})
        .on_conflict_do_nothing(index_elements=list(conflict))
        .returning(*table.primary_key.columns)
        .cte("new_row")
    )
    written = exists(select(*new.c))
    statement = select(*new.c)
    for d, (child, columns, count) in enumerate(shapes):
        rows = union_all(
            *(
                select(literal(i).label("n"), *(_param(f"d{d}_{i}_", child, c).label(c) for c in columns))
                for i in range(count)
            )
        ).subquery(f"rows_{d}")
        added = insert(child).from_select(
            columns, select(*(rows.c[c] for c in columns)).where(written).order_by(rows.c.n)
        )
        statement = statement.add_cte(added.cte(f"new_dependents_{d}"))
    return statement.add_cte(outbox.insert_when(written).cte("new_event"))


async def insert_new(
    session: AsyncSession,
    *,
    table: Table,
    values: Mapping[str, Any],
    conflict: Sequence[str],
    dependents: Sequence[Dependents] = (),
    event: BaseModel,
) -> bool:
    """Write a new row of `table` with its `dependents` and its `event`; False, and nothing written, when a row
    with the same `conflict` columns exists."""
    key = tuple(conflict)
    work = Transaction.of(session)
    if work is not None and isinstance(work.group, GroupCommit) and work.can_group():
        new = NewAggregate(table=table, values=values, conflict=key, dependents=tuple(dependents), event=event)
        new.check(session.get_bind().dialect)  # a bad value fails this request alone, before it joins a batch
        return await work.group.write_new(work, new)
    if not is_postgres(session):
        if (await session.execute(_skip_taken(table, key, dialect_of(session)), dict(values))).first() is None:
            return False
        for d in dependents:
            if d.rows:
                await session.execute(insert(d.table), [dict(r) for r in d.rows])
        outbox.add(session, event)
        return True
    params = {f"a_{k}": v for k, v in values.items()}
    for n, d in enumerate(dependents):
        for i, row in enumerate(d.rows):
            params.update({f"d{n}_{i}_{c}": row[c] for c in d.columns})
    params.update(outbox.folded(session, event))
    shapes = tuple((d.table, d.columns, len(d.rows)) for d in dependents if d.rows)
    return (await session.execute(_all_in_one(table, key, shapes), params)).first() is not None


async def insert_many(session: AsyncSession, news: Sequence[NewAggregate]) -> list[bool]:
    """Write many new aggregates in `session`'s transaction, a statement per table for all of them: each one
    unless its key is taken (then nothing of it is written). Whether each was written, in order. Their values
    are checked first (`NewAggregate.check`) by the caller, who knows which record a bad one belongs to."""
    if not news:
        return []
    await session.flush()  # what the session holds (rows these may refer to) goes first
    written = await write_aggregates(await session.connection(), news)
    outbox.signal_commit(session)
    return written

"""How a new agreement is written: the busiest write there is (partner systems post every agreement they sign),
so its statements are built once and as few as can be.

On PostgreSQL the agreement, its history rows and its event's outbox row go in one statement (data-modifying
CTEs): one round trip where there were three. Elsewhere (SQLite, the one-process embedded mode) three
statements. Either way the agreement's INSERT is also its reference check: when the donor already used the
reference it writes nothing and returns no row — and on PostgreSQL the history and the event, which are written
only if it returned one, are not written either."""

from __future__ import annotations

import functools
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, bindparam, exists, insert, literal, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.db import upsert_insert
from aid_common.tables import OutboxMessage
from aid_pledges.agreements.models import Agreement, AgreementHistory

_AGREEMENTS: Table = Agreement.__table__  # type: ignore[assignment]
_HISTORY: Table = AgreementHistory.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_HISTORY_COLUMNS = ("agreement_id", "action", "actor", "correlation_id", "details", "at")
_EVENT_COLUMNS = ("event_id", "topic", "key", "event_type", "payload", "created_at", "attempts")
_ADD_HISTORY = insert(_HISTORY)


@functools.cache
def _insert_new(dialect: str) -> Any:
    new = upsert_insert(dialect)(_AGREEMENTS).on_conflict_do_nothing(index_elements=["donor_id", "reference"])
    return new.returning(_AGREEMENTS.c.id)


def _param(prefix: str, table: Table, column: str) -> Any:
    return bindparam(f"{prefix}{column}", type_=table.c[column].type)  # typed: dates, money and JSON as columns


@functools.cache
def _all_in_one(history_rows: int) -> Any:
    """WITH new AS (INSERT agreement … ON CONFLICT DO NOTHING RETURNING id), INSERT its history rows and its
    outbox row each SELECTed only WHERE EXISTS (SELECT FROM new); SELECT id FROM new."""
    new = (
        pg_insert(_AGREEMENTS)
        .values({c.key: _param("a_", _AGREEMENTS, c.key) for c in _AGREEMENTS.columns})
        .on_conflict_do_nothing(index_elements=["donor_id", "reference"])
        .returning(_AGREEMENTS.c.id)
        .cte("new_agreement")
    )
    written = exists(select(new.c.id))
    rows = union_all(
        *(
            select(literal(i).label("n"), *(_param(f"h{i}_", _HISTORY, c).label(c) for c in _HISTORY_COLUMNS))
            for i in range(history_rows)
        )
    ).subquery("rows")
    history = insert(_HISTORY).from_select(
        _HISTORY_COLUMNS,  # in order: the history's ids are the order things happened in
        select(*(rows.c[c] for c in _HISTORY_COLUMNS)).where(written).order_by(rows.c.n),
    )
    event = insert(_OUTBOX).from_select(
        _EVENT_COLUMNS, select(*(_param("o_", _OUTBOX, c).label(c) for c in _EVENT_COLUMNS)).where(written)
    )
    return select(new.c.id).add_cte(history.cte("new_history")).add_cte(event.cte("new_event"))


async def write_new(
    session: AsyncSession, *, agreement: Agreement, history: list[dict[str, Any]], event: BaseModel
) -> bool:
    """Write `agreement` (a transient object), its `history` rows and its `event`. False, and nothing written,
    when its donor already used its reference."""
    values = {c.key: getattr(agreement, c.key) for c in _AGREEMENTS.columns}
    if session.bind.dialect.name != "postgresql":
        if (await session.execute(_insert_new(session.bind.dialect.name), values)).first() is None:
            return False
        await session.execute(_ADD_HISTORY, history)
        outbox.add(session, event)
        return True
    params = {f"a_{k}": v for k, v in values.items()}
    for i, entry in enumerate(history):
        params.update({f"h{i}_{k}": entry[k] for k in _HISTORY_COLUMNS})
    event_row, _ = outbox.row(session, event)
    params.update({f"o_{k}": event_row[k] for k in _EVENT_COLUMNS})
    return (await session.execute(_all_in_one(len(history)), params)).first() is not None

"""Many rows of one table in one statement whose text never changes with how many there are: on PostgreSQL the
rows go as one JSON array (`jsonb_populate_recordset` of the table's own row type), so 1 or 64 rows are the same
prepared statement, one round trip, one parameter. On SQLite (one process, no round trips) a statement per row.

Values pass through their columns' own checks first (`Amount`'s range and places, `UtcDateTime`'s zone), as
they would on the ORM's path; JSON columns keep their objects."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any

import orjson
from sqlalchemy import JSON, Table, TypeDecorator, insert, text
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.sql.elements import TextClause
from sqlalchemy.sql.selectable import TextualSelect

from aid_common.db.statements import insert_or_skip
from aid_common.db.units import fetch_alone

Row = Mapping[str, Any]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)  # exact: PostgreSQL reads the digits, never a float
    if isinstance(value, uuid.UUID):  # asyncpg's own UUID (read back from the database) is a subclass
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


def check_values(table: Table, rows: Sequence[Row], dialect: Dialect) -> list[dict[str, Any]]:
    """`rows` as their columns' own types bind them (raises what they raise: `AmountOutOfRange`, a naive time)."""
    if not rows:
        return []
    decorated: list[tuple[str, TypeDecorator[Any]]] = [
        (name, type_)
        for name in rows[0]
        if isinstance(type_ := table.c[name].type, TypeDecorator) and not isinstance(type_, JSON)
    ]
    out = []
    for row in rows:
        values = dict(row)
        for name, decorator in decorated:
            values[name] = decorator.process_bind_param(values[name], dialect)
        out.append(values)
    return out


def _as_json(values: list[dict[str, Any]]) -> str:
    return orjson.dumps(values, default=_json_default).decode()


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@functools.cache
def _from_json(
    table: Table, columns: tuple[str, ...], conflict: tuple[str, ...] | None, returning: tuple[str, ...]
) -> TextClause | TextualSelect:
    """The statement for one shape, built once from the table's own names (quoted identifiers, no values)."""
    names = ", ".join(_quote(c) for c in columns)
    source = f"jsonb_populate_recordset(NULL::{_quote(table.name)}, CAST(:rows AS jsonb)) WITH ORDINALITY AS r"
    sql = f"INSERT INTO {_quote(table.name)} ({names}) SELECT {names} FROM {source} ORDER BY r.ordinality"  # noqa: S608
    if conflict is not None:
        sql += f" ON CONFLICT ({', '.join(_quote(c) for c in conflict)}) DO NOTHING"
    if returning:
        sql += f" RETURNING {', '.join(_quote(c) for c in returning)}"
        return text(sql).columns(*(table.c[c] for c in returning))
    return text(sql)


async def insert_rows(
    connection: AsyncConnection,
    table: Table,
    rows: Sequence[Row],
    *,
    conflict: Sequence[str] | None = None,
    returning: Sequence[str] = (),
) -> list[tuple[Any, ...]]:
    """Insert `rows` (each with the same columns, every one they set) in the connection's transaction; with
    `conflict`, rows whose key is taken (or repeated within `rows`: the first wins) are skipped. The `returning`
    columns of the rows written, in no promised order."""
    if not rows:
        return []
    dialect = connection.dialect
    key = tuple(conflict) if conflict is not None else None
    if dialect.name == "postgresql":
        values = check_values(table, rows, dialect)
        statement = _from_json(table, tuple(values[0]), key, tuple(returning))
        result = await connection.execute(statement, {"rows": _as_json(values)})
        return [tuple(r) for r in result] if returning else []
    written: list[tuple[Any, ...]] = []
    for row in rows:  # SQLite: in-process, so a statement per row costs no round trip
        one = (insert(table) if key is None else insert_or_skip(table, conflict=key, on=dialect.name)).values(dict(row))
        if not returning:
            await connection.execute(one)
            continue
        found = (await connection.execute(one.returning(*(table.c[c] for c in returning)))).first()
        if found is not None:
            written.append(tuple(found))
    return written


async def insert_rows_alone(
    engine: AsyncEngine, table: Table, rows: Sequence[Row], *, conflict: Sequence[str], returning: Sequence[str]
) -> list[tuple[Any, ...]]:
    """`insert_rows` as one statement that commits on its own (`fetch_alone`: on PostgreSQL run by the driver, no
    BEGIN or COMMIT): many requests' one-row writes, such as their Idempotency-Key reservations, in one round
    trip. The returned values come as the driver gives them (for text and number columns)."""
    if not rows:
        return []
    if engine.dialect.name != "postgresql":
        async with engine.begin() as conn:
            return await insert_rows(conn, table, rows, conflict=conflict, returning=returning)
    values = check_values(table, rows, engine.dialect)
    statement = _from_json(table, tuple(values[0]), tuple(conflict), tuple(returning))
    return await fetch_alone(engine, statement, {"rows": _as_json(values)})

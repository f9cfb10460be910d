"""Statements written once, in SQLAlchemy Core, and run on either database: the dialect's INSERT … ON CONFLICT DO
NOTHING, a statement compiled once for asyncpg to run itself (see `units.run_alone`), and bulk inserts (COPY on
PostgreSQL). Dialect branches belong here and in the other modules of this package, not in services."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Insert, Table, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler

Bound = AsyncSession | AsyncEngine | AsyncConnection


def dialect_of(bound: Bound) -> str:
    """The database a session, engine or connection talks to: "postgresql" or "sqlite"."""
    engine = bound.bind if isinstance(bound, AsyncSession) else bound
    return engine.dialect.name if engine is not None else "postgresql"


def is_postgres(bound: Bound) -> bool:
    return dialect_of(bound) == "postgresql"


def insert_or_skip(table: Any, *, conflict: Sequence[str], on: Bound | str) -> Insert:
    """INSERT … ON CONFLICT (`conflict`) DO NOTHING on `table` (a Table or a mapped class), for the database `on`
    talks to (a session, engine or connection, or a dialect's name). Add `.values(…)` and `.returning(…)` as
    usual: a row comes back only for what was inserted."""
    dialect = on if isinstance(on, str) else dialect_of(on)
    make = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return make(table).on_conflict_do_nothing(index_elements=list(conflict))


@dataclass(frozen=True)
class DriverStatement:
    """A Core statement compiled once for asyncpg: its SQL with $n placeholders, and how to turn named values into
    the driver's positional arguments (through each bound column type, so money and times go as the ORM sends
    them)."""

    sql: str
    names: tuple[str, ...]
    defaults: Mapping[str, Any]
    processors: tuple[Callable[[Any], Any] | None, ...]

    def arguments(self, params: Mapping[str, Any]) -> list[Any]:
        values = {**self.defaults, **params}
        return [
            value if process is None else process(value)
            for value, process in zip((values[n] for n in self.names), self.processors, strict=True)
        ]


_compiled: dict[tuple[int, str], tuple[ClauseElement, DriverStatement]] = {}


def for_driver(statement: ClauseElement, dialect: Dialect) -> DriverStatement:
    """`statement` compiled for `dialect` (asyncpg) once per process; kept alongside the statement itself so the
    cache key (its id) cannot be reused by another object."""
    key = (id(statement), dialect.name)
    if key not in _compiled:
        compiled = cast(SQLCompiler, statement.compile(dialect=dialect))
        names = tuple(compiled.positiontup or ())
        # values the statement carries itself (literals); the others come with each call
        defaults = {n: b.effective_value for n, b in compiled.binds.items() if not b.required}
        processors = tuple(compiled.binds[n].type.dialect_impl(dialect).bind_processor(dialect) for n in names)
        _compiled[key] = (
            statement,
            DriverStatement(sql=compiled.string, names=names, defaults=defaults, processors=processors),
        )
    return _compiled[key][1]


# From this many rows on, COPY: several times faster than multi-row INSERTs for thousands of rows, but each one
# first asks the server for the table's column types — for a handful of rows (a fan-out matching one or two
# subscriptions, its one alert) that costs more than the INSERT.
COPY_FROM_ROWS = 100


async def bulk_insert(session: AsyncSession, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert many rows in the session's transaction: PostgreSQL COPY from COPY_FROM_ROWS rows, otherwise one
    executemany (multi-row INSERTs). Rows carry every column they set: Python-side column defaults are not
    applied."""
    if not rows:
        return
    connection = await session.connection()
    if connection.dialect.name != "postgresql" or len(rows) < COPY_FROM_ROWS:
        await connection.execute(insert(table), rows)
        return
    columns = list(rows[0])
    raw = await connection.get_raw_connection()
    driver: Any = raw.driver_connection
    if not driver.is_in_transaction():
        # SQLAlchemy begins the database transaction at its first statement; COPY on the driver connection
        # before that would commit on its own.
        await connection.execute(text("SELECT 1"))
    # itemgetter builds each record in C: a generator per row cost ~0.2 s CPU for a fan-out's 20 000 rows.
    record = operator.itemgetter(*columns) if len(columns) > 1 else (lambda row: (row[columns[0]],))
    await driver.copy_records_to_table(table.name, records=[record(row) for row in rows], columns=columns)

"""Column types that keep money exact and times in UTC on PostgreSQL and SQLite alike, and the declarative base
of the platform's own tables (outbox, inbox, idempotency keys, rate-limit counters)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import BigInteger, DateTime, Integer, MetaData, Numeric, Row, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator, TypeEngine

# Stable constraint names, so Alembic migrations are the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


# A result row of any columns (what a Core select of chosen columns yields).
AnyRow = Row[*tuple[Any, ...]]


def new_metadata() -> MetaData:
    return MetaData(naming_convention=NAMING_CONVENTION)


class AmountOutOfRange(ValueError):
    """A value the column cannot hold: the caller's input, not a fault of the server (422, naming the limit)."""


_SQLITE_INTEGER_MAX = 2**63 - 1


class Amount(TypeDecorator[Decimal]):
    """An exact decimal. NUMERIC on PostgreSQL; on SQLite (which would go through float) an integer count of
    the smallest unit, so sums and comparisons in SQL stay exact there too."""

    impl = Numeric
    cache_ok = True

    def __init__(self, scale: int = 2, precision: int = 20) -> None:
        super().__init__()
        self.scale = scale
        self.precision = precision

    def __repr__(self) -> str:  # what Alembic writes into migrations
        return f"Amount(scale={self.scale}, precision={self.precision})"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(BigInteger())
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def limit(self, dialect: Dialect) -> Decimal:
        """The largest magnitude this column holds: NUMERIC(precision, scale), and on SQLite also what an integer
        count of the smallest unit can hold. One limit, derived from the column's type."""
        numeric = Decimal(10) ** (self.precision - self.scale) - Decimal(1).scaleb(-self.scale)
        if dialect.name == "sqlite":
            return min(
                numeric, Decimal(_SQLITE_INTEGER_MAX).scaleb(-self.scale).quantize(Decimal(1).scaleb(-self.scale))
            )
        return numeric

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        value = Decimal(value)
        if not value.is_finite() or abs(value) > self.limit(dialect):
            raise AmountOutOfRange(f"{value} is beyond what is stored (at most {self.limit(dialect)} in magnitude)")
        if dialect.name == "sqlite":
            scaled = value.scaleb(self.scale)
            if scaled != scaled.to_integral_value():
                raise ValueError(f"{value} has more than {self.scale} decimal places")
            return int(scaled)
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "sqlite":
            return (Decimal(int(value)).scaleb(-self.scale)).quantize(Decimal(1).scaleb(-self.scale))
        return Decimal(value)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def __repr__(self) -> str:
        return "UtcDateTime()"

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: use an aware UTC datetime")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


# An auto-incrementing big integer key that SQLite also understands (it only autoincrements INTEGER).
BigIntPK = BigInteger().with_variant(Integer(), "sqlite")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PlatformBase(DeclarativeBase):
    """Tables of the shared mechanics (outbox, inbox, idempotency keys) that live in every service's database."""

    if TYPE_CHECKING:  # a Table, which insert(), update() and bulk_insert() take (SQLAlchemy says any FromClause)
        __table__: ClassVar[Table]

    metadata = new_metadata()

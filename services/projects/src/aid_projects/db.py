"""The projects service's own tables share this declarative base (one Alembic history)."""

from typing import TYPE_CHECKING, ClassVar

from sqlalchemy import Table
from sqlalchemy.orm import DeclarativeBase

from aid_common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()
    if TYPE_CHECKING:  # a Table, which insert(), update() and bulk_insert() take (SQLAlchemy says any FromClause)
        __table__: ClassVar[Table]

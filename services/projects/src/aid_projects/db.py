"""The projects service's own tables share this declarative base (one Alembic history)."""

from sqlalchemy.orm import DeclarativeBase

from aid_common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()

"""Keyset (cursor) pagination on (created_at, id): pages do not shift when rows are inserted meanwhile."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_

from aid_common.errors import Unprocessable

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=500, description="page size")]
Cursor = Annotated[str | None, Query(max_length=200, description="`next_cursor` of the previous page")]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


class Items(BaseModel, Generic[T]):
    """An aggregate that is never paged answers `{items}`: the same shape as a page, without a cursor."""

    items: list[T]


def encode_cursor(created_at: dt.datetime, id_: uuid.UUID) -> str:
    raw = json.dumps({"t": created_at.isoformat(), "i": str(id_)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        moment = dt.datetime.fromisoformat(data["t"])
        if moment.tzinfo is None:
            raise ValueError("naive time")
        return moment.astimezone(dt.UTC), uuid.UUID(data["i"])
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise Unprocessable("the cursor is not one this API returned; start again without it") from exc


def keyset(stmt: Select[Any], model: Any, *, cursor: str | None, limit: int) -> Select[Any]:
    if cursor:
        t, i = decode_cursor(cursor)
        stmt = stmt.where(or_(model.created_at > t, and_(model.created_at == t, model.id > i)))
    return stmt.order_by(model.created_at, model.id).limit(limit + 1)


def page(rows: Sequence[Any], *, limit: int) -> tuple[list[Any], str | None]:
    """Split the limit+1 rows `keyset` asked for into this page and the cursor of the next one."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return items, encode_cursor(items[-1].created_at, items[-1].id) if more and items else None

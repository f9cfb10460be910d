"""Keyset (cursor) pagination on (created_at, id): pages do not shift when rows are inserted meanwhile."""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

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


def _after(stmt: Select[Any], model: Any, t: dt.datetime, i: uuid.UUID) -> Select[Any]:
    return stmt.where(or_(model.created_at > t, and_(model.created_at == t, model.id > i)))


def keyset(stmt: Select[Any], model: Any, *, cursor: str | None, limit: int) -> Select[Any]:
    if cursor:
        stmt = _after(stmt, model, *decode_cursor(cursor))
    return stmt.order_by(model.created_at, model.id).limit(limit + 1)


async def batches(session: AsyncSession, stmt: Select[Any], model: Any, *, size: int = 500) -> AsyncIterator[list[Any]]:
    """Every row of `stmt` in (created_at, id) order of `model`, `size` rows at a time, each batch forgotten by the
    session once the next is asked for: an export holds one batch in memory, not the whole table. Rows are what
    `stmt` selects (a Row per result; `model` among its entities)."""
    last: tuple[dt.datetime, uuid.UUID] | None = None
    while True:
        query = _after(stmt, model, *last) if last else stmt
        rows = list((await session.execute(query.order_by(model.created_at, model.id).limit(size))).all())
        if not rows:
            return
        yield rows
        entity = next(e for e in rows[-1] if isinstance(e, model))
        last = (entity.created_at, entity.id)
        session.expunge_all()  # read-only: what the batch loaded is not needed any more
        if len(rows) < size:
            return


def page(rows: Sequence[Any], *, limit: int) -> tuple[list[Any], str | None]:
    """Split the limit+1 rows `keyset` asked for into this page and the cursor of the next one."""
    items = list(rows[:limit])
    more = len(rows) > limit
    return items, encode_cursor(items[-1].created_at, items[-1].id) if more and items else None

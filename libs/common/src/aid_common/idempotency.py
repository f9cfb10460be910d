"""Idempotency-Key for POST requests (IETF draft-ietf-httpapi-idempotency-key-header):

- same key, same body   → the first answer again (header `Idempotent-Replayed: true`), nothing done twice;
- same key, other body  → 422;
- first request still in progress → 409;
- keys are scoped to the caller's identity and kept for `ttl` (24 h by default).

The reservation commits first (so a concurrent twin sees it), the use case and the stored answer commit
together, and a failed use case releases the key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_common.auth import Caller
from aid_common.db import is_transient, transaction, upsert_insert, utcnow
from aid_common.errors import Conflict, Unprocessable
from aid_common.tables import IdempotencyRecord

IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        description="Makes a retried POST safe: the same key and body return the first answer.",
    ),
]
# A reservation this old without an answer belongs to a crashed request: a retry may take it over.
ABANDONED_AFTER = dt.timedelta(seconds=60)


def fingerprint(endpoint: str, body: Any) -> str:
    canonical = json.dumps(jsonable_encoder(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


async def run_idempotent(
    sessions: async_sessionmaker[AsyncSession],
    *,
    caller: Caller,
    key: str | None,
    endpoint: str,
    body: Any,
    status_code: int,
    use_case: Callable[[AsyncSession], Awaitable[Any]],
    ttl: dt.timedelta = dt.timedelta(hours=24),
) -> JSONResponse:
    """Run `use_case(session)` once per (caller, key); commit it with its stored answer."""
    if key is None:
        async with transaction(sessions) as session:
            result = jsonable_encoder(await use_case(session))
        return JSONResponse(result, status_code=status_code)

    fp = fingerprint(endpoint, body)
    replay = await _reserve(sessions, caller=caller.identity, key=key, endpoint=endpoint, fp=fp, ttl=ttl)
    if replay is not None:
        return replay
    try:
        async with transaction(sessions) as session:
            result = jsonable_encoder(await use_case(session))
            record = await session.get(IdempotencyRecord, (caller.identity, key))
            if record is not None:
                record.status_code, record.response = status_code, result
    except BaseException:
        try:
            await _release(sessions, caller=caller.identity, key=key)
        except Exception as exc:
            if not is_transient(exc):
                raise
            # The database is away (the likely reason the use case failed too): release the key as soon as it
            # is back, so that the client's retry is not told "in progress" until the reservation goes stale.
            task = asyncio.create_task(_release_when_back(sessions, caller=caller.identity, key=key))
            _pending_releases.add(task)
            task.add_done_callback(_pending_releases.discard)
        raise
    return JSONResponse(result, status_code=status_code)


_pending_releases: set[asyncio.Task[None]] = set()


async def _release(sessions: async_sessionmaker[AsyncSession], *, caller: str, key: str) -> None:
    """Forget a reservation whose request did not complete (an answered one is kept)."""
    async with transaction(sessions) as session:
        await session.execute(
            delete(IdempotencyRecord).where(
                IdempotencyRecord.caller == caller,
                IdempotencyRecord.key == key,
                IdempotencyRecord.status_code.is_(None),
            )
        )


async def _release_when_back(sessions: async_sessionmaker[AsyncSession], *, caller: str, key: str) -> None:
    deadline = asyncio.get_running_loop().time() + ABANDONED_AFTER.total_seconds()
    delay = 0.5
    while asyncio.get_running_loop().time() < deadline:
        await asyncio.sleep(delay)
        try:
            await _release(sessions, caller=caller, key=key)
            return
        except Exception as exc:
            if not is_transient(exc):
                return
            delay = min(delay * 2, 5.0)


async def respond_idempotently(
    request: Request,
    *,
    caller: Caller,
    key: str | None,
    body: Any,
    status_code: int,
    use_case: Callable[[AsyncSession], Awaitable[Any]],
) -> JSONResponse:
    """`run_idempotent` for a route: the app's sessions, and the method and path as the endpoint."""
    return await run_idempotent(
        request.app.state.runtime.sessions,
        caller=caller,
        key=key,
        endpoint=f"{request.method} {request.url.path}",
        body=body,
        status_code=status_code,
        use_case=use_case,
    )


async def _reserve(
    sessions: async_sessionmaker[AsyncSession], *, caller: str, key: str, endpoint: str, fp: str, ttl: dt.timedelta
) -> JSONResponse | None:
    """Reserve the key (None), or answer from what is stored for it."""
    now = utcnow()
    async with transaction(sessions) as session:
        inserted = (
            await session.execute(
                upsert_insert(session)(IdempotencyRecord)
                .values(caller=caller, key=key, endpoint=endpoint, fingerprint=fp, created_at=now, expires_at=now + ttl)
                .on_conflict_do_nothing(index_elements=["caller", "key"])
                .returning(IdempotencyRecord.key)
            )
        ).first()
        if inserted is not None:
            return None
        record = (
            await session.execute(
                select(IdempotencyRecord)
                .where(IdempotencyRecord.caller == caller, IdempotencyRecord.key == key)
                .with_for_update()
            )
        ).scalar_one()
        expired = record.expires_at <= now
        abandoned = record.status_code is None and record.created_at <= now - ABANDONED_AFTER
        if expired or abandoned:
            record.endpoint, record.fingerprint, record.created_at = endpoint, fp, now
            record.expires_at, record.status_code, record.response = now + ttl, None, None
            return None
        if record.fingerprint != fp:
            raise Unprocessable(
                "this Idempotency-Key was already used with a different request; use a new key for a new request"
            )
        if record.status_code is None:
            raise Conflict("a request with this Idempotency-Key is still in progress; retry shortly")
        return JSONResponse(record.response, status_code=record.status_code, headers={"Idempotent-Replayed": "true"})

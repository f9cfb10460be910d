"""Idempotency-Key for POST requests (IETF draft-ietf-httpapi-idempotency-key-header):

- same key, same body   → the first answer again (header `Idempotent-Replayed: true`), nothing done twice;
- same key, other body  → 422;
- first request still in progress → 409;
- keys are scoped to the caller's identity and kept for `ttl` (24 h by default).

The reservation commits first (so a concurrent twin sees it); the route's unit of work and the stored answer
commit together; a unit of work that rolls back releases the key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import hashlib
import inspect
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Protocol, TypeVar

import structlog
from fastapi import Header, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import bindparam, delete, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aid_common import state
from aid_common.auth import Caller
from aid_common.db import Transaction, insert_or_skip, insert_rows_alone, is_transient, run_alone, transaction, utcnow
from aid_common.errors import Conflict, Unprocessable
from aid_common.group_commit import GroupCommit
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
# A reservation without an answer and without a sign of life for this long belongs to a crashed request: a retry
# may take it over. A request still running says it is alive every HEARTBEAT (its reservation's created_at is
# moved on), so a slow request is never run twice.
ABANDONED_AFTER = dt.timedelta(seconds=60)
HEARTBEAT = ABANDONED_AFTER / 4
KEPT_FOR = dt.timedelta(hours=24)
T = TypeVar("T")
log = structlog.get_logger("aid.idempotency")


_RECORDS = IdempotencyRecord.__table__
_ALIVE = (
    update(_RECORDS)
    .where(_RECORDS.c.caller == bindparam("c"), _RECORDS.c.key == bindparam("k"), _RECORDS.c.status_code.is_(None))
    .values(created_at=bindparam("now"))
)
_ANSWER = (
    update(_RECORDS)
    .where(_RECORDS.c.caller == bindparam("c"), _RECORDS.c.key == bindparam("k"))
    .values(status_code=bindparam("status_code"), response=bindparam("response"))
)


def _plain(value: Any) -> Any:
    """JSON-ready data, as `jsonable_encoder` makes it — for models by pydantic's own serializer, which gives the
    same result at a fraction of the cost (it runs on every idempotent write)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json", by_alias=True)
    if isinstance(value, list) and all(isinstance(v, BaseModel) for v in value):
        return [v.model_dump(mode="json", by_alias=True) for v in value]
    return jsonable_encoder(value)


def fingerprint(endpoint: str, body: Any) -> str:
    canonical = json.dumps(_plain(body), sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(f"{endpoint}\n{canonical}".encode()).hexdigest()


class Sealer(Protocol):
    """Encrypts what must not be stored in clear (a subscription's signing secret in a stored answer)."""

    def seal(self, secret: str) -> str: ...

    def open(self, sealed: str) -> str: ...


def idempotent(endpoint: Callable[..., Awaitable[Any]] | None = None, *, sealed: tuple[str, ...] = ()) -> Any:
    """Make a write route safe to retry with an `Idempotency-Key` header (put it under `@router.post`).

    `sealed` names answer fields that are secrets: the stored copy holds them encrypted with the app's sealer
    (`app.state.idempotency_sealer`), and a replay decrypts them — they are never at rest in clear.

    The route keeps its own signature (a body model, a `UnitOfWork`, a `Caller`); this adds the header and
    the request. A stored answer is replayed without calling the route; otherwise the key is reserved, the
    route runs, and its answer is stored in the route's own unit of work, so the effect and the stored answer
    commit together. If the unit of work rolls back, the reservation is released.
    """
    if endpoint is None:
        return functools.partial(idempotent, sealed=sealed)
    signature = inspect.signature(endpoint, eval_str=True)
    extra = [
        inspect.Parameter("idempotency_request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
        inspect.Parameter("idempotency_key", inspect.Parameter.KEYWORD_ONLY, annotation=IdempotencyKey, default=None),
    ]

    @functools.wraps(endpoint)
    async def route(*, idempotency_request: Request, idempotency_key: str | None = None, **kwargs: Any) -> Any:
        if idempotency_key is None:
            return await endpoint(**kwargs)
        work = _one(kwargs, Transaction)
        caller = _one(kwargs, Caller)
        body = [v for v in kwargs.values() if isinstance(v, BaseModel)]
        status_code = idempotency_request.scope["route"].status_code or 200
        runtime = state.runtime_of(idempotency_request.app)
        sessions = runtime.sessions
        endpoint_name = f"{idempotency_request.method} {idempotency_request.url.path}"
        fp = fingerprint(endpoint_name, body)
        sealer = state.IDEMPOTENCY_SEALER.find(idempotency_request.app)
        stored = await _reserve(
            runtime.engine,
            sessions,
            caller=caller.identity,
            key=idempotency_key,
            endpoint=endpoint_name,
            fp=fp,
            group=runtime.group_commit,
        )
        if stored is not None:
            code, answer = stored
            return JSONResponse(
                _open(answer, sealed, sealer), status_code=code, headers={"Idempotent-Replayed": "true"}
            )
        work.after_rollback(functools.partial(_release_soon, sessions, caller=caller.identity, key=idempotency_key))
        alive = _keep_alive(runtime.engine, caller=caller.identity, key=idempotency_key)
        try:
            result = _plain(await endpoint(**kwargs))
        finally:
            alive.set()
        answer = {"status_code": status_code, "response": _seal(result, sealed, sealer)}
        # one UPDATE, no read: the row is this request's reservation; it commits with the route's effect (in a
        # batch of requests, one executemany for all their answers)
        work.at_commit(_ANSWER, {"c": caller.identity, "k": idempotency_key, **answer})
        return JSONResponse(result, status_code=status_code)

    route.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    return route


def _seal(answer: Any, fields: tuple[str, ...], sealer: Sealer | None) -> Any:
    if not fields or not isinstance(answer, dict):
        return answer
    if sealer is None:
        raise RuntimeError("an @idempotent route with sealed fields needs app.state.idempotency_sealer")
    return {k: ({"sealed": sealer.seal(v)} if k in fields and isinstance(v, str) else v) for k, v in answer.items()}


def _open(answer: Any, fields: tuple[str, ...], sealer: Sealer | None) -> Any:
    if not fields or not isinstance(answer, dict) or sealer is None:
        return answer
    return {
        k: (sealer.open(v["sealed"]) if k in fields and isinstance(v, dict) and "sealed" in v else v)
        for k, v in answer.items()
    }


def _one(values: dict[str, Any], kind: type[T]) -> T:
    found = [v for v in values.values() if isinstance(v, kind)]
    if len(found) != 1:
        raise TypeError(f"an @idempotent route takes exactly one {kind.__name__} parameter")
    return found[0]


_pending_releases: set[asyncio.Task[None]] = set()
_heartbeats: set[asyncio.Task[None]] = set()


def _keep_alive(engine: AsyncEngine, *, caller: str, key: str) -> asyncio.Event:
    """Mark the reservation alive every HEARTBEAT until the returned event is set. Not awaited at the end: a last
    beat may wait on the row the request's own unit of work is answering, and finds it answered."""
    done = asyncio.Event()

    async def beat() -> None:
        while True:
            try:
                await asyncio.wait_for(done.wait(), HEARTBEAT.total_seconds())
                return
            except TimeoutError:
                pass
            try:
                await run_alone(engine, _ALIVE, {"c": caller, "k": key, "now": utcnow()})
            except Exception as exc:  # a missed beat only shortens the reservation's life
                log.warning("idempotency.heartbeat_failed", error=type(exc).__name__)

    task = asyncio.create_task(beat())
    _heartbeats.add(task)
    task.add_done_callback(_heartbeats.discard)
    return done


async def _release_soon(sessions: async_sessionmaker[AsyncSession], *, caller: str, key: str) -> None:
    """Release a reservation whose request failed; if the database is away (the likely reason the request failed
    too), release it as soon as it is back, so that the client's retry is not told "in progress" until the
    reservation goes stale."""
    try:
        await _release(sessions, caller=caller, key=key)
    except Exception as exc:
        if not is_transient(exc):
            raise
        task = asyncio.create_task(_release_when_back(sessions, caller=caller, key=key))
        _pending_releases.add(task)
        task.add_done_callback(_pending_releases.discard)


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


_RESERVED_COLUMNS = ("caller", "key", "endpoint", "fingerprint", "created_at", "expires_at")


async def _reserve_many(engine: AsyncEngine, reservations: list[dict[str, Any]]) -> list[bool]:
    """Reserve many requests' keys in one statement committed alone: whether each is new. A key taken before, or
    twice in `reservations` (the later ones), is not: its request reads the record under a lock."""
    seen: set[tuple[str, str]] = set()
    first = []
    for r in reservations:
        first.append((r["caller"], r["key"]) not in seen)
        seen.add((r["caller"], r["key"]))
    new = [r for r, f in zip(reservations, first, strict=True) if f]
    taken = await insert_rows_alone(engine, _RECORDS, new, conflict=("caller", "key"), returning=("caller", "key"))
    reserved = {(c, k) for c, k in taken}
    return [f and (r["caller"], r["key"]) in reserved for r, f in zip(reservations, first, strict=True)]


@functools.cache
def _reservation(dialect: str) -> Any:
    """INSERT … ON CONFLICT DO NOTHING RETURNING for a new key, built once per dialect (every POST with a key runs
    it; on PostgreSQL by the driver itself, `run_alone`)."""
    new = insert_or_skip(_RECORDS, conflict=("caller", "key"), on=dialect)
    return new.values({c: bindparam(c) for c in _RESERVED_COLUMNS}).returning(_RECORDS.c.key)


async def _reserve(
    engine: AsyncEngine,
    sessions: async_sessionmaker[AsyncSession],
    *,
    caller: str,
    key: str,
    endpoint: str,
    fp: str,
    ttl: dt.timedelta = KEPT_FOR,
    group: GroupCommit | None = None,
) -> tuple[int, Any] | None:
    """Reserve the key (None), or the stored status and answer for it."""
    now = utcnow()
    reservation = _reservation(engine.dialect.name)
    values = dict(caller=caller, key=key, endpoint=endpoint, fingerprint=fp, created_at=now, expires_at=now + ttl)
    if group is not None:  # a new key (the usual case): one statement for the reservations of many requests
        if await group.gather("idempotency-reservations", functools.partial(_reserve_many, group.engine))(values):
            return None
    elif await run_alone(engine, reservation, values) is not None:  # a new key: one round trip
        return None
    async with transaction(sessions) as session:  # the key is known: read it under a lock (it may have just gone)
        if (await session.execute(reservation, values)).first() is not None:
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
        return record.status_code, record.response

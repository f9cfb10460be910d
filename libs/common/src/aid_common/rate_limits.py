"""Abuse limits, with the `limits` library's fixed-window strategy (well kept, async, and its storage is an
interface): per token subject (and partner) on every write, and failed authentications per client address.
Every replica shares the counters in PostgreSQL (`PostgresStorage`, one upsert per check — no new server to run);
embedded mode, one process, counts in memory. Over a limit: 429 problem+json with Retry-After."""

from __future__ import annotations

import datetime as dt
import math
import time

import orjson
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from sqlalchemy import Float, Integer, Interval, Text, bindparam, case, cast, column, delete, func, select, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncEngine

from aid_common.db import fetch_alone, run_alone
from aid_common.errors import TooManyRequests
from aid_common.group_commit import GroupCommit
from aid_common.tables import RateLimitCounter

_COUNTERS = RateLimitCounter.__table__
_NEW = postgresql.insert(_COUNTERS).values(
    key=bindparam("key"), count=bindparam("amount"), expires_at=func.now() + bindparam("expiry", type_=Interval())
)
_EXPIRED = _COUNTERS.c.expires_at <= func.now()
# Every write request runs it: one statement, committed alone (by the driver itself, `run_alone`).
_INCREMENT = _NEW.on_conflict_do_update(
    index_elements=["key"],
    set_={
        "count": case((_EXPIRED, _NEW.excluded.count), else_=_COUNTERS.c.count + _NEW.excluded.count),
        "expires_at": case((_EXPIRED, _NEW.excluded.expires_at), else_=_COUNTERS.c.expires_at),
    },
).returning(_COUNTERS.c.count)
# Many requests' hits in one statement (`aid_common.group_commit`'s gathering): summed per key first, since one
# INSERT … ON CONFLICT DO UPDATE may not touch a row twice.
_HITS = (
    func.jsonb_to_recordset(cast(bindparam("rows", type_=Text), JSONB))
    .table_valued(column("key", Text), column("amount", Integer), column("expiry", Float))
    .render_derived(name="hits", with_types=True)
)
_NEW_MANY = postgresql.insert(_COUNTERS).from_select(
    ["key", "count", "expires_at"],
    select(_HITS.c.key, _HITS.c.amount, func.now() + func.make_interval(0, 0, 0, 0, 0, 0, _HITS.c.expiry)),
)
_INCREMENT_MANY = _NEW_MANY.on_conflict_do_update(
    index_elements=["key"],
    set_={
        "count": case((_EXPIRED, _NEW_MANY.excluded.count), else_=_COUNTERS.c.count + _NEW_MANY.excluded.count),
        "expires_at": case((_EXPIRED, _NEW_MANY.excluded.expires_at), else_=_COUNTERS.c.expires_at),
    },
).returning(_COUNTERS.c.key, _COUNTERS.c.count)
_PURGE = delete(_COUNTERS).where(_EXPIRED)
_CLEAR_ALL = delete(_COUNTERS)
_CLEAR_ONE = delete(_COUNTERS).where(_COUNTERS.c.key == bindparam("key"))


class PostgresStorage(Storage):
    """Counters in the service's own database: `rate_limit_counters` (key, count, expires_at)."""

    STORAGE_SCHEME: list[str] | None = ["aid-postgresql"]  # noqa: RUF012 (declared so by limits' Storage)

    def __init__(self, engine: AsyncEngine, group: GroupCommit | None = None) -> None:
        super().__init__()
        self.engine = engine
        self.group = group
        self.hits = group.gather("rate-limit-hits", self._incr_many) if group is not None else None

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return (OSError,)

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        if self.hits is not None:
            return await self.hits((key, expiry, amount))
        window = dt.timedelta(seconds=expiry)
        return int(await run_alone(self.engine, _INCREMENT, {"key": key, "amount": amount, "expiry": window}))

    async def _incr_many(self, hits: list[tuple[str, int, int]]) -> list[int]:
        """Count many hits in one statement; each hit's count is what it would have been counted in turn."""
        summed: dict[str, list[int]] = {}
        for key, expiry, amount in hits:
            summed.setdefault(key, [expiry, 0])[1] += amount
        rows = [{"key": k, "expiry": e, "amount": a} for k, (e, a) in summed.items()]
        assert self.group is not None
        counts = dict(await fetch_alone(self.group.engine, _INCREMENT_MANY, {"rows": orjson.dumps(rows).decode()}))
        out: list[int] = []
        for key, _, amount in reversed(hits):  # the last hit of a key gets the final count, the one before less
            out.append(int(counts[key]))
            counts[key] -= amount
        return out[::-1]

    async def get(self, key: str) -> int:
        async with self.engine.connect() as conn:
            value = await conn.scalar(
                select(RateLimitCounter.count).where(
                    RateLimitCounter.key == key, RateLimitCounter.expires_at > dt.datetime.now(dt.UTC)
                )
            )
        return int(value or 0)

    async def get_expiry(self, key: str) -> float:  # when the window ends, in epoch seconds (a time, not money)
        async with self.engine.connect() as conn:
            when = await conn.scalar(select(RateLimitCounter.expires_at).where(RateLimitCounter.key == key))
        return when.timestamp() if when else time.time()

    async def check(self) -> bool:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
        return True

    async def reset(self) -> int | None:
        await run_alone(self.engine, _CLEAR_ALL)
        return None

    async def clear(self, key: str) -> None:
        await run_alone(self.engine, _CLEAR_ONE, {"key": key})

    async def purge_expired(self) -> None:
        """Forget counters whose window has passed (a later hit starts a new window either way): without this the
        table keeps a row for every address that ever failed to authenticate."""
        await run_alone(self.engine, _PURGE)


CLEAR_FOR = 1.0
PURGE_EVERY_SECONDS = 600.0  # how often a process forgets expired counters (one indexed DELETE)


class RateLimits:
    """The limits one service enforces; the numbers are settings (`AID_RATE_LIMIT_WRITES`,
    `AID_RATE_LIMIT_FAILED_AUTH`), in the `limits` notation such as "120/minute"."""

    def __init__(self, engine: AsyncEngine, *, writes: str, failed_auth: str, group: GroupCommit | None = None) -> None:
        storage = PostgresStorage(engine, group) if engine.dialect.name == "postgresql" else MemoryStorage()
        self.shared = storage if isinstance(storage, PostgresStorage) else None  # memory forgets by itself
        self.limiter = FixedWindowRateLimiter(storage)
        self.writes = parse(writes)
        self.failed_auth = parse(failed_auth)
        # Addresses found under the failed-auth limit, and until when that verdict is reused (monotonic time): a
        # read per request saved. A failure here forgets the verdict at once; failures counted by other replicas
        # are seen at most CLEAR_FOR seconds later.
        self._clear_until: dict[str, float] = {}
        self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS

    async def _purge_now_and_then(self) -> None:
        if self.shared is None or time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
        await self.shared.purge_expired()

    async def _over(self, item: RateLimitItem, *keys: str, hit: bool) -> int | None:
        """Seconds until the window resets, if the limit is reached (or, with `hit`, would be by this one)."""
        await self._purge_now_and_then()
        allowed = await (self.limiter.hit(item, *keys) if hit else self.limiter.test(item, *keys))
        if allowed:
            return None
        reset, _ = await self.limiter.get_window_stats(item, *keys)
        return max(1, math.ceil(reset - time.time()))

    async def count_write(self, identity: str) -> None:
        wait = await self._over(self.writes, "write", identity, hit=True)
        if wait is not None:
            raise TooManyRequests(
                f"more than {self.writes} writes by this caller; retry in {wait} s (AID_RATE_LIMIT_WRITES)",
                retry_after=wait,
            )

    async def refuse_if_failing(self, address: str) -> None:
        now = time.monotonic()
        if self._clear_until.get(address, 0.0) > now:
            return
        wait = await self._over(self.failed_auth, "auth-failed", address, hit=False)
        if wait is None:
            if len(self._clear_until) > 10_000:  # bounded: many addresses only cost a read each
                self._clear_until.clear()
            self._clear_until[address] = now + CLEAR_FOR
        else:
            raise TooManyRequests(
                f"more than {self.failed_auth} failed authentications from this address; retry in {wait} s "
                "(AID_RATE_LIMIT_FAILED_AUTH)",
                retry_after=wait,
            )

    async def count_failure(self, address: str) -> None:
        self._clear_until.pop(address, None)
        await self.limiter.hit(self.failed_auth, "auth-failed", address)

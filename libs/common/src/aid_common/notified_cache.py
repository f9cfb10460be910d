"""An in-process cache for rows that rarely change and are read by the busiest writes (the donor and the FX rate
of every new agreement), kept correct across replicas by PostgreSQL LISTEN/NOTIFY.

How it stays correct:
- a trigger on each cached table notifies `channel` with the key of the changed row (or "*" for all of them);
  PostgreSQL delivers a notification when the writing transaction commits, to every replica listening, and
  each drops that key;
- a commit in this process that signals `channel` (`commit_signals.signal(session, channel)`) empties the cache
  before the request's answer goes out, so a client that changed a rate sees it at once on the same replica;
  other replicas see it when the notification arrives (milliseconds: as if the two requests had crossed);
- a value is kept only if nothing was dropped while it was being read (a generation count): a read that raced
  a change cannot put the old value back after the change was announced;
- without a live LISTEN connection (before it is up, after it is lost, until it is back) every read goes to the
  database and nothing is kept; the cache starts empty each time listening resumes. The connection is checked
  every `check_seconds`, so one cut without a word (no FIN, no RST) is noticed within that time;
- entries are also forgotten after `max_age` seconds, and all of them when there are `max_entries`.
SQLite (the one-process embedded mode) has no NOTIFY: the cache is live from the start and only this process's
commits change the data.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import structlog

from aid_common import commit_signals, pg_listen
from aid_common.aio import sleep_or_stop, wait_any
from aid_common.metrics import CACHE_LISTENING, CACHE_LOOKUPS

log = structlog.get_logger("aid.notified_cache")
T = TypeVar("T")
ALL = "*"  # a notification payload: forget everything


class NotifiedCache:
    def __init__(
        self,
        channel: str,
        *,
        database_url: str,
        max_entries: int = 10_000,
        max_age: float = 300.0,
        check_seconds: float = 10.0,
    ) -> None:
        self.channel = channel
        self.database_url = database_url
        self.max_entries = max_entries
        self.max_age = max_age
        self.check_seconds = check_seconds
        self._entries: dict[str, tuple[float, Any]] = {}
        self._generation = 0
        self.hits = self.misses = 0
        self._hit, self._miss = CACHE_LOOKUPS.labels(channel, "hit"), CACHE_LOOKUPS.labels(channel, "miss")
        self._listening = CACHE_LISTENING.labels(channel)
        self.live = False
        self._set_live(not database_url.startswith("postgresql"))  # see the module docstring (SQLite)
        commit_signals.listen(channel, self)

    async def get(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """The value under `key`, from memory or from `load()` (whose result is kept if it may be)."""
        now = time.monotonic()
        if self.live:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > now:
                self.hits += 1
                self._hit.inc()
                return entry[1]
        self.misses += 1
        self._miss.inc()
        generation = self._generation
        value = await load()
        if self.live and generation == self._generation:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = (now + self.max_age, value)
        return value

    def drop(self, key: str) -> None:
        self._generation += 1
        if key == ALL:
            self._entries.clear()
        else:
            self._entries.pop(key, None)

    def wake(self) -> None:
        """A transaction in this process that changed cached rows has committed (`commit_signals`)."""
        self.drop(ALL)

    def _set_live(self, live: bool) -> None:
        self.drop(ALL)
        self.live = live
        self._listening.set(1 if live else 0)

    async def run(self, stop: asyncio.Event) -> None:
        """Listen for as long as the process serves (PostgreSQL only); reconnect when the connection is lost."""
        if not self.database_url.startswith("postgresql"):
            return
        backoff = 0.5
        while not stop.is_set():
            lost = asyncio.Event()

            def on_lost(lost: asyncio.Event = lost) -> None:
                if lost.is_set():  # this connection's loss is handled (asyncpg also calls it when we close it)
                    return
                self._set_live(False)  # at once: a notification may already have been missed
                lost.set()

            conn = await pg_listen.listen(self.database_url, self.channel, on_notify=self.drop, on_lost=on_lost)
            if conn is None:
                await sleep_or_stop(stop, backoff)
                backoff = min(backoff * 2, 10.0)
                continue
            backoff = 0.5
            self._set_live(True)
            try:
                while not stop.is_set() and not lost.is_set():
                    await wait_any(stop, lost, timeout=self.check_seconds)
                    if not stop.is_set() and not lost.is_set() and not await pg_listen.alive(conn):
                        on_lost()
            finally:
                self._set_live(False)
                await pg_listen.close(conn)
            if lost.is_set() and not stop.is_set():
                log.warning("notified_cache.listener_lost", channel=self.channel)

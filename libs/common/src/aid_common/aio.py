"""Small asyncio helpers for the long-running loops (relay, consumer, delivery worker)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import structlog

log = structlog.get_logger("aid.aio")


async def sleep_or_stop(stop: asyncio.Event | None, seconds: float) -> None:
    """Sleep `seconds`, or less if `stop` is set meanwhile."""
    if stop is None:
        await asyncio.sleep(seconds)
        return
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        pass


async def quietly(aw: Awaitable[Any]) -> None:
    """Await a shutdown step of a client that may already be broken."""
    try:
        await aw
    except Exception as exc:
        log.debug("shutdown_step_failed", error=repr(exc))


async def wait_any(*events: asyncio.Event, timeout: float) -> None:
    """Wait until one of `events` is set, or `timeout` seconds."""
    waiters = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waiters, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waiters:
            w.cancel()

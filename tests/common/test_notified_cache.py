"""aid_common.notified_cache: what a read that raced a change may keep."""

from __future__ import annotations

import asyncio

from aid_common.notified_cache import ALL, NotifiedCache


def _cache() -> NotifiedCache:
    return NotifiedCache("test_channel", database_url="sqlite+aiosqlite://")  # live at once, no LISTEN


async def test_a_value_read_while_its_key_was_dropped_is_answered_but_not_kept() -> None:
    cache, reads = _cache(), []
    release = asyncio.Event()

    async def old_value() -> str:  # read before the change committed, answered after it was announced
        reads.append("old")
        await release.wait()
        return "old"

    pending = asyncio.create_task(cache.get("fx:KWD", old_value))
    await asyncio.sleep(0)
    cache.drop("fx:KWD")  # the change's notification arrives while the read is in flight
    release.set()
    assert await pending == "old"

    async def new_value() -> str:
        reads.append("new")
        return "new"

    assert await cache.get("fx:KWD", new_value) == "new"  # not the old value, kept from the racing read
    assert await cache.get("fx:KWD", new_value) == "new"
    assert reads == ["old", "new"]  # the second read of the new value came from memory


async def test_drop_all_and_a_local_commit_forget_everything() -> None:
    cache = _cache()

    async def one() -> int:
        return 1

    await cache.get("a", one)
    await cache.get("b", one)
    assert cache.misses == 2
    cache.drop(ALL)
    await cache.get("a", one)
    assert cache.misses == 3
    cache.wake()  # what commit_signals calls when this process commits a change
    await cache.get("b", one)
    assert cache.misses == 4 and cache.hits == 0

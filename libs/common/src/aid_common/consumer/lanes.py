"""The lanes policy: which of a round's events its transaction covers, as the service's batch hook says (the locks
it took). What is free now goes first; when nothing is (or when told to wait), what the first event needs is
waited for. Without a hook a round covers everything."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.subscriptions import BatchHook


class Lanes:
    def __init__(self, hook: BatchHook | None) -> None:
        self.hook = hook

    async def cover(
        self, session: AsyncSession, payloads: list[Any], todo: list[int], *, wait: bool
    ) -> set[int] | None:
        """The positions (in the batch) this transaction covers, or None for all. `payloads` are those at `todo`."""
        if self.hook is None:
            return None
        chosen = None if wait else await self.hook(session, payloads, False)
        if wait or (chosen is not None and not chosen):  # all busy: wait for what the first one needs
            chosen = await self.hook(session, payloads, True)
        return None if chosen is None else {todo[j] for j in chosen}

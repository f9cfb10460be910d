"""At most a few heavy requests of one kind at once in a process (exports, replays): past the limit the caller
hears 429 with Retry-After, instead of every request, and the writes beside them, slowing to a crawl together."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import Annotated, TypeVar

from fastapi import Depends, Request

from aid_common import state
from aid_common.errors import TooManyRequests

T = TypeVar("T")


class Gate:
    def __init__(self, limit: int, *, what: str, setting: str, retry_after: int = 5) -> None:
        self.limit, self.what, self.setting, self.retry_after = limit, what, setting, retry_after
        self.running = 0

    def check(self) -> None:
        """429 if the gate is full now."""
        if self.running >= self.limit:
            raise TooManyRequests(
                f"{self.running} {self.what} are running on this server, the most it runs at once ({self.setting}); "
                f"retry in {self.retry_after} s",
                retry_after=self.retry_after,
            )

    @contextmanager
    def held(self) -> Iterator[None]:
        """Run inside the gate (checked first)."""
        self.check()
        self.running += 1
        try:
            yield
        finally:
            self.running -= 1

    async def through(self, chunks: AsyncIterator[T]) -> AsyncIterator[T]:
        """A streamed answer that holds its place while it streams. The route calls `check` first (so the refusal
        is a 429, not a broken stream); the place is taken when the stream starts and freed when it ends, however
        it ends."""
        self.running += 1
        try:
            async for chunk in chunks:
                yield chunk
        finally:
            self.running -= 1


async def _exports(request: Request) -> Gate:
    gate = state.runtime_of(request.app).exports
    gate.check()
    return gate


# A streamed export's place: 429 when AID_MAX_CONCURRENT_EXPORTS are running; stream through `gate.through`.
ExportGate = Annotated[Gate, Depends(_exports)]

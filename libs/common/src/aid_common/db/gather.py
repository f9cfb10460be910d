"""Gather concurrent calls into one batch: the first call opens a batch, calls that arrive within `window` seconds
join it (or until `most` have), and one function runs the whole batch and gives each call its own result.

It is how one process turns many requests' one-row statements into one multi-row statement (the write limit, the
Idempotency-Key reservation): under load a batch fills within the window and a round trip serves many requests;
alone, a call waits at most the window (well under a millisecond) before it runs.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

In = TypeVar("In")
Out = TypeVar("Out")

# A batch's outcome per call, in the order of its calls: a result, or the exception that call alone raises.
RunBatch = Callable[[list[In]], Awaitable[Sequence[Out | BaseException]]]


class Window:
    """When a batch closes: a `window` after the last call that joined it, `longest` after it opened at the
    latest. `close` is called once, from the event loop."""

    def __init__(self, close: Callable[[], None], *, window: float, longest: float) -> None:
        loop = asyncio.get_running_loop()
        self._close = close
        self._window = window
        self._deadline = loop.time() + max(longest, window)
        self._joined = 1
        self._seen = 1
        self._timer: asyncio.TimerHandle | None = loop.call_later(window, self._tick)

    def joined(self) -> None:
        self._joined += 1

    def cancel(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _tick(self) -> None:
        loop = asyncio.get_running_loop()
        still_coming = self._joined > self._seen
        self._seen = self._joined
        if still_coming and loop.time() + self._window <= self._deadline:
            self._timer = loop.call_later(self._window, self._tick)
            return
        self._timer = None
        self._close()


class Gather(Generic[In, Out]):
    def __init__(self, run: RunBatch[In, Out], *, window: float, longest: float, most: int) -> None:
        self._run = run
        self.window = window
        self.longest = longest
        self.most = most
        self._items: list[In] = []
        self._waiting: list[asyncio.Future[Out]] = []
        self._open: Window | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def __call__(self, item: In) -> Out:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Out] = loop.create_future()
        self._items.append(item)
        self._waiting.append(future)
        if len(self._items) >= self.most or self.window <= 0:
            self._flush()
        elif self._open is None:
            self._open = Window(self._flush, window=self.window, longest=self.longest)
        else:
            self._open.joined()
        return await future

    def _flush(self) -> None:
        if self._open is not None:
            self._open.cancel()
            self._open = None
        items, waiting = self._items, self._waiting
        self._items, self._waiting = [], []
        if items:
            task = asyncio.create_task(self._run_batch(items, waiting))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _run_batch(self, items: list[In], waiting: list[asyncio.Future[Out]]) -> None:
        try:
            outcomes = await self._run(items)
        except BaseException as exc:  # the batch failed as a whole: each call hears it, as it would have alone
            for future in waiting:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for future, outcome in zip(waiting, outcomes, strict=True):
            if future.done():  # the caller went away (its request was cancelled)
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

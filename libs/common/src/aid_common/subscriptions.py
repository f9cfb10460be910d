"""What a service consumes, declared in its `handlers.py`: `on(PayloadModel, handler)` per event type (the topic
follows from the event registry), and the optional hook a consumer batch runs before its events."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.events import CloudEvent, EventRegistry, registry

P = TypeVar("P", bound=BaseModel)
# async def handler(session, payload: <its payload model, or a base of it>, event) -> None
Handler = Callable[[AsyncSession, Any, CloudEvent], Awaitable[None]]
# Runs first in each transaction of a batch with the payloads left: a service takes there the locks its handlers
# would otherwise take one event at a time, and returns the positions of the payloads they cover (None: all). With
# wait=False it takes only locks that are free now (it may cover nothing); with wait=True it must cover the first
# payload, waiting if need be. The consumer handles the covered events, commits, and goes on with the rest — so a
# batch that mixes an earmark another worker is busy with and free ones does the free ones first.
BatchHook = Callable[[AsyncSession, list[Any], bool], Awaitable[set[int] | None]]


@dataclass(frozen=True)
class Subscription:
    event_type: str
    topic: str
    handler: Handler


@overload
def on(
    event: type[P],
    handler: Callable[[AsyncSession, P, CloudEvent], Awaitable[None]],
    *,
    events: EventRegistry = registry,
) -> Subscription: ...
@overload
def on(event: str, handler: Handler, *, events: EventRegistry = registry) -> Subscription: ...
def on(event: type[BaseModel] | str, handler: Handler, *, events: EventRegistry = registry) -> Subscription:
    """`on(AgreementSigned, allocate)`: run `allocate(session, payload, event)` for each event of that payload
    type (or that event type name); the topic to subscribe to follows from the registry. The type checker
    holds a handler to its payload: one that takes another model than `event` (or a base of it) fails it."""
    et = events.get(event) if isinstance(event, str) else events.for_model(event)
    return Subscription(et.type, et.topic, handler)


def topics_of(subscriptions: Sequence[Subscription]) -> list[str]:
    return sorted({s.topic for s in subscriptions})

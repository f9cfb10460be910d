"""From a Kafka message to a typed payload, or the reason it is poison (dead-lettered at once, never retried)."""

from __future__ import annotations

from collections.abc import Container

from pydantic import BaseModel, ValidationError

from aid_common.bus import IncomingMessage
from aid_common.events import CloudEvent, EventRegistry, InvalidEventData, UnknownEventType


class Poison(Exception):
    """A message no retry can help: not a CloudEvent, from the wrong source, or data that fails its schema."""

    def __init__(self, reason: str, error: str) -> None:
        super().__init__(error)
        self.reason = reason


def decode(
    message: IncomingMessage, *, handled: Container[str], registry: EventRegistry
) -> tuple[CloudEvent | None, BaseModel | None]:
    """The event and its typed payload; (None, None) for a type this service does not handle. Raises Poison."""
    try:
        event = CloudEvent.from_json(message.value)
    except (ValidationError, ValueError) as exc:
        raise Poison("not-a-cloudevent", f"not a CloudEvents JSON message: {exc}") from exc
    if event.type not in handled:
        return None, None
    et = registry.get(event.type)
    if event.source != et.source or message.topic != et.topic:
        # Only the service that owns a topic publishes there, with its own source: a forged or misrouted
        # event (e.g. an agreement "signed" by someone other than the pledges service) is not acted on.
        raise Poison(
            "wrong-source",
            f"{event.type} comes from {et.source} on {et.topic}; this one says {event.source} on {message.topic}",
        )
    try:
        return event, registry.parse(event)
    except (InvalidEventData, UnknownEventType) as exc:
        raise Poison("invalid-data", str(exc)) from exc

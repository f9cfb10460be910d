"""The event envelope (CloudEvents 1.0, structured JSON mode) and the registry of event types.

Every event type is a pydantic payload model registered with its topic; producers build envelopes from
payloads, consumers parse payloads back, and the AsyncAPI document is generated from the same registry.
"""

from __future__ import annotations

import builtins
import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aid_common.context import current_correlation_id, new_traceparent, traceparent

CLOUDEVENTS_CONTENT_TYPE = "application/cloudevents+json"
DEADLETTER_TOPIC = "aid.deadletter.v1"

P = TypeVar("P", bound=BaseModel)


class CloudEvent(BaseModel):
    """A CloudEvents 1.0 envelope with the `correlationid` and `traceparent` extension attributes."""

    model_config = ConfigDict(extra="allow")

    specversion: Literal["1.0"] = "1.0"
    id: str = Field(min_length=1)
    source: str = Field(min_length=1)
    type: str = Field(min_length=1)
    subject: str | None = None
    time: dt.datetime
    datacontenttype: str = "application/json"
    dataschema: str | None = None
    correlationid: str | None = None
    traceparent: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json(exclude_none=True)

    @classmethod
    def from_json(cls, raw: bytes | str) -> CloudEvent:
        return cls.model_validate_json(raw)


@dataclass(frozen=True)
class EventType:
    type: str
    topic: str
    source: str
    payload: builtins.type[BaseModel]  # `type` here is the field above
    summary: str
    key_field: str  # the payload field that is the aggregate id: Kafka key and CloudEvent subject


class UnknownEventType(LookupError):
    pass


class InvalidEventData(ValueError):
    pass


class EventRegistry:
    def __init__(self) -> None:
        self._by_type: dict[str, EventType] = {}
        self._by_model: dict[type[BaseModel], EventType] = {}

    def register(
        self, type_: str, *, topic: str, source: str, key_field: str, summary: str
    ) -> Callable[[type[P]], type[P]]:
        def decorate(model: type[P]) -> type[P]:
            if type_ in self._by_type:
                raise ValueError(f"event type {type_} registered twice")
            if key_field not in model.model_fields:
                raise ValueError(f"{model.__name__} has no key field {key_field!r}")
            et = EventType(type_, topic, source, model, summary, key_field)
            self._by_type[type_] = et
            self._by_model[model] = et
            return model

        return decorate

    def get(self, type_: str) -> EventType:
        try:
            return self._by_type[type_]
        except KeyError:
            raise UnknownEventType(type_) from None

    def for_payload(self, payload: BaseModel) -> EventType:
        return self.for_model(type(payload))

    def for_model(self, model: type[BaseModel]) -> EventType:
        try:
            return self._by_model[model]
        except KeyError:
            raise UnknownEventType(model.__name__) from None

    def on_topics(self, *topics: str) -> list[EventType]:
        return [et for et in self.all() if et.topic in topics]

    def all(self) -> list[EventType]:
        return sorted(self._by_type.values(), key=lambda e: (e.topic, e.type))

    def envelope(self, payload: BaseModel, *, correlation_id: str | None = None) -> tuple[EventType, CloudEvent]:
        """A new CloudEvent for `payload`, carrying the current correlation id and trace."""
        et = self.for_payload(payload)
        key = str(getattr(payload, et.key_field))
        event = CloudEvent(
            id=str(uuid.uuid4()),
            source=et.source,
            type=et.type,
            subject=key,
            time=dt.datetime.now(dt.UTC),
            correlationid=correlation_id or current_correlation_id(),
            traceparent=traceparent.get() or new_traceparent(),
            data=payload.model_dump(mode="json"),
        )
        return et, event

    def parse(self, event: CloudEvent) -> BaseModel:
        et = self.get(event.type)
        try:
            return et.payload.model_validate(event.data)
        except ValidationError as exc:
            raise InvalidEventData(f"{event.type} data does not match its schema: {exc}") from exc


registry = EventRegistry()

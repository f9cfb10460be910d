from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import UtcDateTime, utcnow
from aid_contracts.types import Moment
from aid_notifications.db import Base


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its first attempt (or a retry asked for by hand)
    FAILED = "failed"  # the last attempt failed; another is scheduled at next_attempt_at
    DELIVERED = "delivered"
    DEAD = "dead"  # no attempt left (or the subscription is gone); retry or replay to send again


WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)  # due for an attempt


class SeenEvent(Base):
    """Every event this service consumed, kept (AID_EVENT_RETENTION_DAYS, at least 7) for replays."""

    __tablename__ = "seen_events"

    event_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    type: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)  # the CloudEvent exactly as received, delivered as is
    dimensions: Mapped[dict] = mapped_column(JSON)
    received_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class Delivery(Base):
    """One event for one subscription. The webhook-id is the delivery id: the same across retries and replays,
    so a receiver can drop duplicates."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("subscription_id", "event_id", name="uq_deliveries_subscription_event"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("seen_events.event_id"))
    event_type: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20), index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True, index=True)
    last_attempt_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    last_status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_duration_ms: Mapped[int | None] = mapped_column(Integer, nullable=True)
    delivered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)

    @property
    def webhook_id(self) -> str:
        return webhook_id_of(self.id)


def webhook_id_of(delivery_id: uuid.UUID) -> str:
    return f"msg_{delivery_id.hex}"


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    delivery_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("deliveries.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AttemptRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    number: int
    status_code: int | None
    error: str | None
    duration_ms: int
    created_at: dt.datetime


class RecoverRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Moment = Field(description="re-queue every failed or dead delivery created since then")


class RecoverAccepted(BaseModel):
    subscription_id: uuid.UUID
    since: dt.datetime = Field(description="where it started: never before the subscription existed")
    deliveries: int


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    webhook_id: str
    subscription_id: uuid.UUID
    partner_id: uuid.UUID
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    next_attempt_at: dt.datetime | None
    last_attempt_at: dt.datetime | None
    last_status_code: int | None
    last_error: str | None
    last_duration_ms: int | None = None
    delivered_at: dt.datetime | None
    created_at: dt.datetime


class DeliveryDetail(DeliveryRead):
    history: list[AttemptRead]


class DigestItem(Base):
    """An event waiting for a subscription's next digest (a digest subscription's events, or an immediate
    one's past its daily cap)."""

    __tablename__ = "digest_items"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    event_id: Mapped[str] = mapped_column(ForeignKey("seen_events.event_id"))
    overflow: Mapped[bool] = mapped_column(Boolean, default=False)  # over the daily cap, not a digest by choice
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    # The digest event it went out in (None while it waits).
    digest_event_id: Mapped[str | None] = mapped_column(String(100), nullable=True, index=True)

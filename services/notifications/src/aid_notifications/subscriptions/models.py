from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Literal, Self, cast
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import JSON, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import AnyRow, UtcDateTime, utcnow
from aid_common.events import registry
from aid_contracts.types import CleanText, CountryCode, Moment, Sector
from aid_notifications.db import Base


class SubscriptionStatus(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


class Subscription(Base):
    __tablename__ = "subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    description: Mapped[str | None] = mapped_column(String(500), nullable=True)
    event_types: Mapped[list[str]] = mapped_column(JSON)
    countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    sectors: Mapped[list[str]] = mapped_column(JSON, default=list)
    appeals: Mapped[list[str]] = mapped_column(JSON, default=list)
    status: Mapped[str] = mapped_column(String(20), index=True)
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Alerts without noise (digests/): "immediate" or "digest"; a digest's period, hour and time zone; coverage
    # levels that an aid.project.funding_updated must cross to be sent; immediate webhooks a day at most.
    delivery: Mapped[str] = mapped_column(String(20), default="immediate")
    digest_every: Mapped[str | None] = mapped_column(String(4), nullable=True)
    digest_at: Mapped[str | None] = mapped_column(String(5), nullable=True)
    digest_timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    thresholds: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_per_day: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # Webhook requests to this URL at once, at most (None: AID_DELIVERY_PER_SUBSCRIPTION); the partner's cap holds.
    max_in_flight: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # The audiences (aid_common.visibility) whose events it may carry: those of the caller who set its types.
    entitled: Mapped[list[str]] = mapped_column(JSON, default=lambda: ["public"])
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


# A subscription as its ORM object or as a plain row of its columns (a fan-out reads thousands that way).
SubscriptionLike = Subscription | AnyRow


class SigningSecret(Base):
    """A subscription's signing secrets: the current one, and after a rotation the previous one until it expires."""

    __tablename__ = "signing_secrets"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("subscriptions.id"), index=True)
    sealed: Mapped[str] = mapped_column(Text)  # encrypted with AID_WEBHOOK_SECRETS_KEY
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)


def _event_type_pattern(value: str) -> str:
    known = [et.type for et in registry.all()]
    if value.endswith("*"):
        prefix = value[:-1]
        if "*" in prefix or not any(t.startswith(prefix) for t in known):
            raise ValueError(f"{value!r} matches no event type; known types: {', '.join(known)}")
    elif value not in known:
        raise ValueError(f"{value!r} is not an event type; known types: {', '.join(known)}")
    return value


class Filter(BaseModel):
    """Every dimension given must match (AND across dimensions); within one, any value matches (OR)."""

    model_config = ConfigDict(extra="forbid")

    countries: list[CountryCode] = Field(default_factory=list, max_length=250)
    sectors: list[Sector] = Field(default_factory=list, max_length=50)
    appeals: list[str] = Field(default_factory=list, max_length=50)


class DeliveryMode(StrEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"


DigestEvery = Literal["1h", "1d"]


class Digest(BaseModel):
    """One signed webhook per period (`aid.digest`), sent only when there is something in it."""

    model_config = ConfigDict(extra="forbid")

    every: DigestEvery = "1d"
    at: str | None = Field(default=None, pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="for 1d: HH:MM")
    timezone: str = Field(default="UTC", max_length=64, examples=["Asia/Kuwait"])

    @field_validator("timezone")
    @classmethod
    def _iana(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"{value!r} is not an IANA time zone (e.g. Asia/Kuwait, Africa/Khartoum)") from None
        return value


MAX_IN_FLIGHT = 64  # a subscription's own cap may not ask for more
Threshold = Annotated[Decimal, Field(gt=0, le=10, max_digits=6, decimal_places=4, allow_inf_nan=False)]


class NoiseControls(BaseModel):
    """How often a subscription speaks, and how many requests its endpoint takes at once (shared by create and
    update)."""

    delivery: DeliveryMode | None = None
    digest: Digest | None = None
    thresholds: list[Threshold] | None = Field(
        default=None,
        max_length=20,
        description="coverage levels (e.g. 0.5, 1): an aid.project.funding_updated is sent only when it crosses one",
    )
    max_per_day: int | None = Field(
        default=None, ge=1, le=100_000, description="immediate webhooks a day at most; the rest go in the next digest"
    )
    max_in_flight: int | None = Field(
        default=None,
        ge=1,
        le=MAX_IN_FLIGHT,
        description="webhook requests to this URL at once, at most: 1 for an endpoint that takes one at a time, more "
        "for one that keeps up with a busy stream (default: the server's AID_DELIVERY_PER_SUBSCRIPTION, 4; the "
        "server's per-partner cap, AID_DELIVERY_PER_PARTNER, still applies)",
    )


class SubscriptionCreate(NoiseControls):
    model_config = ConfigDict(extra="forbid")

    partner_id: uuid.UUID
    url: AnyHttpUrl = Field(examples=["https://partner.example.org/hooks/crisisaid"])
    event_types: list[str] = Field(min_length=1, max_length=50, examples=[["aid.project.funding_updated"]])
    filter: Filter = Field(default_factory=Filter)
    description: CleanText | None = Field(default=None, max_length=500)

    @field_validator("event_types")
    @classmethod
    def _types(cls, values: list[str]) -> list[str]:
        return sorted({_event_type_pattern(v) for v in values})


class SubscriptionUpdate(NoiseControls):
    model_config = ConfigDict(extra="forbid")

    url: AnyHttpUrl | None = None
    event_types: list[str] | None = Field(default=None, min_length=1, max_length=50)
    filter: Filter | None = None
    description: CleanText | None = Field(default=None, max_length=500)
    status: SubscriptionStatus | None = Field(default=None, description="re-enable a disabled subscription")

    @field_validator("event_types")
    @classmethod
    def _types(cls, values: list[str] | None) -> list[str] | None:
        return None if values is None else sorted({_event_type_pattern(v) for v in values})


class SubscriptionRead(BaseModel):
    id: uuid.UUID
    partner_id: uuid.UUID
    url: str
    description: str | None
    event_types: list[str]
    filter: Filter
    status: SubscriptionStatus
    disabled_reason: str | None
    delivery: DeliveryMode
    digest: Digest | None
    thresholds: list[str]
    max_per_day: int | None
    max_in_flight: int | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @classmethod
    def of(cls, s: Subscription, **extra: Any) -> Self:
        return cls(
            **extra,
            id=s.id,
            partner_id=s.partner_id,
            url=s.url,
            description=s.description,
            event_types=s.event_types,
            filter=Filter(countries=s.countries, sectors=[Sector(x) for x in s.sectors], appeals=s.appeals),
            status=SubscriptionStatus(s.status),
            disabled_reason=s.disabled_reason,
            delivery=DeliveryMode(s.delivery),
            digest=(
                Digest(every=cast(DigestEvery, s.digest_every), at=s.digest_at, timezone=s.digest_timezone)
                if s.digest_every
                else None
            ),
            thresholds=s.thresholds or [],
            max_per_day=s.max_per_day,
            max_in_flight=s.max_in_flight,
            created_at=s.created_at,
            updated_at=s.updated_at,
        )


class SubscriptionCreated(SubscriptionRead):
    secret: str = Field(description="the signing secret (whsec_…); shown only now — store it")

    @classmethod
    def of(cls, s: Subscription, *, secret: str) -> Self:  # type: ignore[override]
        return super().of(s, secret=secret)


class ReplayRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: Moment = Field(description="replay every matching event received since then (kept ≥ 7 days)")


class ReplayAccepted(BaseModel):
    subscription_id: uuid.UUID
    since: dt.datetime
    deliveries: int

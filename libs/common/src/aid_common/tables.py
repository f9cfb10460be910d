"""The platform tables every service database holds: outbox, inbox, idempotency keys, rate-limit counters."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import DDL, JSON, Index, Integer, String, Text, event, text
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import BigIntPK, PlatformBase, UtcDateTime, utcnow

OUTBOX_CHANNEL = "aid_outbox"


class OutboxMessage(PlatformBase):
    """An event written in the same transaction as the state change it reports; the relay publishes it."""

    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[uuid.UUID] = mapped_column(unique=True)
    topic: Mapped[str] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(String(200))
    event_type: Mapped[str] = mapped_column(String(200))
    payload: Mapped[str] = mapped_column(Text)  # the CloudEvent, serialized once, published byte for byte
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    published_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)

    __table_args__ = (
        Index(
            "ix_outbox_pending",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
        Index(
            "ix_outbox_key_pending",
            "key",
            "id",
            postgresql_where=text("published_at IS NULL"),
            sqlite_where=text("published_at IS NULL"),
        ),
    )


class InboxMessage(PlatformBase):
    """One row per (consumer, event) handled; written in the handler's transaction, so effects happen once."""

    __tablename__ = "inbox"

    consumer: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(200))
    handled_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class IdempotencyRecord(PlatformBase):
    """The first answer to a POST carrying an Idempotency-Key, scoped to the caller."""

    __tablename__ = "idempotency_keys"

    caller: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    endpoint: Mapped[str] = mapped_column(String(300))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int | None] = mapped_column(Integer, nullable=True)  # None while in progress
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


# Wake relays on commit (NOTIFY is delivered at commit) instead of making them poll.
NOTIFY_FUNCTION = DDL(
    f"""
CREATE OR REPLACE FUNCTION aid_outbox_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('{OUTBOX_CHANNEL}', '');
  RETURN NULL;
END;
$$ LANGUAGE plpgsql
"""
)
NOTIFY_TRIGGER = DDL(
    "CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION aid_outbox_notify()"
)
event.listen(OutboxMessage.__table__, "after_create", NOTIFY_FUNCTION.execute_if(dialect="postgresql"))
event.listen(OutboxMessage.__table__, "after_create", NOTIFY_TRIGGER.execute_if(dialect="postgresql"))


class RateLimitCounter(PlatformBase):
    """A fixed-window counter of the rate limits (`aid_common.rate_limits`), shared by every replica."""

    __tablename__ = "rate_limit_counters"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)


def create_rate_limit_table(op: Any) -> None:
    """For the migration that added it (databases whose first migration already made it are left as they are)."""
    from sqlalchemy import inspect

    bind = op.get_bind()
    if not inspect(bind).has_table(RateLimitCounter.__tablename__):
        RateLimitCounter.__table__.create(bind)


def create_platform_tables(op: Any) -> None:
    """For each service's first Alembic migration: the platform tables and the NOTIFY trigger."""
    bind = op.get_bind()
    PlatformBase.metadata.create_all(bind)


def drop_platform_tables(op: Any) -> None:
    bind = op.get_bind()
    PlatformBase.metadata.drop_all(bind)
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS aid_outbox_notify()")

"""A tiny sample domain for testing the shared machinery: its own event registry, table and handler."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from pydantic import BaseModel
from sqlalchemy import String, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from aid_common.db import Amount, BigIntPK, UtcDateTime, new_metadata
from aid_common.events import CloudEvent, EventRegistry

TOPIC = "test.things.v1"
events = EventRegistry()


@events.register("test.thing.happened", topic=TOPIC, source="/tests", key_field="thing_id", summary="A thing")
class ThingHappened(BaseModel):
    thing_id: str
    seq: int
    amount: Decimal
    name: str


class SampleBase(DeclarativeBase):
    metadata = new_metadata()


class Effect(SampleBase):
    __tablename__ = "effects"
    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)
    event_id: Mapped[str] = mapped_column(String(64))
    thing_id: Mapped[str] = mapped_column(String(64))
    amount: Mapped[Decimal] = mapped_column(Amount(2))
    name: Mapped[str] = mapped_column(String(200))


class Thing(SampleBase):
    """A row written through a route, for the unit-of-work, idempotency and pagination tests."""

    __tablename__ = "things"
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=lambda: dt.datetime.now(dt.UTC))


async def count_things(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Thing))).scalar_one()


async def record_effect(session: AsyncSession, payload: ThingHappened, event: CloudEvent) -> None:
    session.add(Effect(event_id=event.id, thing_id=payload.thing_id, amount=payload.amount, name=payload.name))


async def count_effects(session: AsyncSession) -> int:
    return (await session.execute(select(func.count()).select_from(Effect))).scalar_one()


def thing_event(thing_id: str = "t-1", seq: int = 1, name: str = "هلال أحمر 🌙") -> CloudEvent:
    _, ev = events.envelope(ThingHappened(thing_id=thing_id, seq=seq, amount=Decimal("1250000.10"), name=name))
    return ev


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_id() -> str:
    return str(uuid.uuid4())

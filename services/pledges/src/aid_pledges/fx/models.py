from __future__ import annotations

import datetime as dt
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Date, String
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import Amount, UtcDateTime, utcnow
from aid_contracts.types import Rate
from aid_pledges.db import Base


class FxRate(Base):
    """USD per unit of `currency` from `valid_from` until the next rate of that currency."""

    __tablename__ = "fx_rates"

    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    valid_from: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    usd_per_unit: Mapped[Decimal] = mapped_column(Amount(10, 24))
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class FxRatePut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    usd_per_unit: Rate = Field(description="USD for one unit of the currency, up to 10 decimal places")
    valid_from: dt.date


class FxRateRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    currency: str
    usd_per_unit: Rate
    valid_from: dt.date

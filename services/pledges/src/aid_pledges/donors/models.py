from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import UtcDateTime, utcnow
from aid_contracts.types import CleanText, CountryCode, Names
from aid_pledges.db import Base


class DonorKind(StrEnum):
    GOVERNMENT = "government"
    POOLED_FUND = "pooled_fund"
    DEVELOPMENT_BANK = "development_bank"
    NATIONAL_SOCIETY = "national_society"
    UN_AGENCY = "un_agency"
    PRIVATE = "private"
    NGO = "ngo"
    INTERGOVERNMENTAL = "intergovernmental"
    OTHER = "other"


class Donor(Base):
    __tablename__ = "donors"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(300))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    kind: Mapped[str] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True, index=True)  # unknown for some FTS names
    # An organisation OCHA FTS names: its FTS id and organisation types (government, UN agency, NGO, …).
    fts_org_id: Mapped[str | None] = mapped_column(String(20), nullable=True, unique=True)
    fts_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class DonorCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CleanText = Field(min_length=1, max_length=300, examples=["State of Kuwait"])
    kind: DonorKind
    country: CountryCode
    names: Names = Field(default_factory=dict, examples=[{"ar": "دولة الكويت"}])


class DonorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    names: dict[str, str]
    kind: DonorKind
    country: str | None
    fts_org_id: str | None = None
    created_at: dt.datetime

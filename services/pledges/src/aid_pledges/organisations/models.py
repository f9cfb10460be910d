"""Organisations in every role they play. One row per organisation, whatever it does: a government that gives, a
UN agency that receives and passes money on, a pooled fund, a Red Crescent society with a partner account. Its id
is the organisation's id in every service (a partner account has the same id)."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, Boolean, String
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import UtcDateTime, utcnow
from aid_contracts.types import CleanText, CountryCode, Names
from aid_pledges.db import Base


class OrganisationKind(StrEnum):
    GOVERNMENT = "government"
    POOLED_FUND = "pooled_fund"
    DEVELOPMENT_BANK = "development_bank"
    NATIONAL_SOCIETY = "national_society"
    UN_AGENCY = "un_agency"
    PRIVATE = "private"
    NGO = "ngo"
    INTERGOVERNMENTAL = "intergovernmental"
    OTHER = "other"


class Role(StrEnum):
    DONOR = "donor"
    RECIPIENT = "recipient"
    IMPLEMENTING_PARTNER = "implementing_partner"
    POOLED_FUND = "pooled_fund"


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(300))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    kind: Mapped[str] = mapped_column(String(40))
    country: Mapped[str | None] = mapped_column(String(2), nullable=True, index=True)  # unknown for some FTS names
    # An organisation OCHA FTS names: its FTS id and organisation types (government, UN agency, NGO, …).
    fts_org_id: Mapped[str | None] = mapped_column(String(20), nullable=True, unique=True)
    fts_types: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Its roles, one column each: filtered the same way on PostgreSQL and SQLite, and indexed where lists are asked for.
    is_donor: Mapped[bool] = mapped_column(Boolean, default=False, index=True)
    is_recipient: Mapped[bool] = mapped_column(Boolean, default=False)
    is_implementing_partner: Mapped[bool] = mapped_column(Boolean, default=False)
    is_pooled_fund: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)

    @property
    def roles(self) -> list[Role]:
        return [r for r in Role if getattr(self, f"is_{r.value}")]

    def plays(self, role: Role) -> bool:
        return bool(getattr(self, f"is_{role.value}"))

    def grant(self, *roles: Role) -> bool:
        """Add roles; True when that changed anything."""
        new = [r for r in roles if not self.plays(r)]
        for r in new:
            setattr(self, f"is_{r.value}", True)
        return bool(new)


class OrganisationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CleanText = Field(min_length=1, max_length=300, examples=["Kuwait Red Crescent Society"])
    names: Names = Field(default_factory=dict, examples=[{"ar": "جمعية الهلال الأحمر الكويتي"}])
    kind: OrganisationKind
    country: CountryCode | None = None
    roles: list[Role] = Field(min_length=1, max_length=4, examples=[["donor", "implementing_partner"]])


class OrganisationUpdate(BaseModel):
    """Names, country, and roles added: a role once played is never taken away (agreements and projects name it)."""

    model_config = ConfigDict(extra="forbid")

    name: CleanText | None = Field(default=None, min_length=1, max_length=300)
    names: Names | None = None
    country: CountryCode | None = None
    add_roles: list[Role] | None = Field(default=None, min_length=1, max_length=4)

    @model_validator(mode="after")
    def _something(self) -> OrganisationUpdate:
        if all(v is None for v in (self.name, self.names, self.country, self.add_roles)):
            raise ValueError("nothing to change: give name, names, country or add_roles")
        return self


class OrganisationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    names: dict[str, str]
    kind: OrganisationKind
    country: str | None
    roles: list[Role]
    fts_org_id: str | None = None
    fts_types: list[str] = []
    created_at: dt.datetime

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import Amount, UtcDateTime, utcnow
from aid_contracts.projects import PartnerRole
from aid_contracts.types import CleanText, CountryCode, Money, Names, Sector
from aid_projects.appeals.models import Code
from aid_projects.db import Base
from aid_projects.money import Figures
from aid_projects.partners.models import PartnerIn


class ProjectStatus(StrEnum):
    PLANNED = "planned"
    ACTIVE = "active"
    CLOSED = "closed"


class Project(Base):
    __tablename__ = "projects"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    country: Mapped[str] = mapped_column(String(2), index=True)
    region: Mapped[str | None] = mapped_column(String(200), nullable=True)
    sector: Mapped[str] = mapped_column(String(40), index=True)
    appeal: Mapped[str | None] = mapped_column(String(50), nullable=True, index=True)
    pillar: Mapped[str | None] = mapped_column(String(50), nullable=True)
    requirements_usd: Mapped[Decimal] = mapped_column(Amount(2))
    funded_usd: Mapped[Decimal] = mapped_column(Amount(2), default=Decimal("0.00"))
    received_usd: Mapped[Decimal] = mapped_column(Amount(2), default=Decimal("0.00"))
    status: Mapped[str] = mapped_column(String(20), index=True)
    partners: Mapped[list[dict]] = mapped_column(JSON, default=list)
    fully_funded_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    @property
    def gap_usd(self) -> Decimal:
        return max(self.requirements_usd - self.funded_usd, Decimal("0.00"))

    @property
    def overfunded(self) -> bool:
        return self.funded_usd > self.requirements_usd

    def facts(self) -> dict[str, Any]:
        """The fields every project event carries (ProjectFacts), so a subscriber never has to call back."""
        return {
            "project_id": self.id,
            "code": self.code,
            "title": self.title,
            "names": self.names,
            "country": self.country,
            "region": self.region,
            "sector": self.sector,
            "appeal": self.appeal,
            "pillar": self.pillar,
            "requirements_usd": self.requirements_usd,
        }


class ProjectRevision(Base):
    """Append-only: what a project needed and its status from `created_at` on, so figures can be read as of any
    moment without snapshots."""

    __tablename__ = "project_revisions"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), index=True)
    requirements_usd: Mapped[Decimal] = mapped_column(Amount(2))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class ProjectCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Code
    title: CleanText = Field(min_length=1, max_length=500)
    names: Names = Field(default_factory=dict)
    country: CountryCode
    region: str | None = Field(default=None, min_length=1, max_length=200, examples=["north-west Syria"])
    sector: Sector
    appeal: str | None = Field(default=None, min_length=1, max_length=50)
    pillar: str | None = Field(default=None, min_length=1, max_length=50)
    requirements_usd: Money = Field(gt=0, decimal_places=2)
    status: ProjectStatus = ProjectStatus.ACTIVE
    partners: list[PartnerIn] = Field(default_factory=list, max_length=50)

    @model_validator(mode="after")
    def _pillar_needs_appeal(self) -> ProjectCreate:
        if self.pillar and not self.appeal:
            raise ValueError("a project in a pillar names its appeal too")
        return self


class ProjectUpdate(BaseModel):
    """Change what a project needs or its status; activating a project lets it draw from matching pools."""

    model_config = ConfigDict(extra="forbid")

    title: CleanText | None = Field(default=None, min_length=1, max_length=500)
    names: Names | None = None
    requirements_usd: Money | None = Field(default=None, gt=0, decimal_places=2)
    status: ProjectStatus | None = None
    partners: list[PartnerIn] | None = Field(default=None, max_length=50)


class ProjectRead(Figures):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    code: str
    title: str
    names: dict[str, str]
    country: str
    region: str | None
    sector: str
    appeal: str | None
    pillar: str | None
    status: ProjectStatus
    partners: list[PartnerRole]
    pledged_usd: Money = Field(description="announced agreements naming this project, not yet signed: not funding")
    overfunded: bool
    fully_funded_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime


class ProjectPartner(Base):
    """One partner account's role in one project: what `GET /v1/projects?partner_id=` and a partner's right to
    change a project are read from (the project's `partners` list is what it shows)."""

    __tablename__ = "project_partners"

    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), primary_key=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(primary_key=True, index=True)
    role: Mapped[str] = mapped_column(String(20), primary_key=True)

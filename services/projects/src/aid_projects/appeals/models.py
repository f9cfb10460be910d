from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import JSON, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from aid_common.db import Amount, UtcDateTime, utcnow
from aid_contracts.types import CleanText, Money, Names
from aid_projects.db import Base
from aid_projects.money import Figures

Code = Field(min_length=1, max_length=50, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")


class Appeal(Base):
    __tablename__ = "appeals"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    code: Mapped[str] = mapped_column(String(50), unique=True)
    title: Mapped[str] = mapped_column(String(500))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    year: Mapped[int] = mapped_column(Integer)
    # An OCHA FTS plan: its id (flows name plans by it) and type ("Humanitarian response plan", "Regional", …).
    fts_plan_id: Mapped[str | None] = mapped_column(String(20), nullable=True, unique=True)
    plan_type: Mapped[str | None] = mapped_column(String(100), nullable=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    pillars: Mapped[list[Pillar]] = relationship(
        back_populates="appeal", order_by="Pillar.position", lazy="selectin", cascade="all, delete-orphan"
    )


class Pillar(Base):
    __tablename__ = "pillars"
    __table_args__ = (UniqueConstraint("appeal_id", "code", name="uq_pillars_appeal_code"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    appeal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appeals.id"), index=True)
    code: Mapped[str] = mapped_column(String(50))
    title: Mapped[str] = mapped_column(String(500))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    requirements_usd: Mapped[Decimal] = mapped_column(Amount(2))
    position: Mapped[int] = mapped_column(Integer)
    appeal: Mapped[Appeal] = relationship(back_populates="pillars")


class PlanRequirement(Base):
    """What a plan requires in one country (`cluster` empty: the plan as a whole), and the funding FTS published
    beside it (kept to compare with the platform's own figure, never used for it). A regional plan holds one row
    per country, its share."""

    __tablename__ = "plan_requirements"
    __table_args__ = (UniqueConstraint("appeal_id", "country", "cluster", name="uq_plan_requirements_row"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    appeal_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("appeals.id"), index=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    cluster: Mapped[str] = mapped_column(String(100), default="")
    cluster_name: Mapped[str] = mapped_column(String(300), default="")
    requirements_usd: Mapped[Decimal | None] = mapped_column(Amount(2), nullable=True)
    published_funding_usd: Mapped[Decimal | None] = mapped_column(Amount(2), nullable=True)


class PillarCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Code
    title: CleanText = Field(min_length=1, max_length=500)
    names: Names = Field(default_factory=dict)
    requirements_usd: Money = Field(gt=0, decimal_places=2)


class AppealCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Code
    title: CleanText = Field(min_length=1, max_length=500, examples=["IOM Global Appeal 2024"])
    names: Names = Field(default_factory=dict)
    year: int = Field(ge=1990, le=2100)
    pillars: list[PillarCreate] = Field(min_length=1, max_length=50)

    @field_validator("pillars")
    @classmethod
    def _unique_codes(cls, pillars: list[PillarCreate]) -> list[PillarCreate]:
        codes = [p.code for p in pillars]
        if len(set(codes)) != len(codes):
            raise ValueError("pillar codes must be unique within an appeal")
        return pillars


class AppealUpdate(BaseModel):
    """What may change once an appeal is launched: its title and names (its pillars' requirements are what the
    figures of every past moment are measured against, so they stay)."""

    model_config = ConfigDict(extra="forbid")

    title: CleanText | None = Field(default=None, min_length=1, max_length=500)
    names: Names | None = None


class PillarRead(Figures):
    code: str
    title: str
    names: dict[str, str]


class AppealRead(Figures):
    id: uuid.UUID
    code: str
    title: str
    names: dict[str, str]
    year: int
    pillars: list[PillarRead]
    created_at: dt.datetime

"""The funding ledger: what this service knows of each agreement, what each project holds of it, and the
append-only entries that got it there."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import JSON, Date, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import Amount, UtcDateTime, utcnow
from aid_contracts.pledges import Earmark
from aid_contracts.types import Money, Sector
from aid_projects.db import Base
from aid_projects.money import Figures


class EntryKind(StrEnum):
    ALLOCATION = "allocation"
    REVERSAL = "reversal"


class AgreementFunds(Base):
    """An agreement as the projects service sees it, with the part of it no project holds (its pool balance)."""

    __tablename__ = "agreement_funds"

    agreement_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(100))
    donor: Mapped[dict] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20))
    amount_usd: Mapped[Decimal] = mapped_column(Amount(2))
    received_usd: Mapped[Decimal] = mapped_column(Amount(2), default=Decimal("0.00"))
    earmark_project_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True, index=True)
    earmark_country: Mapped[str | None] = mapped_column(String(2), nullable=True)
    earmark_sector: Mapped[str | None] = mapped_column(String(40), nullable=True)
    earmark_appeal: Mapped[str | None] = mapped_column(String(50), nullable=True)
    earmark_pillar: Mapped[str | None] = mapped_column(String(50), nullable=True)
    pool_key: Mapped[str] = mapped_column(String(200), index=True)
    pool_usd: Mapped[Decimal] = mapped_column(Amount(2), default=Decimal("0.00"))
    # Of the money received on this agreement, the part not attributed to a project (it waits in the pool).
    pool_received_usd: Mapped[Decimal] = mapped_column(Amount(2), default=Decimal("0.00"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    @property
    def earmark(self) -> Earmark:
        return earmark_of(
            self.earmark_project_id, self.earmark_country, self.earmark_sector, self.earmark_appeal, self.earmark_pillar
        )


EARMARK_COLUMNS = (
    AgreementFunds.earmark_project_id,
    AgreementFunds.earmark_country,
    AgreementFunds.earmark_sector,
    AgreementFunds.earmark_appeal,
    AgreementFunds.earmark_pillar,
)


def earmark_of(
    project_id: uuid.UUID | None, country: str | None, sector: str | None, appeal: str | None, pillar: str | None
) -> Earmark:
    """An agreement's earmark from its `EARMARK_COLUMNS`."""
    return Earmark(
        project_id=project_id,
        country=country,
        sector=Sector(sector) if sector else None,
        appeal=appeal,
        pillar=pillar,
    )


class Share(Base):
    """What one project holds of one agreement now (the sum of its ledger entries), and how much of that was
    received."""

    __tablename__ = "shares"

    agreement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agreement_funds.agreement_id"), primary_key=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), primary_key=True, index=True)
    allocated_usd: Mapped[Decimal] = mapped_column(Amount(2), default=Decimal("0.00"))
    received_usd: Mapped[Decimal] = mapped_column(Amount(2), default=Decimal("0.00"))


class LedgerEntry(Base):
    """Append-only. A reversal carries a negative amount; nothing here is ever updated or deleted."""

    __tablename__ = "ledger_entries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id"), index=True)
    agreement_id: Mapped[uuid.UUID] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(20))
    amount_usd: Mapped[Decimal] = mapped_column(Amount(2))
    event_id: Mapped[str] = mapped_column(String(100))
    correlation_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    # the day the money moved (signed, amended, cancelled, received); created_at: when it was recorded
    effective_on: Mapped[dt.date] = mapped_column(Date, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class PoolEntry(Base):
    """Append-only: every change of an agreement's pool balance, so a pool can be read as of any moment."""

    __tablename__ = "pool_entries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agreement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agreement_funds.agreement_id"), index=True)
    amount_usd: Mapped[Decimal] = mapped_column(Amount(2))
    # the day the money moved (signed, amended, cancelled, received); created_at: when it was recorded
    effective_on: Mapped[dt.date] = mapped_column(Date, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class ReceivedEntry(Base):
    """Append-only: every change of the money received attributed to a project (or, project_id NULL, waiting
    in the agreement's pool)."""

    __tablename__ = "received_entries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agreement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agreement_funds.agreement_id"), index=True)
    project_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("projects.id"), nullable=True, index=True)
    amount_usd: Mapped[Decimal] = mapped_column(Amount(2))
    # the day the money moved (signed, amended, cancelled, received); created_at: when it was recorded
    effective_on: Mapped[dt.date] = mapped_column(Date, index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class PlanRowEntry(Base):
    """Append-only: what an agreement moves in a country's plan x cluster table (`plan_rows`), as of the day the
    money moved (`effective_on`: signed, amended, cancelled) and recorded at `recorded_at`. An agreement's rows
    are the sum of its entries; a change writes the difference, so every earlier answer can be read again."""

    __tablename__ = "plan_row_entries"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agreement_id: Mapped[uuid.UUID] = mapped_column(index=True)
    country: Mapped[str] = mapped_column(String(2), index=True)
    plan: Mapped[str | None] = mapped_column(String(50), nullable=True)
    cluster: Mapped[str] = mapped_column(String(100))
    amount_usd: Mapped[Decimal] = mapped_column(Amount(2))
    effective_on: Mapped[dt.date] = mapped_column(Date, index=True)
    recorded_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    event_id: Mapped[str] = mapped_column(String(100))


class LedgerEntryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    project_id: uuid.UUID
    agreement_id: uuid.UUID
    amount_usd: Money
    kind: EntryKind
    event_id: str
    correlation_id: str | None
    effective_on: dt.date = Field(description="the day the money moved (the agreement's signing, amendment, …)")
    created_at: dt.datetime = Field(description="when this service recorded it")


class AgreementShareRead(BaseModel):
    project_id: uuid.UUID
    code: str
    title: str
    names: dict[str, str]
    allocated_usd: Money = Field(description="what the project holds of the agreement now")
    received_usd: Money = Field(description="of the money received on the agreement, the project's part")


class AgreementFundingRead(BaseModel):
    agreement_id: uuid.UUID
    amount_usd: Money = Field(description="the agreement's signed amount as this service holds it (0 while pledged)")
    pool_usd: Money = Field(description="the part waiting in a pool for a project with a gap")
    pool_received_usd: Money = Field(description="of the money received, the part waiting in the pool")
    shares: list[AgreementShareRead] = Field(description="the projects it funds, the largest share first")


class PoolRead(BaseModel):
    pool_key: str
    earmark: Earmark
    balance_usd: Money = Field(description="signed money on this earmark that no project holds yet")
    received_usd: Money = Field(description="of the money received, the part waiting in this pool")
    agreements: int
    waiting_because: str = Field(description="why no project has taken it yet")


class _Keyed(BaseModel):
    key: str = Field(description="the country, the sector, APPEAL/PILLAR, the appeal, or `all`")


class CoverageRow(Figures, _Keyed):  # the key first, then the figures
    pass


class AllocationPreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount_usd: Money = Field(gt=0, decimal_places=2)
    earmark: Earmark = Field(default_factory=Earmark)


class PreviewLine(BaseModel):
    project_id: uuid.UUID
    code: str
    amount_usd: Money
    gap_before_usd: Money
    gap_after_usd: Money
    fully_funded: bool = Field(description="this allocation would make the project fully funded")


class AllocationPreview(BaseModel):
    projects: list[PreviewLine]
    pool_usd: Money = Field(description="what no matching project could take: it would wait in the pool")


class PlanClusterRow(BaseModel):
    """A row of a country's plan x cluster table, as FTS publishes it: the plan (null: money to the country outside
    every plan), the cluster as FTS names it (or "Not specified", "Multiple clusters/sectors (shared)"), what the
    plan requires there, and the funding computed from this platform's own ledger."""

    plan_code: str | None
    plan_name: str | None
    cluster: str
    requirements_usd: Money | None
    funding_usd: Money
    published_funding_usd: Money | None = Field(
        default=None, description="what FTS published for the row, when an imported table carried it"
    )

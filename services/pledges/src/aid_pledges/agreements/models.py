from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import Amount, BigIntPK, UtcDateTime, utcnow
from aid_contracts.pledges import Earmark, FlowRoute
from aid_contracts.types import CleanText, CurrencyCode, Money, Rate, Sector, in_currency
from aid_pledges.db import Base


class Status(StrEnum):
    PLEDGED = "pledged"
    SIGNED = "signed"
    CANCELLED = "cancelled"


class Agreement(Base):
    __tablename__ = "agreements"
    __table_args__ = (UniqueConstraint("donor_id", "reference", name="uq_agreements_donor_reference"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    donor_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("organisations.id"), index=True)
    # The organisation that receives the money, when known (an imported flow's first destination organisation).
    recipient_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("organisations.id"), nullable=True, index=True)
    reference: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(20), index=True)
    amount: Mapped[Decimal] = mapped_column(Amount(4))
    currency: Mapped[str] = mapped_column(String(3))
    fx_rate: Mapped[Decimal] = mapped_column(Amount(10, 24))
    amount_usd: Mapped[Decimal] = mapped_column(Amount(2))
    disbursed_usd: Mapped[Decimal] = mapped_column(Amount(2), default=Decimal("0.00"))
    earmark_project_id: Mapped[uuid.UUID | None] = mapped_column(nullable=True)
    earmark_country: Mapped[str | None] = mapped_column(String(2), nullable=True, index=True)
    earmark_sector: Mapped[str | None] = mapped_column(String(40), nullable=True, index=True)
    earmark_appeal: Mapped[str | None] = mapped_column(String(50), nullable=True)
    earmark_pillar: Mapped[str | None] = mapped_column(String(50), nullable=True)
    pledged_on: Mapped[dt.date] = mapped_column(Date)
    signed_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    cancelled_on: Mapped[dt.date | None] = mapped_column(Date, nullable=True)
    cancel_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    # An imported OCHA FTS flow: its id and version (a higher version amends it), and its route (FlowRoute).
    fts_flow_id: Mapped[str | None] = mapped_column(String(20), nullable=True, unique=True)
    fts_version: Mapped[int | None] = mapped_column(nullable=True)
    route: Mapped[dict | None] = mapped_column(JSON, nullable=True)
    fts: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # FtsDetails
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)

    @property
    def flow_route(self) -> FlowRoute | None:
        return FlowRoute.model_validate(self.route) if self.route is not None else None

    @property
    def earmark(self) -> Earmark:
        return Earmark(
            project_id=self.earmark_project_id,
            country=self.earmark_country,
            sector=Sector(self.earmark_sector) if self.earmark_sector else None,
            appeal=self.earmark_appeal,
            pillar=self.earmark_pillar,
        )


class Disbursement(Base):
    __tablename__ = "disbursements"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    agreement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agreements.id"), index=True)
    amount: Mapped[Decimal] = mapped_column(Amount(4))
    currency: Mapped[str] = mapped_column(String(3))
    fx_rate: Mapped[Decimal] = mapped_column(Amount(10, 24))
    amount_usd: Mapped[Decimal] = mapped_column(Amount(2))
    received_on: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class HistoryAction(StrEnum):
    CREATED = "created"
    SIGNED = "signed"
    AMENDED = "amended"
    CANCELLED = "cancelled"
    DISBURSEMENT = "disbursement"


class AgreementHistory(Base):
    """Append-only: what happened to an agreement, who did it (the token's subject) and under which correlation
    id."""

    __tablename__ = "agreement_history"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True, autoincrement=True)  # the order things happened in
    agreement_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agreements.id"), index=True)
    action: Mapped[str] = mapped_column(String(20))
    actor: Mapped[str] = mapped_column(String(200))
    correlation_id: Mapped[str | None] = mapped_column(String(128), nullable=True)
    details: Mapped[dict] = mapped_column(JSON, default=dict)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class HistoryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    at: dt.datetime
    action: HistoryAction
    actor: str
    correlation_id: str | None
    details: dict = Field(description="what changed: e.g. old and new amounts for an amendment")


class EarmarkIn(Earmark):
    model_config = ConfigDict(extra="forbid")

    appeal: str | None = Field(default=None, min_length=1, max_length=50)
    pillar: str | None = Field(default=None, min_length=1, max_length=50)

    @model_validator(mode="after")
    def _one_level(self) -> EarmarkIn:
        if self.project_id and any((self.country, self.sector, self.appeal, self.pillar)):
            raise ValueError("an earmark to a project names only the project_id")
        if self.pillar and not self.appeal:
            raise ValueError("an earmark to a pillar names its appeal too")
        return self


class AgreementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    donor_id: uuid.UUID
    reference: CleanText = Field(min_length=1, max_length=100, examples=["KW-IOM-2024-001"])
    title: CleanText = Field(min_length=1, max_length=500)
    amount: Money = Field(gt=0)
    currency: CurrencyCode
    status: Status = Status.PLEDGED
    pledged_on: dt.date | None = Field(
        default=None, description="when it was announced (may be back-dated); today if omitted"
    )
    signed_on: dt.date | None = Field(default=None, description="when status is signed; today if omitted")
    earmark: EarmarkIn = Field(default_factory=EarmarkIn)
    recipient_id: uuid.UUID | None = Field(
        default=None, description="the organisation that receives the money (an id of /v1/organisations)"
    )

    @model_validator(mode="after")
    def _status(self) -> AgreementCreate:
        if self.status is Status.CANCELLED:
            raise ValueError("an agreement is created pledged or signed, then cancelled with /cancel")
        if self.signed_on and self.status is not Status.SIGNED:
            raise ValueError("signed_on is given only for a signed agreement")
        return self


class SignRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    signed_on: dt.date


class CancelRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    reason: CleanText = Field(min_length=1, max_length=2000)


class AmendRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money = Field(gt=0, description="the new total, in the agreement's currency")
    amended_on: dt.date | None = Field(default=None, description="today if omitted; not before it was pledged")


class DisbursementCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    amount: Money = Field(gt=0)
    currency: CurrencyCode
    received_on: dt.date


class FtsOrganisation(BaseModel):
    fts_id: str
    name: str
    types: list[str] = []


class FtsDetails(BaseModel):
    """What an imported OCHA FTS flow says beyond amounts and dates (*added*)."""

    flow_id: str
    version: int
    flow_type: str  # Standard, Parked, Pass through, Carryover
    contribution_type: str  # financial, in kind
    parent_flow_id: str | None = None
    child_flow_ids: list[str] = []
    recipients: list[FtsOrganisation] = []
    locations: list[str] = []  # destination locations, as FTS names them
    usage_years: list[str] = []
    decided_on: dt.date | None = None


class AgreementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    donor_id: uuid.UUID
    recipient_id: uuid.UUID | None = None
    reference: str
    title: str
    status: Status
    amount: Money
    currency: str
    fx_rate: Rate
    amount_usd: Money
    disbursed_usd: Money
    earmark: Earmark
    pledged_on: dt.date
    signed_on: dt.date | None
    cancelled_on: dt.date | None
    cancel_reason: str | None
    route: FlowRoute | None = Field(default=None, validation_alias="flow_route")
    fts: FtsDetails | None = None
    created_at: dt.datetime
    updated_at: dt.datetime

    @model_validator(mode="after")
    def _in_currency(self) -> AgreementRead:
        self.amount = in_currency(self.amount, self.currency)
        return self


class DisbursementRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    agreement_id: uuid.UUID
    amount: Money
    currency: str
    fx_rate: Rate
    amount_usd: Money
    received_on: dt.date
    created_at: dt.datetime

    @model_validator(mode="after")
    def _in_currency(self) -> DisbursementRead:
        self.amount = in_currency(self.amount, self.currency)
        return self

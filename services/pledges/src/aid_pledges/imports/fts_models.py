"""What OCHA FTS files hold, as the import reads them: flows of the FTS API v1 flow search, and the rows of FTS's
requirements-and-funding tables (per plan, per plan x cluster). Amounts are FTS's own USD figures, exact."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_AMOUNT = Decimal("1e15")  # far above any flow FTS has recorded, well inside the amount columns
FTS_ID_LENGTH = 20  # FTS ids are integers; the columns that keep them (flows, organisations, plans) hold 20 digits


def no_nul(text: str) -> str:
    """No text field takes U+0000 (PostgreSQL refuses it): the record is skipped, saying so."""
    if "\x00" in text:
        raise ValueError("holds a NUL character (U+0000)")
    return text


class FileKind(StrEnum):
    FLOWS = "flows"  # an FTS API v1 flow-search page (JSON)
    PLANS = "plans"  # requirements and funding per plan (CSV)
    PLAN_CLUSTERS = "plan-clusters"  # requirements and funding per plan x plan cluster (CSV)
    GLOBAL_CLUSTERS = "global-clusters"  # per plan x global cluster (CSV): read, not needed for the figures


class FtsObject(BaseModel):
    """One end of a flow, or a part of it: an organisation, a location, a plan, a cluster, a usage year, …"""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    type: str
    id: str = Field(max_length=FTS_ID_LENGTH)
    name: str = ""
    behavior: str = "single"
    organization_types: list[str] = Field(default_factory=list, alias="organizationTypes")

    @field_validator("id", mode="before")
    @classmethod
    def _id_as_text(cls, value: Any) -> str:
        return str(value)

    @field_validator("name")
    @classmethod
    def _no_nul(cls, value: str) -> str:
        return no_nul(value)


class FtsFlow(BaseModel):
    """A flow as the FTS API v1 flow search returns it (the fields the import uses)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(max_length=FTS_ID_LENGTH)
    version: int = Field(alias="versionId")
    status: Literal["pledge", "commitment", "paid"]
    boundary: Literal["incoming", "internal", "outgoing"]
    on_boundary: Literal["single", "shared"] = Field(alias="onBoundary")
    flow_type: str = Field(default="Standard", alias="flowType")
    contribution_type: str = Field(default="financial", alias="contributionType")
    amount_usd: Decimal = Field(alias="amountUSD", ge=0, le=MAX_AMOUNT)
    original_amount: Decimal | None = Field(default=None, alias="originalAmount", ge=0, le=MAX_AMOUNT)
    original_currency: str | None = Field(default=None, alias="originalCurrency")
    exchange_rate: Decimal | None = Field(default=None, alias="exchangeRate")
    decision_date: dt.datetime | None = Field(default=None, alias="decisionDate")
    date: dt.datetime | None = None
    parent_flow_id: str | None = Field(default=None, alias="parentFlowId", max_length=FTS_ID_LENGTH)
    child_flow_ids: list[str] = Field(default_factory=list, alias="childFlowIds")
    description: str | None = None
    source: list[FtsObject] = Field(alias="sourceObjects")
    destination: list[FtsObject] = Field(alias="destinationObjects")

    @field_validator("id", "parent_flow_id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> str | None:
        return None if value is None else str(value)

    @field_validator("description")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        return None if value is None else no_nul(value)

    @field_validator("child_flow_ids", mode="before")
    @classmethod
    def _ids_as_text(cls, value: Any) -> list[str]:
        return [str(v) for v in value or []]

    @field_validator("amount_usd", "original_amount", "exchange_rate", mode="before")
    @classmethod
    def _exact(cls, value: Any) -> Any:
        # JSON numbers arrive as int, float or (streamed) Decimal: through str, a float keeps the digits it shows.
        return None if value is None else Decimal(str(value))

    def objects(self, side: Literal["source", "destination"], kind: str) -> list[FtsObject]:
        return [o for o in (self.source if side == "source" else self.destination) if o.type == kind]

    def ids(self, side: Literal["source", "destination"], kind: str) -> list[str]:
        return [o.id for o in self.objects(side, kind)]


class PlanRow(BaseModel):
    """A row of a requirements table: a plan (or, without `plan_id`, the money outside every plan), and for the
    plan x cluster table a cluster (without `cluster_code`: "Not specified" or "Multiple clusters/sectors
    (shared)"). `funding_usd` is FTS's published figure, kept to compare with the platform's own."""

    country: str  # ISO 3166-1 alpha-3, as FTS writes it
    plan_id: str | None
    plan_code: str | None
    plan_name: str
    plan_type: str | None = None
    year: int | None = None
    cluster_code: str | None = None
    cluster: str | None = None
    requirements_usd: Decimal | None = None
    funding_usd: Decimal | None = None


class Skipped(BaseModel):
    """A record the import left out, and why (the others go on)."""

    fts_id: str
    reason: str


class ImportSummary(BaseModel):
    """What an import did: flows created, amended (a higher version) and unchanged (the same or an older
    version), plan tables published to the projects service, and every record skipped with its reason."""

    created: int = 0
    amended: int = 0
    unchanged: int = 0
    plans: int = 0
    skipped: list[Skipped] = Field(default_factory=list)


class Uploaded(BaseModel):
    """The files of an import request as the Idempotency-Key fingerprint sees them: names and SHA-256 digests
    (the same key with other files is refused)."""

    names: list[str]
    sha256: list[str]

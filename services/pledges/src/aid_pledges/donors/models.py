"""Donors: organisations in the donor role (`aid_pledges.organisations`), as the donors API shows them."""

from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field

from aid_contracts.types import CleanText, CountryCode, Names
from aid_pledges.organisations.models import OrganisationKind, Role

# What kind of organisation a donor is (the same kinds every organisation has).
DonorKind = OrganisationKind


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
    roles: list[Role] = Field(description="every role this organisation plays (see /v1/organisations)")
    created_at: dt.datetime

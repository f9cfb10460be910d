"""Partner accounts as the projects service knows them — a read model fed by the notifications service's
aid.partner.* events (one partner identity across services) — and how a project names its partners."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import UtcDateTime, utcnow
from aid_contracts.types import CleanText, Names
from aid_projects.db import Base


class KnownPartner(Base):
    __tablename__ = "known_partners"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300), index=True)
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class PartnerIn(BaseModel):
    """A partner's role in a project: its account (`partner_id`; the name comes from the account), or, for an
    organisation not on the platform yet, its `name` (linked when an account with that name appears)."""

    model_config = ConfigDict(extra="forbid")

    partner_id: uuid.UUID | None = None
    name: CleanText | None = Field(default=None, min_length=1, max_length=300, examples=["Kuwait Red Crescent Society"])
    names: Names = Field(default_factory=dict, examples=[{"ar": "جمعية الهلال الأحمر الكويتي"}])
    role: Literal["implementing", "accountable", "funding"]

    @model_validator(mode="after")
    def _one_of(self) -> PartnerIn:
        if (self.partner_id is None) == (self.name is None):
            raise ValueError("give the partner's account (partner_id) or, for one not on the platform, its name")
        return self

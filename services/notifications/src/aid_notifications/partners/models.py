from __future__ import annotations

import datetime as dt
import uuid

from pydantic import BaseModel, ConfigDict, Field, computed_field
from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import UtcDateTime, utcnow
from aid_contracts.types import CleanText, Names
from aid_notifications.db import Base


class Partner(Base):
    __tablename__ = "partners"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(300))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


class KnownOrganisation(Base):
    """The organisations the pledges service announces (aid.organisation.*): a partner account opened for one of
    them takes its id."""

    __tablename__ = "organisations"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    names: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    roles: Mapped[list[str]] = mapped_column(JSON, default=list)
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, onupdate=utcnow)


class PartnerUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CleanText | None = Field(default=None, min_length=1, max_length=300)
    names: Names | None = None


class PartnerCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: CleanText = Field(min_length=1, max_length=300, examples=["Qatar Red Crescent Society"])
    names: Names = Field(default_factory=dict, examples=[{"ar": "الهلال الأحمر القطري"}])
    organisation_id: uuid.UUID | None = Field(
        default=None,
        description="the organisation (GET /v1/organisations on the pledges service) this account is for: the "
        "partner takes its id. Omitted: a new organisation with the partner's id.",
    )


class PartnerRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    names: dict[str, str]
    created_at: dt.datetime

    @computed_field(description="its organisation's id in every service: the same as the partner's")  # type: ignore[prop-decorator]
    @property
    def organisation_id(self) -> uuid.UUID:
        return self.id

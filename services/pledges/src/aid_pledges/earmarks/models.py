"""The pledges service's own copy of what earmarks may name — appeals with their pillars, projects with their
status — fed only by the projects service's events (no call between services)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import JSON, String
from sqlalchemy.orm import Mapped, mapped_column

from aid_common.db import UtcDateTime, utcnow
from aid_pledges.db import Base


class KnownAppeal(Base):
    __tablename__ = "known_appeals"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    pillars: Mapped[list[str]] = mapped_column(JSON, default=list)
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class KnownProject(Base):
    __tablename__ = "known_projects"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(50))
    status: Mapped[str] = mapped_column(String(20))
    seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

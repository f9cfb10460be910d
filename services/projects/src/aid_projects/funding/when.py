"""Which figures a reader asks for: now, or money that had moved by a day (`as_of`, by the dates money really
moved — an agreement's signing, amendment or cancellation, money received), or what the platform had recorded by
a moment (`known_at`, the audit view), or both: what was known at `known_at` of the money moved by `as_of`.

Projects and appeals — which exist, what they need, their status — are taken as recorded by `known_at`, or as
they are now; they have no date of their own to move by."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class When:
    as_of: dt.date | None = None
    known_at: dt.datetime | None = None

    @property
    def now(self) -> bool:
        return self.as_of is None and self.known_at is None

    def entries(self, model: Any) -> list[Any]:
        """Conditions on an append-only money table (effective_on, created_at) for these figures."""
        conditions = []
        if self.as_of is not None:
            conditions.append(model.effective_on <= self.as_of)
        if self.known_at is not None:
            conditions.append(model.created_at <= self.known_at)
        return conditions

    def recorded(self, model: Any) -> list[Any]:
        """Conditions on a table of things recorded (appeals, project revisions): as known at `known_at`."""
        return [model.created_at <= self.known_at] if self.known_at is not None else []


NOW = When()

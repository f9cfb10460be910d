"""Who may call the projects routes, as Annotated dependencies (one style for every route)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query

from aid_common.auth import Caller, require_coordinator, require_scope
from aid_common.errors import Unprocessable
from aid_common.state import Slot
from aid_contracts.types import to_utc
from aid_projects.funding.when import When
from aid_projects.settings import ProjectsSettings

Reader = Annotated[Caller, require_scope("projects:read")]
SETTINGS: Slot[ProjectsSettings] = Slot("settings")
ServiceSettings = Annotated[ProjectsSettings, Depends(SETTINGS.dependency)]


# Create appeals and projects, change appeals: coordinators only (a partner's token does neither).
Steward = Annotated[
    Caller, require_coordinator("projects:write", not_for_partners="create appeals or projects, nor change appeals")
]
# Change a project: coordinators, and a partner's token — its title and names only, for a project its partner
# holds a role in (checked by projects.service.update: 403 otherwise).
Writer = Annotated[Caller, require_scope("projects:write")]


async def _as_of(
    as_of: Annotated[
        str | None,
        Query(
            max_length=40,
            description="figures by the dates money moved: what was signed, amended, cancelled and received by "
            "that day (YYYY-MM-DD, or the day of an ISO 8601 timestamp); omitted = now",
            examples=["2024-06-30"],
        ),
    ] = None,
) -> dt.datetime | None:
    return _moment(as_of, "as_of")


# A clock a little ahead of ours is not "the future".
CLOCK_SKEW = dt.timedelta(minutes=5)


def _moment(value: str | None, name: str) -> dt.datetime | None:
    """A date (the end of that day, UTC) or an ISO 8601 timestamp (naive: UTC), not in the future: figures of a
    moment to come would be today's figures under another name, which misleads."""
    if value is None:
        return None
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            moment = dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
            future = day > dt.datetime.now(dt.UTC).date()
        else:
            parsed = dt.datetime.fromisoformat(value)
            moment = to_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC))
            future = moment > dt.datetime.now(dt.UTC) + CLOCK_SKEW
    except ValueError as exc:
        raise Unprocessable(
            f"{name} {value!r} is neither a date (YYYY-MM-DD) nor an ISO 8601 timestamp in range ({exc})",
            errors=[{"location": f"query.{name}", "message": "not a date or timestamp"}],
        ) from None
    if future:
        raise Unprocessable(
            f"{name} {value!r} is in the future; leave {name} out for the figures of now",
            errors=[{"location": f"query.{name}", "message": "in the future"}],
        )
    return moment


AsOf = Annotated[dt.datetime | None, Depends(_as_of)]


async def _known_at(
    known_at: Annotated[
        str | None,
        Query(
            max_length=40,
            description="what the platform had recorded by a moment (audit): a date (the end of that day, UTC) or "
            "an ISO 8601 timestamp; omitted = everything recorded",
            examples=["2020-07-01T00:00:00Z"],
        ),
    ] = None,
) -> dt.datetime | None:
    return _moment(known_at, "known_at")


KnownAt = Annotated[dt.datetime | None, Depends(_known_at)]


async def _when(as_of: AsOf, known_at: KnownAt) -> When:
    return When(as_of=as_of.date() if as_of else None, known_at=known_at)


# Which figures (funding.when): `as_of` a day (by the dates money moved) and/or `known_at` a moment (as recorded).
At = Annotated[When, Depends(_when)]

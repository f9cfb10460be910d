"""Who may call the projects routes, as Annotated dependencies (one style for every route)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query

from aid_common.auth import Caller, require_scope
from aid_common.errors import Forbidden, Unprocessable
from aid_contracts.types import to_utc

Reader = Annotated[Caller, require_scope("projects:read")]


async def _steward(caller: Annotated[Caller, require_scope("projects:write")]) -> Caller:
    """Appeals and projects are the coordinators': a token limited to one partner (partner_id) changes none of
    them — a partner must not close a project other organisations run. (Changes by a partner to the projects it
    holds a role in come when project roles reference partner accounts.)"""
    if caller.partner_id is not None:
        raise Forbidden(
            "a partner's token (partner_id) does not create or change appeals and projects; ask a coordinator, "
            "or use a token without partner_id"
        )
    return caller


Writer = Annotated[Caller, Depends(_steward)]


def _as_of(
    as_of: Annotated[
        str | None,
        Query(
            max_length=40,
            description="figures as recorded at a moment: a date (YYYY-MM-DD, the end of that day, UTC) or an ISO "
            "8601 timestamp; omitted = now",
            examples=["2024-06-30"],
        ),
    ] = None,
) -> dt.datetime | None:
    if as_of is None:
        return None
    try:
        if len(as_of) == 10:
            day = dt.date.fromisoformat(as_of)
            return dt.datetime.combine(day, dt.time.max, tzinfo=dt.UTC)
        moment = dt.datetime.fromisoformat(as_of)
        return to_utc(moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC))  # a naive time is read as UTC
    except ValueError as exc:
        raise Unprocessable(
            f"as_of {as_of!r} is neither a date (YYYY-MM-DD) nor an ISO 8601 timestamp in range ({exc})",
            errors=[{"location": "query.as_of", "message": "not a date or timestamp"}],
        ) from None


AsOf = Annotated[dt.datetime | None, Depends(_as_of)]

"""Who may call the pledges routes, and what they are handed, as Annotated dependencies (one style for every
route)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aid_common.auth import Caller, require_scope
from aid_common.notified_cache import NotifiedCache

Reader = Annotated[Caller, require_scope("pledges:read")]
Writer = Annotated[Caller, require_scope("pledges:write")]


async def _reference_cache(request: Request) -> NotifiedCache | None:
    return request.app.state.reference_cache


# Donors and FX rates held in memory, dropped when they change (aid_pledges.reference_cache); None when
# AID_REFERENCE_CACHE=false.
ReferenceCache = Annotated[NotifiedCache | None, Depends(_reference_cache)]

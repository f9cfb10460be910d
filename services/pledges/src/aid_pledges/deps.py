"""Who may call the pledges routes, and what they are handed, as Annotated dependencies (one style for every
route)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from aid_common.auth import Caller, require_coordinator, require_scope
from aid_common.notified_cache import NotifiedCache
from aid_common.state import Slot

Reader = Annotated[Caller, require_scope("pledges:read")]


# Donors' agreements, donors and rates are written by coordinators: a token limited to one partner writes none of
# them, whatever its scopes — it would otherwise act for every donor.
Writer = Annotated[
    Caller, require_coordinator("pledges:write", not_for_partners="write donors, agreements, disbursements or rates")
]
Admin = Annotated[Caller, require_scope("admin")]


# Donors and FX rates held in memory, dropped when they change (aid_pledges.reference_cache); None when
# AID_REFERENCE_CACHE=false.
REFERENCE_CACHE: Slot[NotifiedCache] = Slot("reference_cache")
ReferenceCache = Annotated[NotifiedCache | None, Depends(REFERENCE_CACHE.maybe_dependency)]

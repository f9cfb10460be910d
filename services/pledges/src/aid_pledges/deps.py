"""Who may call the pledges routes, as Annotated dependencies (one style for every route)."""

from __future__ import annotations

from typing import Annotated

from aid_common.auth import Caller, require_scope

Reader = Annotated[Caller, require_scope("pledges:read")]
Writer = Annotated[Caller, require_scope("pledges:write")]

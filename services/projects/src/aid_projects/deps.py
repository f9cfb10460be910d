"""Who may call the projects routes, as Annotated dependencies (one style for every route)."""

from __future__ import annotations

from typing import Annotated

from aid_common.auth import Caller, require_scope

Reader = Annotated[Caller, require_scope("projects:read")]
Writer = Annotated[Caller, require_scope("projects:write")]

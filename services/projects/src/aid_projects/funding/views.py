from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aid_common.pagination import Items
from aid_common.uow import ReadSession
from aid_projects.deps import AsOf, Reader
from aid_projects.funding import reports, service
from aid_projects.funding.models import AllocationPreview, AllocationPreviewRequest, CoverageRow, PoolRead
from aid_projects.funding.reports import CoverageBy

router = APIRouter(prefix="/v1", tags=["funding"])


@router.get("/coverage")
async def get_coverage(
    session: ReadSession,
    caller: Reader,
    by: Annotated[CoverageBy, Query(description="how to group; `all` is one row for everything")],
    as_of: AsOf = None,
) -> Items[CoverageRow]:
    """One rule at every level: `requirements_usd` (the projects' inside the row; for appeals and pillars what the
    appeal states), `funded_usd` (allocations to projects inside — never pools), `unmet_usd` (requirements −
    Σ min(funded, requirements) over the projects, so one over-funded project hides no gap), `overfunded_usd`,
    `unallocated_usd` (pools whose earmark lies inside the row), `received_usd` (projects' and pools'),
    `coverage` = funded / requirements. Now, or `as_of` a moment."""
    return Items(items=await reports.coverage_by(session=session, by=by, as_of=as_of))


@router.get("/pools")
async def list_pools(session: ReadSession, caller: Reader) -> Items[PoolRead]:
    """Signed money not yet on any project, by earmark, with the money received on it and why it waits; a
    matching project that appears, is activated or needs more draws it at once."""
    return Items(items=await reports.pools(session=session))


@router.post("/allocation-preview")
async def preview_allocation(body: AllocationPreviewRequest, session: ReadSession, caller: Reader) -> AllocationPreview:
    """Exactly the split that signing an agreement of `amount_usd` on `earmark` would make now — the same planner
    as the real allocation — writing nothing."""
    return await service.preview(session=session, amount_usd=body.amount_usd, earmark=body.earmark)

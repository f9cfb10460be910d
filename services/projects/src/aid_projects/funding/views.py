from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aid_common.auth import Caller, require_scope
from aid_common.runtime import SessionDep
from aid_projects.funding import reports
from aid_projects.funding.models import CoverageRow, PoolRead
from aid_projects.funding.reports import CoverageBy

router = APIRouter(prefix="/v1", tags=["funding"])
Reader = Annotated[Caller, require_scope("projects:read")]


@router.get("/coverage", response_model=list[CoverageRow])
async def get_coverage(
    session: SessionDep, caller: Reader, by: Annotated[CoverageBy, Query(description="how to group")]
) -> list[CoverageRow]:
    """Requirements, funding and coverage (funded / requirements) grouped by country or sector (over projects),
    or by appeal or pillar (the appeal's stated requirements; funding includes unallocated earmarked money)."""
    return await reports.coverage_by(session=session, by=by)


@router.get("/pools", response_model=list[PoolRead])
async def list_pools(session: SessionDep, caller: Reader) -> list[PoolRead]:
    """Signed money not yet on any project, by earmark; a matching project that appears or is activated draws it."""
    return await reports.pools(session=session)

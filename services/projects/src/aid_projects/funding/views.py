from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from aid_common.uow import ReadSession
from aid_projects.deps import Reader
from aid_projects.funding import reports
from aid_projects.funding.models import CoverageRow, PoolRead
from aid_projects.funding.reports import CoverageBy

router = APIRouter(prefix="/v1", tags=["funding"])


@router.get("/coverage")
async def get_coverage(
    session: ReadSession, caller: Reader, by: Annotated[CoverageBy, Query(description="how to group")]
) -> list[CoverageRow]:
    """Requirements, funding and coverage (funded / requirements) grouped by country or sector (over projects),
    or by appeal or pillar (the appeal's stated requirements; funding includes unallocated earmarked money)."""
    return await reports.coverage_by(session=session, by=by)


@router.get("/pools")
async def list_pools(session: ReadSession, caller: Reader) -> list[PoolRead]:
    """Signed money not yet on any project, by earmark; a matching project that appears or is activated draws it."""
    return await reports.pools(session=session)

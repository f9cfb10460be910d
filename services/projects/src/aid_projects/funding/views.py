from __future__ import annotations

import uuid
from typing import Annotated

import pycountry
from fastapi import APIRouter, Query
from fastapi.responses import Response

from aid_common.errors import Unprocessable
from aid_common.pagination import Items
from aid_common.uow import ReadSession
from aid_projects.deps import AsOf, At, KnownAt, Reader
from aid_projects.funding import plan_report, reports, service
from aid_projects.funding.models import (
    AgreementFundingRead,
    AllocationPreview,
    AllocationPreviewRequest,
    CoverageRow,
    PlanClusterRow,
    PoolRead,
)
from aid_projects.funding.reports import CoverageBy

router = APIRouter(prefix="/v1", tags=["funding"])
reports_router = APIRouter(prefix="/v1/reports", tags=["reports"])


@router.get("/coverage")
async def get_coverage(
    session: ReadSession,
    caller: Reader,
    by: Annotated[CoverageBy, Query(description="how to group; `all` is one row for everything")],
    when: At,
) -> Items[CoverageRow]:
    """One rule at every level: `requirements_usd` (the projects' inside the row; for appeals and pillars what the
    appeal states), `funded_usd` (allocations to projects inside — never pools), `unmet_usd` (requirements −
    Σ min(funded, requirements) over the projects, so one over-funded project hides no gap), `overfunded_usd`,
    `unallocated_usd` (pools whose earmark lies inside the row), `received_usd` (projects' and pools'),
    `coverage` = funded / requirements. Now, `as_of` a day (by the dates money moved) or `known_at` a moment (as
    recorded then)."""
    return Items(items=await reports.coverage_by(session=session, by=by, when=when))


@router.get("/funding/agreements/{agreement_id}")
async def agreement_funding(agreement_id: uuid.UUID, session: ReadSession, caller: Reader) -> AgreementFundingRead:
    """Where an agreement's money went: each project's share (allocated, and received) and what waits in a pool."""
    return await reports.agreement_funding(session=session, agreement_id=agreement_id)


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


def _country(country: str) -> str:
    found = pycountry.countries.get(alpha_2=country.upper()) or pycountry.countries.get(alpha_3=country.upper())
    if found is None:
        raise Unprocessable(
            f"country {country!r} is not an ISO 3166-1 alpha-2 or alpha-3 code",
            errors=[{"location": "query.country", "message": "not a country code"}],
        )
    return str(found.alpha_2)


@reports_router.get("/plan-clusters", response_model=Items[PlanClusterRow])
async def plan_clusters(
    session: ReadSession,
    caller: Reader,
    country: Annotated[str, Query(min_length=2, max_length=3, description="ISO 3166-1 alpha-2 or alpha-3")],
    as_of: AsOf = None,
    known_at: KnownAt = None,
    format: Annotated[str, Query(pattern="^(json|csv)$", description="json, or csv with HXL hashtags")] = "json",
) -> Items[PlanClusterRow] | Response:
    """A country's plan x cluster table as FTS publishes it (plan, cluster, requirements, funding; money outside
    every plan in rows with `plan_code: null`), computed from this platform's own ledger by FTS's rules. `as_of`:
    money that had moved by then (signed, amended, cancelled: effective dates); `known_at`: as recorded then."""
    rows = await plan_report.plan_clusters(
        session=session, country=_country(country), as_of=as_of.date() if as_of else None, known_at=known_at
    )
    if format == "csv":
        return Response(
            plan_report.as_csv(rows),
            media_type="text/csv; charset=utf-8",
            headers={"content-disposition": f'attachment; filename="plan-clusters-{country.upper()}.csv"'},
        )
    return Items(items=rows)

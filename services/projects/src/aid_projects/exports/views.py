from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from aid_common import exports, visibility
from aid_common.gate import ExportGate
from aid_common.uow import StreamSession
from aid_contracts.types import CountryCode, Sector
from aid_projects.deps import Reader, ServiceSettings
from aid_projects.exports import iati, tables
from aid_projects.projects import service as projects
from aid_projects.projects.models import ProjectStatus
from aid_projects.projects.service import ProjectFilter

router = APIRouter(prefix="/v1/exports", tags=["exports"])
Hxl = Annotated[bool, Query(description="a HXL hashtag row under the header (as HDX expects); false: plain CSV")]


async def _where(
    country: CountryCode | None = None,
    sector: Sector | None = None,
    appeal: str | None = None,
    status: ProjectStatus | None = None,
    partner_id: uuid.UUID | None = None,
) -> ProjectFilter:
    return ProjectFilter(
        country=country,
        sector=sector.value if sector else None,
        appeal=appeal,
        status=status.value if status else None,
        partner_id=partner_id,
    )


Where = Annotated[ProjectFilter, Depends(_where)]


@router.get("/projects.csv", response_class=StreamingResponse)
async def projects_csv(
    session: StreamSession, caller: Reader, where: Where, gate: ExportGate, hxl: Hxl = True
) -> StreamingResponse:
    """Every project the filters select (the list's filters), with requirements, funding and coverage."""
    rows = projects.all_matching(session=session, where=where)
    return exports.csv_answer(gate.through(tables.projects_csv(rows, hxl=hxl)), "projects.csv")


@router.get("/flows.csv", response_class=StreamingResponse)
async def flows_csv(
    session: StreamSession, caller: Reader, where: Where, gate: ExportGate, hxl: Hxl = True
) -> StreamingResponse:
    """Every funding flow (ledger entry) into the projects the filters select: donor, project, amount, kind. The
    donor and the agreement's reference only for a caller who may see donors' agreements (`pledges:read`)."""
    rows = projects.all_matching(session=session, where=where)
    donors = visibility.sees_donors(caller)
    return exports.csv_answer(gate.through(tables.flows_csv(session, rows, hxl=hxl, donors=donors)), "flows.csv")


@router.get("/iati.xml", response_class=StreamingResponse)
async def iati_xml(
    session: StreamSession, caller: Reader, where: Where, settings: ServiceSettings, gate: ExportGate
) -> StreamingResponse:
    """IATI 2.03 `iati-activities`: one activity per project, transactions from the ledger (see the mapping in
    docs/api/projects.md); providers, references and pledges only for a caller who may see donors' agreements."""
    rows = projects.all_matching(session=session, where=where)
    reporting = (settings.iati_reporting_org_ref, settings.iati_reporting_org_name)
    return StreamingResponse(
        exports.marked(
            gate.through(iati.activities(session, rows, reporting=reporting, donors=visibility.sees_donors(caller))),
            exports.XML_BREAK.encode(),
        ),
        media_type="application/xml",
        headers={"content-disposition": 'attachment; filename="iati-activities.xml"'},
    )

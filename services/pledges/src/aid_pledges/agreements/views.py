from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from aid_common import csv_lines, exports
from aid_common.gate import ExportGate
from aid_common.idempotency import idempotent
from aid_common.pagination import Cursor, Items, Limit, Page
from aid_common.uow import ReadSession, StreamSession, UnitOfWork
from aid_contracts.types import CountryCode, Sector
from aid_pledges.agreements import service
from aid_pledges.agreements.models import (
    Agreement,
    AgreementCreate,
    AgreementRead,
    AmendRequest,
    CancelRequest,
    DisbursementCreate,
    DisbursementRead,
    HistoryRead,
    SignRequest,
    Status,
)
from aid_pledges.deps import Reader, ReferenceCache, Writer
from aid_pledges.organisations.models import Organisation

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])
exports_router = APIRouter(prefix="/v1/exports", tags=["exports"])
AGREEMENT_COLUMNS = (
    ("donor", "#org+name+funder"),
    ("donor_country", "#country+code+funder"),
    ("reference", "#meta+agreement+code"),
    ("title", "#activity+name"),
    ("status", "#status"),
    ("amount", "#value+amount"),
    ("currency", "#currency"),
    ("fx_rate", "#indicator+rate"),
    ("amount_usd", "#value+funding+total+usd"),
    ("disbursed_usd", "#value+funding+received+usd"),
    ("pledged_on", "#date+pledged"),
    ("signed_on", "#date+signed"),
    ("earmark_country", "#country+code"),
    ("earmark_sector", "#sector+cluster+name"),
    ("earmark_appeal", "#activity+appeal+code"),
    ("earmark_pillar", "#activity+pillar+code"),
    ("earmark_project_id", "#activity+id"),
)


@router.post("", status_code=201)
@idempotent
async def create_agreement(
    body: AgreementCreate, uow: UnitOfWork, caller: Writer, cache: ReferenceCache
) -> AgreementRead:
    """Record a pledged or signed agreement; converts to USD at the rate in force on the signing day (or today
    while pledged), rounding half to even to the cent. The earmark is checked against the appeals, pillars and
    projects this service knows **as of the last event it has seen** from the projects service: an unknown
    appeal, pillar or project, or a closed project, is 422 (a project created a moment ago is known within about
    a second). Dates: pledged_on ≤ signed_on ≤ today."""
    return AgreementRead.model_validate(
        await service.create(session=uow.session, data=body, caller=caller, cache=cache)
    )


@router.get("")
async def list_agreements(
    session: ReadSession,
    caller: Reader,
    donor_id: uuid.UUID | None = None,
    status: Status | None = None,
    country: Annotated[CountryCode | None, Query(description="earmarked country")] = None,
    sector: Sector | None = None,
    appeal: Annotated[str | None, Query(max_length=50, description="earmarked appeal code")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[AgreementRead]:
    items, next_cursor = await service.list_(
        session=session,
        donor_id=donor_id,
        status=status.value if status else None,
        country=country,
        sector=sector.value if sector else None,
        appeal=appeal,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[AgreementRead.model_validate(a) for a in items], next_cursor=next_cursor)


@router.get("/{agreement_id}")
async def get_agreement(agreement_id: uuid.UUID, session: ReadSession, caller: Reader) -> AgreementRead:
    return AgreementRead.model_validate(await service.get_or_404(session=session, agreement_id=agreement_id))


@router.post("/{agreement_id}/sign")
@idempotent
async def sign_agreement(agreement_id: uuid.UUID, body: SignRequest, uow: UnitOfWork, caller: Writer) -> AgreementRead:
    agreement = await service.sign(
        session=uow.session, agreement_id=agreement_id, signed_on=body.signed_on, caller=caller
    )
    return AgreementRead.model_validate(agreement)


@router.post("/{agreement_id}/cancel")
@idempotent
async def cancel_agreement(
    agreement_id: uuid.UUID, body: CancelRequest, uow: UnitOfWork, caller: Writer
) -> AgreementRead:
    agreement = await service.cancel(session=uow.session, agreement_id=agreement_id, reason=body.reason, caller=caller)
    return AgreementRead.model_validate(agreement)


@router.post("/{agreement_id}/amend")
@idempotent
async def amend_agreement(
    agreement_id: uuid.UUID, body: AmendRequest, uow: UnitOfWork, caller: Writer
) -> AgreementRead:
    """Change the amount; the `aid.agreement.amended` event carries the difference."""
    return AgreementRead.model_validate(
        await service.amend(session=uow.session, agreement_id=agreement_id, data=body, caller=caller)
    )


@router.post("/{agreement_id}/disbursements", status_code=201)
@idempotent
async def record_disbursement(
    agreement_id: uuid.UUID, body: DisbursementCreate, uow: UnitOfWork, caller: Writer
) -> DisbursementRead:
    disbursement = await service.disburse(session=uow.session, agreement_id=agreement_id, data=body, caller=caller)
    return DisbursementRead.model_validate(disbursement)


@router.get("/{agreement_id}/disbursements")
async def list_disbursements(
    agreement_id: uuid.UUID, session: ReadSession, caller: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[DisbursementRead]:
    """Money received against the agreement, oldest first."""
    items, next_cursor = await service.disbursements(
        session=session, agreement_id=agreement_id, cursor=cursor, limit=limit
    )
    return Page(items=[DisbursementRead.model_validate(d) for d in items], next_cursor=next_cursor)


@router.get("/{agreement_id}/history")
async def agreement_history(agreement_id: uuid.UUID, session: ReadSession, caller: Reader) -> Items[HistoryRead]:
    """What happened to the agreement — created, signed, amended (old and new amounts), cancelled, each
    disbursement — with who (the token's subject), when, and the correlation id."""
    entries = await service.history(session=session, agreement_id=agreement_id)
    return Items(items=[HistoryRead.model_validate(e) for e in entries])


@exports_router.get("/agreements.csv", response_class=StreamingResponse)
async def agreements_csv(
    session: StreamSession,
    caller: Reader,
    gate: ExportGate,
    donor_id: uuid.UUID | None = None,
    status: Status | None = None,
    country: Annotated[CountryCode | None, Query(description="earmarked country")] = None,
    sector: Sector | None = None,
    appeal: Annotated[str | None, Query(max_length=50, description="earmarked appeal code")] = None,
    hxl: Annotated[bool, Query(description="a HXL hashtag row under the header; false: plain CSV")] = True,
) -> StreamingResponse:
    """Every agreement the list's filters select (not a page), as CSV — with a HXL hashtag row by default."""
    rows = service.all_matching(
        session=session,
        donor_id=donor_id,
        status=status.value if status else None,
        country=country,
        sector=sector.value if sector else None,
        appeal=appeal,
    )

    async def lines() -> AsyncIterator[str]:
        yield csv_lines.line(name for name, _ in AGREEMENT_COLUMNS)
        if hxl:
            yield csv_lines.line(tag for _, tag in AGREEMENT_COLUMNS)
        async for batch in rows:
            for agreement, donor in batch:
                yield _agreement_line(agreement, donor)

    return exports.csv_answer(gate.through(lines()), "agreements.csv")


def _agreement_line(agreement: Agreement, donor: Organisation) -> str:
    read = AgreementRead.model_validate(agreement)
    e = read.earmark
    return csv_lines.line(
        [
            donor.name, donor.country, read.reference, read.title, read.status.value, read.amount, read.currency,
            read.fx_rate, read.amount_usd, read.disbursed_usd, read.pledged_on, read.signed_on, e.country,
            e.sector.value if e.sector else None, e.appeal, e.pillar, e.project_id,
        ]
    )  # fmt: skip

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from aid_common.auth import Caller, require_scope
from aid_common.idempotency import IdempotencyKey, respond_idempotently
from aid_common.pagination import Cursor, Limit, Page
from aid_common.runtime import SessionDep
from aid_contracts.types import CountryCode, Sector
from aid_pledges.agreements import service
from aid_pledges.agreements.models import (
    AgreementCreate,
    AgreementRead,
    AmendRequest,
    CancelRequest,
    DisbursementCreate,
    DisbursementRead,
    SignRequest,
    Status,
)

router = APIRouter(prefix="/v1/agreements", tags=["agreements"])
Writer = Annotated[Caller, require_scope("pledges:write")]


@router.post("", status_code=201, response_model=AgreementRead)
async def create_agreement(
    body: AgreementCreate, request: Request, caller: Writer, idempotency_key: IdempotencyKey = None
):
    """Record a pledged or signed agreement; converts to USD at the rate in force on the signing day (or today
    while pledged), rounding half to even to the cent."""

    async def use_case(session):
        return AgreementRead.model_validate(await service.create(session=session, data=body))

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=201, use_case=use_case
    )


@router.get("", response_model=Page[AgreementRead])
async def list_agreements(
    session: SessionDep,
    donor_id: uuid.UUID | None = None,
    status: Status | None = None,
    country: Annotated[CountryCode | None, Query(description="earmarked country")] = None,
    sector: Sector | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
    caller: Caller = require_scope("pledges:read"),
) -> Page[AgreementRead]:
    items, next_cursor = await service.list_(
        session=session,
        donor_id=donor_id,
        status=status.value if status else None,
        country=country,
        sector=sector.value if sector else None,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[AgreementRead.model_validate(a) for a in items], next_cursor=next_cursor)


@router.get("/{agreement_id}", response_model=AgreementRead)
async def get_agreement(agreement_id: uuid.UUID, session: SessionDep, caller: Caller = require_scope("pledges:read")):
    return AgreementRead.model_validate(await service.get_or_404(session=session, agreement_id=agreement_id))


@router.post("/{agreement_id}/sign", response_model=AgreementRead)
async def sign_agreement(
    agreement_id: uuid.UUID, body: SignRequest, request: Request, caller: Writer, idempotency_key: IdempotencyKey = None
):
    async def use_case(session):
        return AgreementRead.model_validate(
            await service.sign(session=session, agreement_id=agreement_id, signed_on=body.signed_on)
        )

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=200, use_case=use_case
    )


@router.post("/{agreement_id}/cancel", response_model=AgreementRead)
async def cancel_agreement(
    agreement_id: uuid.UUID,
    body: CancelRequest,
    request: Request,
    caller: Writer,
    idempotency_key: IdempotencyKey = None,
):
    async def use_case(session):
        return AgreementRead.model_validate(
            await service.cancel(session=session, agreement_id=agreement_id, reason=body.reason)
        )

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=200, use_case=use_case
    )


@router.post("/{agreement_id}/amend", response_model=AgreementRead)
async def amend_agreement(
    agreement_id: uuid.UUID,
    body: AmendRequest,
    request: Request,
    caller: Writer,
    idempotency_key: IdempotencyKey = None,
):
    """Change the amount; the `aid.agreement.amended` event carries the difference."""

    async def use_case(session):
        return AgreementRead.model_validate(await service.amend(session=session, agreement_id=agreement_id, data=body))

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=200, use_case=use_case
    )


@router.post("/{agreement_id}/disbursements", status_code=201, response_model=DisbursementRead)
async def record_disbursement(
    agreement_id: uuid.UUID,
    body: DisbursementCreate,
    request: Request,
    caller: Writer,
    idempotency_key: IdempotencyKey = None,
):
    async def use_case(session):
        return DisbursementRead.model_validate(
            await service.disburse(session=session, agreement_id=agreement_id, data=body)
        )

    return await respond_idempotently(
        request, caller=caller, key=idempotency_key, body=body, status_code=201, use_case=use_case
    )

"""An agreement as it is told: the facts every one of its events carries, the events of an amendment and of
money received, and its history entries (who did what, with which correlation id)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from fastapi.encoders import jsonable_encoder
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.auth import Caller
from aid_common.context import current_correlation_id
from aid_common.db import utcnow
from aid_contracts.pledges import AgreementAmended, DisbursementReceived, DonorRef
from aid_contracts.types import in_currency
from aid_pledges.agreements import checks
from aid_pledges.agreements.models import Agreement, AgreementHistory, Disbursement, HistoryAction
from aid_pledges.organisations.models import Organisation


def history_entry(agreement: Agreement, action: HistoryAction, caller: Caller, **details: object) -> dict[str, Any]:
    return {
        "agreement_id": agreement.id,
        "action": action.value,
        "actor": caller.subject,
        "correlation_id": current_correlation_id(),
        "details": jsonable_encoder(details, custom_encoder={Decimal: lambda d: format(d, "f")}),
        "at": utcnow(),
    }


def record_history(
    session: AsyncSession, agreement: Agreement, action: HistoryAction, caller: Caller, **details: object
) -> None:
    session.add(AgreementHistory(**history_entry(agreement, action, caller, **details)))


def donor_ref(donor: Organisation) -> DonorRef:
    return DonorRef(id=donor.id, name=donor.name, names=donor.names, kind=donor.kind, country=donor.country)


def facts_of(agreement: Agreement, donor: DonorRef) -> dict:
    return {
        "agreement_id": agreement.id,
        "donor": donor,
        "reference": agreement.reference,
        "title": agreement.title,
        "status": agreement.status,
        "amount": in_currency(agreement.amount, agreement.currency),
        "currency": agreement.currency,
        "fx_rate": agreement.fx_rate,
        "amount_usd": agreement.amount_usd,
        "earmark": agreement.earmark,
        "route": agreement.flow_route,
        "recipient_id": agreement.recipient_id,
    }


def amended_event(
    agreement: Agreement, ref: DonorRef, previous: Decimal, previous_usd: Decimal, amended_on: dt.date | None
) -> AgreementAmended:
    """aid.agreement.amended: the agreement as it is now, and what it was."""
    return AgreementAmended(
        **facts_of(agreement, ref),
        previous_amount=in_currency(previous, agreement.currency),
        previous_amount_usd=previous_usd,
        delta=in_currency(agreement.amount - previous, agreement.currency),
        delta_usd=agreement.amount_usd - previous_usd,
        amended_on=amended_on or checks.today(),
    )


def received_event(agreement: Agreement, disbursement: Disbursement, ref: DonorRef) -> DisbursementReceived:
    """aid.disbursement.received: the money, and what the agreement has received in all."""
    return DisbursementReceived(
        disbursement_id=disbursement.id,
        agreement_id=agreement.id,
        donor=ref,
        reference=agreement.reference,
        amount=in_currency(disbursement.amount, disbursement.currency),
        currency=disbursement.currency,
        fx_rate=disbursement.fx_rate,
        amount_usd=disbursement.amount_usd,
        disbursed_usd_total=agreement.disbursed_usd,
        agreement_amount_usd=agreement.amount_usd,
        earmark=agreement.earmark,
        received_on=disbursement.received_on,
    )

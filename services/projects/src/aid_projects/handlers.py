"""Every event the projects service consumes. Each handler runs in one transaction with its inbox row."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.consumer import Subscription, on
from aid_common.events import CloudEvent
from aid_contracts import PLEDGES_TOPIC
from aid_contracts.pledges import AgreementFacts, DisbursementReceived
from aid_projects.funding import service as funding


async def agreement_changed(session: AsyncSession, payload: AgreementFacts, event: CloudEvent) -> None:
    """pledged, signed, amended or cancelled: bring the agreement's allocations in line with its status."""
    await funding.apply_agreement(session, facts=payload, event=event)


async def disbursement_received(session: AsyncSession, payload: DisbursementReceived, event: CloudEvent) -> None:
    await funding.apply_disbursement(session, payload=payload)


TOPICS: list[str] = [PLEDGES_TOPIC]
SUBSCRIPTIONS: list[Subscription] = [
    on("aid.agreement.pledged", agreement_changed),
    on("aid.agreement.signed", agreement_changed),
    on("aid.agreement.amended", agreement_changed),
    on("aid.agreement.cancelled", agreement_changed),
    on("aid.disbursement.received", disbursement_received),
]

"""Every event the projects service consumes, typed by payload. Each handler runs in one transaction with its
inbox row; the topics to subscribe to follow from the event registry."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.consumer import on
from aid_common.events import CloudEvent
from aid_contracts.notifications import PartnerCreated, PartnerFacts, PartnerUpdated
from aid_contracts.pledges import (
    AgreementAmended,
    AgreementCancelled,
    AgreementFacts,
    AgreementPledged,
    AgreementSigned,
    DisbursementReceived,
)
from aid_projects import locks
from aid_projects.funding import service as funding
from aid_projects.partners import service as partners
from aid_projects.projects import service as projects


async def agreement_changed(session: AsyncSession, payload: AgreementFacts, event: CloudEvent) -> None:
    """pledged, signed, amended or cancelled: bring the agreement's allocations in line with its status."""
    await funding.apply_agreement(session, facts=payload, event=event)


async def disbursement_received(session: AsyncSession, payload: DisbursementReceived, event: CloudEvent) -> None:
    await funding.apply_disbursement(session, payload=payload)


async def partner_seen(session: AsyncSession, payload: PartnerFacts, event: CloudEvent) -> None:
    """A partner account appeared or changed: the read model, and the projects that name it."""
    await partners.remember(session=session, partner=payload)
    await projects.link_partner(session=session, partner=payload)


async def lock_batch(session: AsyncSession, payloads: list[object]) -> None:
    """Before a consumer batch: the ledger locks every event of it will need, taken at once in the one order,
    so two workers handling batches of disjoint earmarks never wait for each other (nor in a cycle)."""
    scope = locks.NOTHING
    for payload in payloads:
        if scope.spanning:
            break
        if isinstance(payload, AgreementFacts):
            scope |= await funding.scope_of_earmark(session, payload.earmark)
        elif isinstance(payload, DisbursementReceived):
            scope |= await funding.scope_of_disbursement(session, payload.agreement_id)
    await locks.take(session, scope)


SUBSCRIPTIONS = [
    on(AgreementPledged, agreement_changed),
    on(AgreementSigned, agreement_changed),
    on(AgreementAmended, agreement_changed),
    on(AgreementCancelled, agreement_changed),
    on(DisbursementReceived, disbursement_received),
    on(PartnerCreated, partner_seen),
    on(PartnerUpdated, partner_seen),
]

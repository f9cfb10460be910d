"""Every event the projects service consumes, typed by payload. Each handler runs in one transaction with its
inbox row; the topics to subscribe to follow from the event registry."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.events import CloudEvent
from aid_common.subscriptions import on
from aid_contracts.notifications import PartnerCreated, PartnerFacts, PartnerUpdated
from aid_contracts.pledges import (
    AgreementAmended,
    AgreementCancelled,
    AgreementFacts,
    AgreementPledged,
    AgreementSigned,
    DisbursementReceived,
    PlanPublished,
)
from aid_projects import locks
from aid_projects.appeals import service as appeals
from aid_projects.funding import plan_ledger, reads
from aid_projects.funding import service as funding
from aid_projects.partners import service as partners
from aid_projects.projects import service as projects


async def agreement_changed(session: AsyncSession, payload: AgreementFacts, event: CloudEvent) -> None:
    """pledged, signed, amended or cancelled: bring the agreement's allocations, and its rows in its country's plan
    x cluster table, in line with its status."""
    await funding.apply_agreement(session=session, facts=payload, event=event)
    await plan_ledger.record(session=session, facts=payload, event=event)


async def plan_published(session: AsyncSession, payload: PlanPublished, event: CloudEvent) -> None:
    """An FTS plan's requirements in a country (an import): the plan as an appeal, its clusters as pillars."""
    await appeals.record_plan(session=session, plan=payload)


async def disbursement_received(session: AsyncSession, payload: DisbursementReceived, event: CloudEvent) -> None:
    await funding.apply_disbursement(session=session, payload=payload)


async def partner_seen(session: AsyncSession, payload: PartnerFacts, event: CloudEvent) -> None:
    """A partner account appeared or changed: the read model, and the projects that name it."""
    await partners.remember(session=session, partner=payload)
    await projects.link_partner(session=session, partner=payload)


async def lock_batch(session: AsyncSession, payloads: list[object], wait: bool) -> set[int] | None:
    """Before each transaction of a consumer batch: the ledger locks of one lane (a country, or the spanning one) —
    the first free one, or with `wait` the first one, waited for — and the positions of the events it covers.
    Two workers whose batches mix the same countries (events are keyed by agreement, so every partition carries
    every country) thus work on different countries at once instead of one waiting for the other's whole batch.
    Under the lane's locks, the rows its events will read are read at once, one statement each (`reads`)."""
    scopes = await reads.scopes(session=session, payloads=payloads)
    covered = await (locks.take_first(session, scopes) if wait else locks.take_free(session, scopes))
    ids = [
        p.agreement_id
        for p in map(payloads.__getitem__, covered)
        if isinstance(p, AgreementFacts | DisbursementReceived)
    ]
    await reads.load(session=session, agreement_ids=ids)
    await plan_ledger.load(session=session, agreement_ids=ids)
    return covered


SUBSCRIPTIONS = [
    on(AgreementPledged, agreement_changed),
    on(AgreementSigned, agreement_changed),
    on(AgreementAmended, agreement_changed),
    on(AgreementCancelled, agreement_changed),
    on(DisbursementReceived, disbursement_received),
    on(PlanPublished, plan_published),
    on(PartnerCreated, partner_seen),
    on(PartnerUpdated, partner_seen),
]

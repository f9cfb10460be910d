"""Agreements from imported OCHA FTS flows, keyed by FTS flow id: a new flow is created; a higher version amends
it (amount, status, destination); the same or a lower version changes nothing. FTS is the record here: its
`amountUSD` is the agreement's USD amount exactly (the rate derived from it), its dates are the days the money
moved, and a parked parent of 0 USD is an agreement too. A paid flow is also money received."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import select, tuple_
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.auth import Caller
from aid_common.db import utcnow
from aid_common.insert_new import Dependents, NewAggregate, insert_many
from aid_contracts.pledges import AgreementPledged, AgreementSigned, DisbursementReceived, DonorRef
from aid_contracts.types import currency_exponent
from aid_pledges.agreements import writes
from aid_pledges.agreements.facts import (
    amended_event,
    donor_ref,
    facts_of,
    history_entry,
    received_event,
    record_history,
)
from aid_pledges.agreements.models import (
    Agreement,
    AgreementHistory,
    Disbursement,
    FtsDetails,
    FtsOrganisation,
    HistoryAction,
    Status,
)
from aid_pledges.imports.fts_mapping import country_of, received, route_of, status_of
from aid_pledges.imports.fts_models import FtsFlow
from aid_pledges.organisations.models import Organisation

Outcome = Literal["created", "amended", "unchanged"]
RATE_PLACES = Decimal("1e-10")
CENT = Decimal("0.01")


def usd_of(flow: FtsFlow) -> Decimal:
    """FTS's `amountUSD`, to the cent (FTS states whole dollars: nothing is rounded away)."""
    return flow.amount_usd.quantize(CENT)


class NotImportable(ValueError):
    """This flow cannot become an agreement; the message says why (the import skips it and goes on)."""


def moved_on(flow: FtsFlow) -> dt.date:
    """The day FTS says the money moved: its decision date, else its date."""
    moment = flow.decision_date or flow.date
    if moment is None:
        raise NotImportable("the flow has neither a decision date nor a date")
    return moment.date()


def money_of(flow: FtsFlow) -> tuple[Decimal, str, Decimal]:
    """Amount, currency and rate (USD per unit): the original amount when FTS has one in a known currency, the
    rate derived from FTS's USD figure; otherwise the USD figure itself."""
    original, currency = flow.original_amount, (flow.original_currency or "").upper()
    try:
        places = currency_exponent(currency) if currency else None
    except (KeyError, ValueError):
        places = None
    if original is None or original <= 0 or places is None or flow.amount_usd <= 0:
        return usd_of(flow), "USD", Decimal(1)
    amount = original.quantize(Decimal(1).scaleb(-min(places, 4)))
    return amount, currency, (usd_of(flow) / amount).quantize(RATE_PLACES)


def details_of(flow: FtsFlow) -> FtsDetails:
    return FtsDetails(
        flow_id=flow.id,
        version=flow.version,
        flow_type=flow.flow_type,
        contribution_type=flow.contribution_type,
        parent_flow_id=flow.parent_flow_id,
        child_flow_ids=flow.child_flow_ids,
        recipients=[
            FtsOrganisation(fts_id=o.id, name=o.name, types=o.organization_types)
            for o in flow.objects("destination", "Organization")
        ],
        locations=[o.name for o in flow.objects("destination", "Location")],
        usage_years=sorted(o.name for o in flow.objects("destination", "UsageYear")),
        decided_on=flow.decision_date.date() if flow.decision_date else None,
    )


async def known_versions(*, session: AsyncSession, flow_ids: list[str]) -> dict[str, int]:
    """The version recorded for each of these FTS flows that is already an agreement (one statement for a page)."""
    rows = await session.execute(
        select(Agreement.fts_flow_id, Agreement.fts_version).where(Agreement.fts_flow_id.in_(flow_ids))
    )
    return {flow_id: version or 0 for flow_id, version in rows.all() if flow_id is not None}


def reference_of(flow_id: str) -> str:
    """An imported flow's agreement reference: its donor's references are its own, so one per FTS flow."""
    return f"FTS-{flow_id}"


async def taken_references(*, session: AsyncSession, pairs: list[tuple[uuid.UUID, str]]) -> set[tuple[uuid.UUID, str]]:
    """Of these (donor id, reference) pairs, those an agreement already has (one statement for a page, on the
    donor's unique index)."""
    if not pairs:
        return set()
    key = tuple_(Agreement.donor_id, Agreement.reference)
    rows = await session.execute(select(Agreement.donor_id, Agreement.reference).where(key.in_(pairs)))
    return {(donor_id, reference) for donor_id, reference in rows.all()}


def reference_taken(flow_id: str, donor_id: uuid.UUID) -> NotImportable:
    return NotImportable(f"donor {donor_id} already has an agreement with reference {reference_of(flow_id)}")


async def apply_flow(
    *,
    session: AsyncSession,
    flow: FtsFlow,
    donor: Organisation,
    recipient: Organisation | None,
    caller: Caller,
    known: int | None,
) -> Outcome:
    """`known`: the version already recorded for this flow (None: none is), read for the whole page at once."""
    if known is None:
        await _create(session, flow, donor, recipient, caller)
        return "created"
    if flow.version <= known:
        return "unchanged"  # the same version, or an older one arriving late
    existing = (
        await session.execute(select(Agreement).where(Agreement.fts_flow_id == flow.id).with_for_update())
    ).scalar_one()
    if existing.fts_version is not None and flow.version <= existing.fts_version:
        return "unchanged"  # another import recorded it meanwhile
    if recipient is not None:
        existing.recipient_id = recipient.id
    await _amend(session, existing, flow, donor_ref(donor), caller)
    return "amended"


@dataclass(frozen=True)
class NewFlow:
    """A flow never imported, ready to write: its agreement with its history (and, paid, its disbursement) and its
    event, and the money received."""

    flow: FtsFlow
    aggregate: NewAggregate
    received: DisbursementReceived | None


def new_flow(
    flow: FtsFlow, donor: Organisation, recipient: Organisation | None, caller: Caller, dialect: Dialect
) -> NewFlow:
    """Everything a new flow writes, checked against its columns, without touching the database: raises
    `NotImportable` or `ValueError` (an amount beyond the columns) for a flow that cannot be imported."""
    amount, currency, rate = money_of(flow)
    day = moved_on(flow)
    signed = status_of(flow) == Status.SIGNED
    now = utcnow()
    agreement = Agreement(
        id=uuid.uuid4(),
        donor_id=donor.id,
        recipient_id=recipient.id if recipient else None,
        reference=reference_of(flow.id),
        title=(flow.description or f"FTS flow {flow.id}")[:500],
        status=status_of(flow),
        amount=amount,
        currency=currency,
        fx_rate=rate,
        amount_usd=usd_of(flow),
        disbursed_usd=Decimal("0.00"),
        earmark_country=country_of(flow),
        pledged_on=day,
        signed_on=day if signed else None,
        fts_flow_id=flow.id,
        fts_version=flow.version,
        route=route_of(flow).model_dump(),
        fts=details_of(flow).model_dump(mode="json"),
        created_at=now,
        updated_at=now,
    )
    ref = donor_ref(donor)
    details = {"fts_flow_id": flow.id, "fts_version": flow.version, "amount_usd": flow.amount_usd}
    history = [history_entry(agreement, HistoryAction.CREATED, caller, status=agreement.status, **details)]
    event: AgreementSigned | AgreementPledged = (
        AgreementSigned(**facts_of(agreement, ref), signed_on=day)
        if signed
        else AgreementPledged(**facts_of(agreement, ref), pledged_on=day)
    )
    paid, received_now = [], None
    if received(flow) and flow.amount_usd > 0:
        agreement.disbursed_usd = agreement.amount_usd  # written with the agreement; the disbursement follows it
        disbursement = _disbursement(agreement, flow, agreement.amount_usd, now)
        paid.append({c: getattr(disbursement, c) for c in writes.DISBURSEMENT_COLUMNS})
        history.append(_received_entry(agreement, disbursement, caller))
        received_now = received_event(agreement, disbursement, ref)
    values = writes.values_of(agreement)
    dependents = [
        Dependents(writes.HISTORY, writes.HISTORY_COLUMNS, history),
        Dependents(writes.DISBURSEMENTS, writes.DISBURSEMENT_COLUMNS, paid),
    ]
    aggregate = NewAggregate(
        table=writes.AGREEMENTS, values=values, conflict=writes.REFERENCE, dependents=dependents, event=event
    )
    aggregate.check(dialect)
    return NewFlow(flow, aggregate, received_now)


async def create_many(*, session: AsyncSession, flows: list[NewFlow]) -> list[bool]:
    """Write new flows, a statement per table for all of them; whether each was written (not: its donor already
    has an agreement with its reference, and nothing of it is written)."""
    written = await insert_many(session, [f.aggregate for f in flows])
    received_events: list[BaseModel] = [
        f.received for f, ok in zip(flows, written, strict=True) if ok and f.received is not None
    ]
    await outbox.insert_events(await session.connection(), received_events)  # after the agreements' own events
    return written


def taken(flow: NewFlow) -> NotImportable:
    return reference_taken(flow.flow.id, flow.aggregate.values["donor_id"])


async def _create(
    session: AsyncSession, flow: FtsFlow, donor: Organisation, recipient: Organisation | None, caller: Caller
) -> None:
    new = new_flow(flow, donor, recipient, caller, session.get_bind().dialect)
    if not (await create_many(session=session, flows=[new]))[0]:
        raise taken(new)


async def _amend(session: AsyncSession, agreement: Agreement, flow: FtsFlow, ref: DonorRef, caller: Caller) -> None:
    """A higher version: the amount, status and destination FTS now gives."""
    previous, previous_usd = agreement.amount, agreement.amount_usd
    was_signed = agreement.status == Status.SIGNED
    agreement.amount, agreement.currency, agreement.fx_rate = money_of(flow)
    agreement.amount_usd = usd_of(flow)
    agreement.earmark_country = country_of(flow)
    agreement.route = route_of(flow).model_dump()
    agreement.fts = details_of(flow).model_dump(mode="json")
    agreement.fts_version = flow.version
    day = moved_on(flow)
    if status_of(flow) == Status.SIGNED and not was_signed:
        agreement.status, agreement.signed_on = Status.SIGNED.value, day
        outbox.add(session, AgreementSigned(**facts_of(agreement, ref), signed_on=day))
    else:
        outbox.add(session, amended_event(agreement, ref, previous, previous_usd, day))
    record_history(
        session,
        agreement,
        HistoryAction.AMENDED,
        caller,
        fts_version=flow.version,
        status=agreement.status,
        old_amount_usd=previous_usd,
        new_amount_usd=agreement.amount_usd,
    )
    left = agreement.amount_usd - agreement.disbursed_usd
    if received(flow) and left > 0:
        agreement.disbursed_usd = agreement.amount_usd
        _receive(session, agreement, flow, ref, caller, amount_usd=left)
    await session.flush()


def _receive(
    session: AsyncSession, agreement: Agreement, flow: FtsFlow, ref: DonorRef, caller: Caller, *, amount_usd: Decimal
) -> None:
    """A paid flow: `amount_usd` received on its date (the agreement's `disbursed_usd` already counts it)."""
    disbursement = _disbursement(agreement, flow, amount_usd, utcnow())
    session.add(disbursement)
    outbox.add(session, received_event(agreement, disbursement, ref))
    session.add(AgreementHistory(**_received_entry(agreement, disbursement, caller)))


def _disbursement(agreement: Agreement, flow: FtsFlow, amount_usd: Decimal, now: dt.datetime) -> Disbursement:
    return Disbursement(
        id=uuid.uuid4(),
        agreement_id=agreement.id,
        amount=amount_usd,
        currency="USD",
        fx_rate=Decimal(1),
        amount_usd=amount_usd,
        received_on=(flow.date or flow.decision_date or now).date(),
        created_at=now,
    )


def _received_entry(agreement: Agreement, disbursement: Disbursement, caller: Caller) -> dict[str, Any]:
    return history_entry(
        agreement,
        HistoryAction.DISBURSEMENT,
        caller,
        amount_usd=disbursement.amount_usd,
        received_on=disbursement.received_on,
    )

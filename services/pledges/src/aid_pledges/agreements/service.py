"""Donor agreements: pledged → signed → cancelled, amendments and disbursements. Every state change writes
its event to the outbox in the same transaction."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from decimal import Decimal

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.auth import Caller
from aid_common.db import utcnow
from aid_common.errors import Conflict, NotFound, Unprocessable
from aid_common.notified_cache import NotifiedCache
from aid_common.pagination import batches, keyset, page
from aid_contracts.pledges import (
    AgreementCancelled,
    AgreementPledged,
    AgreementSigned,
)
from aid_contracts.types import in_currency
from aid_pledges.agreements import checks, writes
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
    AgreementCreate,
    AgreementHistory,
    AmendRequest,
    Disbursement,
    DisbursementCreate,
    HistoryAction,
    Status,
)
from aid_pledges.donors import service as donors
from aid_pledges.earmarks import service as earmarks
from aid_pledges.fx import service as fx
from aid_pledges.organisations import service as organisations
from aid_pledges.organisations.models import Organisation


async def create(
    *, session: AsyncSession, data: AgreementCreate, caller: Caller, cache: NotifiedCache | None = None
) -> Agreement:
    """The busiest write there is (partner systems post every agreement they sign): the donor and rate from
    `cache` (read once per process until they change), then the agreement, its history and its event written
    together unless its reference is taken (`writes.write_new`: one statement on PostgreSQL, no ORM flush)."""
    checks.check_places(data.amount, data.currency)
    donor = await donors.ref_or_422(session=session, donor_id=data.donor_id, cache=cache)
    if data.recipient_id is not None:
        await organisations.receives(session=session, organisation_id=data.recipient_id)
    today = checks.today()
    pledged_on, signed_on = _dates_of_new(data, today=today)
    await earmarks.check(session=session, earmark=data.earmark)
    rate = await fx.rate_on(session=session, currency=data.currency, day=signed_on or today, cache=cache)
    agreement = _new_agreement(data, donor_id=donor.id, rate=rate, pledged_on=pledged_on, signed_on=signed_on)
    history = [
        history_entry(
            agreement,
            HistoryAction.CREATED,
            caller,
            status=agreement.status,
            amount=agreement.amount,
            currency=agreement.currency,
            amount_usd=agreement.amount_usd,
            pledged_on=agreement.pledged_on,
        )
    ]
    event: AgreementSigned | AgreementPledged
    if signed_on is not None:
        history.append(history_entry(agreement, HistoryAction.SIGNED, caller, signed_on=signed_on, fx_rate=rate))
        event = AgreementSigned(**facts_of(agreement, donor), signed_on=signed_on)
    else:
        event = AgreementPledged(**facts_of(agreement, donor), pledged_on=pledged_on)
    if not await writes.write_new(session=session, agreement=agreement, history=history, event=event):
        raise Conflict(f"donor {donor.id} already has an agreement with reference {data.reference!r}")
    return agreement


def _dates_of_new(data: AgreementCreate, *, today: dt.date) -> tuple[dt.date, dt.date | None]:
    """A new agreement's pledge date and, created signed, its signing date (today unless given); neither in the
    future, and not signed before it was pledged. Created already signed and no pledge date given: it was
    announced when it was signed."""
    signed_on = (data.signed_on or today) if data.status is Status.SIGNED else None
    pledged_on = data.pledged_on or signed_on or today
    if signed_on is not None:
        checks.not_in_future(signed_on, "signed_on")
        checks.not_after(signed_on, pledged_on, "signed_on", "pledged_on")
    checks.not_in_future(pledged_on, "pledged_on")
    return pledged_on, signed_on


def _new_agreement(
    data: AgreementCreate, *, donor_id: uuid.UUID, rate: Decimal, pledged_on: dt.date, signed_on: dt.date | None
) -> Agreement:
    """Transient: written by `writes.write_new`'s INSERT, answered from here."""
    e = data.earmark
    now = utcnow()
    return Agreement(
        id=uuid.uuid4(),
        donor_id=donor_id,
        recipient_id=data.recipient_id,
        reference=data.reference,
        title=data.title,
        status=data.status.value,
        amount=data.amount,
        currency=data.currency,
        fx_rate=rate,
        amount_usd=checks.usd(data.amount, data.currency, rate),
        disbursed_usd=Decimal("0.00"),
        earmark_project_id=e.project_id,
        earmark_country=e.country,
        earmark_sector=e.sector.value if e.sector else None,
        earmark_appeal=e.appeal,
        earmark_pillar=e.pillar,
        pledged_on=pledged_on,
        signed_on=signed_on,
        cancelled_on=None,
        cancel_reason=None,
        created_at=now,
        updated_at=now,
    )


async def get_or_404(*, session: AsyncSession, agreement_id: uuid.UUID, for_update: bool = False) -> Agreement:
    stmt = select(Agreement).where(Agreement.id == agreement_id)
    if for_update:
        stmt = stmt.with_for_update()
    agreement = (await session.execute(stmt)).scalar_one_or_none()
    if agreement is None:
        raise NotFound(f"no agreement with id {agreement_id}")
    return agreement


async def sign(*, session: AsyncSession, agreement_id: uuid.UUID, signed_on: dt.date, caller: Caller) -> Agreement:
    agreement = await get_or_404(session=session, agreement_id=agreement_id, for_update=True)
    if agreement.status != Status.PLEDGED:
        raise Conflict(f"agreement {agreement_id} is {agreement.status}; only a pledged agreement can be signed")
    checks.not_after(signed_on, agreement.pledged_on, "signed_on", "pledged_on")
    checks.not_in_future(signed_on, "signed_on")
    await earmarks.check(session=session, earmark=agreement.earmark)
    rate = await fx.rate_on(session=session, currency=agreement.currency, day=signed_on)
    agreement.status, agreement.signed_on = Status.SIGNED.value, signed_on
    agreement.fx_rate, agreement.amount_usd = rate, checks.usd(agreement.amount, agreement.currency, rate)
    donor = await donors.get_or_404(session=session, donor_id=agreement.donor_id)
    outbox.add(session, AgreementSigned(**facts_of(agreement, donor_ref(donor)), signed_on=signed_on))
    record_history(
        session,
        agreement,
        HistoryAction.SIGNED,
        caller,
        signed_on=signed_on,
        fx_rate=rate,
        amount_usd=agreement.amount_usd,
    )
    await session.flush()
    return agreement


async def cancel(*, session: AsyncSession, agreement_id: uuid.UUID, reason: str, caller: Caller) -> Agreement:
    agreement = await get_or_404(session=session, agreement_id=agreement_id, for_update=True)
    if agreement.status == Status.CANCELLED:
        raise Conflict(f"agreement {agreement_id} is already cancelled")
    if agreement.disbursed_usd > 0:
        raise Conflict(
            f"agreement {agreement_id} has disbursements ({agreement.disbursed_usd} USD); "
            "amend it down to what was received instead of cancelling"
        )
    was_signed = agreement.status == Status.SIGNED
    agreement.status, agreement.cancelled_on, agreement.cancel_reason = Status.CANCELLED.value, checks.today(), reason
    donor = await donors.get_or_404(session=session, donor_id=agreement.donor_id)
    outbox.add(
        session,
        AgreementCancelled(
            **facts_of(agreement, donor_ref(donor)),
            was_signed=was_signed,
            reason=reason,
            cancelled_on=agreement.cancelled_on,
        ),
    )
    record_history(session, agreement, HistoryAction.CANCELLED, caller, reason=reason, was_signed=was_signed)
    await session.flush()
    return agreement


async def amend(*, session: AsyncSession, agreement_id: uuid.UUID, data: AmendRequest, caller: Caller) -> Agreement:
    agreement = await get_or_404(session=session, agreement_id=agreement_id, for_update=True)
    if agreement.status == Status.CANCELLED:
        raise Conflict(f"agreement {agreement_id} is cancelled and cannot be amended")
    checks.check_places(data.amount, agreement.currency)
    if data.amended_on is not None:
        checks.not_after(data.amended_on, agreement.pledged_on, "amended_on", "pledged_on")
        checks.not_in_future(data.amended_on, "amended_on")
        if (last := await _last_amended_on(session=session, agreement_id=agreement.id)) is not None:
            # amendments follow one another: the figures as of a day are the last amendment on or before it
            checks.not_after(data.amended_on, last, "amended_on", "the previous amendment's amended_on")
    if data.amount == agreement.amount:
        shown = in_currency(agreement.amount, agreement.currency)
        raise Unprocessable(f"the agreement's amount is already {shown} {agreement.currency}")
    # the agreement keeps the rate it was converted at
    new_usd = checks.usd(data.amount, agreement.currency, agreement.fx_rate)
    if new_usd < agreement.disbursed_usd:
        raise Unprocessable(
            f"the new amount ({new_usd} USD) is below what was already received ({agreement.disbursed_usd} USD)"
        )
    previous, previous_usd = agreement.amount, agreement.amount_usd
    agreement.amount, agreement.amount_usd = data.amount, new_usd
    donor = await donors.get_or_404(session=session, donor_id=agreement.donor_id)
    outbox.add(session, amended_event(agreement, donor_ref(donor), previous, previous_usd, data.amended_on))
    record_history(
        session,
        agreement,
        HistoryAction.AMENDED,
        caller,
        old_amount=in_currency(previous, agreement.currency),
        new_amount=in_currency(data.amount, agreement.currency),
        old_amount_usd=previous_usd,
        new_amount_usd=new_usd,
        amended_on=data.amended_on or checks.today(),
    )
    await session.flush()
    return agreement


async def _last_amended_on(*, session: AsyncSession, agreement_id: uuid.UUID) -> dt.date | None:
    details = await session.scalar(
        select(AgreementHistory.details)
        .where(AgreementHistory.agreement_id == agreement_id, AgreementHistory.action == HistoryAction.AMENDED)
        .order_by(AgreementHistory.id.desc())
        .limit(1)
    )
    day = (details or {}).get("amended_on")
    return dt.date.fromisoformat(day) if day else None


async def disburse(
    *, session: AsyncSession, agreement_id: uuid.UUID, data: DisbursementCreate, caller: Caller
) -> Disbursement:
    agreement = await get_or_404(session=session, agreement_id=agreement_id, for_update=True)
    _check_receivable(agreement, data)
    rate = await fx.rate_on(session=session, currency=data.currency, day=data.received_on)
    amount_usd = checks.usd(data.amount, data.currency, rate)
    if agreement.disbursed_usd + amount_usd > agreement.amount_usd:
        left = agreement.amount_usd - agreement.disbursed_usd
        raise Unprocessable(
            f"this disbursement ({amount_usd} USD) would exceed the signed amount: {agreement.amount_usd} USD "
            f"signed, {agreement.disbursed_usd} USD already received, {left} USD left"
        )
    disbursement = Disbursement(
        id=uuid.uuid4(),
        agreement_id=agreement.id,
        amount=data.amount,
        currency=data.currency,
        fx_rate=rate,
        amount_usd=amount_usd,
        received_on=data.received_on,
    )
    session.add(disbursement)
    agreement.disbursed_usd = agreement.disbursed_usd + amount_usd
    donor = await donors.get_or_404(session=session, donor_id=agreement.donor_id)
    outbox.add(session, received_event(agreement, disbursement, donor_ref(donor)))
    record_history(
        session,
        agreement,
        HistoryAction.DISBURSEMENT,
        caller,
        disbursement_id=disbursement.id,
        amount=in_currency(data.amount, data.currency),
        currency=data.currency,
        amount_usd=amount_usd,
        received_on=data.received_on,
    )
    await session.flush()
    return disbursement


def _check_receivable(agreement: Agreement, data: DisbursementCreate) -> None:
    """Money is received only against a signed agreement, not before it was signed nor in the future."""
    if agreement.status != Status.SIGNED or agreement.signed_on is None:
        raise Unprocessable(
            f"agreement {agreement.id} is {agreement.status}; money is received only against a signed agreement"
        )
    checks.not_after(data.received_on, agreement.signed_on, "received_on", "signed_on")
    checks.not_in_future(data.received_on, "received_on")
    checks.check_places(data.amount, data.currency)


async def disbursements(
    *, session: AsyncSession, agreement_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[Disbursement], str | None]:
    await get_or_404(session=session, agreement_id=agreement_id)
    stmt = select(Disbursement).where(Disbursement.agreement_id == agreement_id)
    rows = (await session.execute(keyset(stmt, Disbursement, cursor=cursor, limit=limit))).scalars().all()
    return page(rows, limit=limit)


async def history(*, session: AsyncSession, agreement_id: uuid.UUID) -> list[AgreementHistory]:
    await get_or_404(session=session, agreement_id=agreement_id)
    rows = await session.execute(
        select(AgreementHistory).where(AgreementHistory.agreement_id == agreement_id).order_by(AgreementHistory.id)
    )
    return list(rows.scalars())


def _filtered(
    stmt: Select,
    *,
    donor_id: uuid.UUID | None,
    status: str | None,
    country: str | None,
    sector: str | None,
    appeal: str | None = None,
) -> Select:
    for column, value in (
        (Agreement.donor_id, donor_id),
        (Agreement.status, status),
        (Agreement.earmark_country, country),
        (Agreement.earmark_sector, sector),
        (Agreement.earmark_appeal, appeal),
    ):
        if value:
            stmt = stmt.where(column == value)
    return stmt


async def list_(
    *,
    session: AsyncSession,
    donor_id: uuid.UUID | None,
    status: str | None,
    country: str | None,
    sector: str | None,
    cursor: str | None,
    limit: int,
    appeal: str | None = None,
) -> tuple[list[Agreement], str | None]:
    stmt = _filtered(select(Agreement), donor_id=donor_id, status=status, country=country, sector=sector, appeal=appeal)
    rows = (await session.execute(keyset(stmt, Agreement, cursor=cursor, limit=limit))).scalars().all()
    return page(rows, limit=limit)


async def all_matching(
    *,
    session: AsyncSession,
    donor_id: uuid.UUID | None,
    status: str | None,
    country: str | None,
    sector: str | None,
    appeal: str | None = None,
) -> AsyncIterator[list[tuple[Agreement, Organisation]]]:
    """Every agreement the list's filters select, with its donor, in creation order, a batch at a time (the
    export: all rows, never all in memory at once)."""
    stmt = _filtered(
        select(Agreement, Organisation).join(Organisation, Organisation.id == Agreement.donor_id),
        donor_id=donor_id,
        status=status,
        country=country,
        sector=sector,
        appeal=appeal,
    )
    async for rows in batches(session, stmt, Agreement):
        yield [(a, d) for a, d in rows]

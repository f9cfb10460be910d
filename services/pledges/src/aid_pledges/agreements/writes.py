"""How a new agreement is written: the busiest write there is (partner systems post every agreement they sign).
The agreement, its history rows and its event go through `aid_common.insert_new` — one statement on PostgreSQL —
and the agreement's INSERT is also its reference check: when the donor already used the reference nothing at all
is written."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.insert_new import Dependents, insert_new
from aid_pledges.agreements.models import Agreement, AgreementHistory, Disbursement

AGREEMENTS = Agreement.__table__
HISTORY = AgreementHistory.__table__
HISTORY_COLUMNS = ("agreement_id", "action", "actor", "correlation_id", "details", "at")
DISBURSEMENTS = Disbursement.__table__
DISBURSEMENT_COLUMNS = tuple(c.key for c in DISBURSEMENTS.columns)
REFERENCE = ("donor_id", "reference")  # a donor's references are its own: the agreement's natural key


def values_of(agreement: Agreement) -> dict[str, Any]:
    """Every column of a transient agreement, as a row to insert."""
    return {c.key: getattr(agreement, c.key) for c in AGREEMENTS.columns}


async def write_new(
    *, session: AsyncSession, agreement: Agreement, history: list[dict[str, Any]], event: BaseModel
) -> bool:
    """Write `agreement` (a transient object), its `history` rows and its `event`. False, and nothing written,
    when its donor already used its reference."""
    return await insert_new(
        session,
        table=AGREEMENTS,
        values=values_of(agreement),
        conflict=REFERENCE,
        dependents=[Dependents(HISTORY, HISTORY_COLUMNS, history)],
        event=event,
    )

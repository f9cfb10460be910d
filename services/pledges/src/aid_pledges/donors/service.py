"""Donors: the governments, funds, banks and societies that sign agreements."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.errors import NotFound, Unprocessable
from aid_common.pagination import keyset, page
from aid_contracts.pledges import DonorRef
from aid_pledges.donors.models import Donor, DonorCreate


async def create(*, session: AsyncSession, data: DonorCreate) -> Donor:
    donor = Donor(name=data.name, names=dict(data.names), kind=data.kind.value, country=data.country)
    session.add(donor)
    await session.flush()
    return donor


async def get_or_404(*, session: AsyncSession, donor_id: uuid.UUID) -> Donor:
    donor = await session.get(Donor, donor_id)
    if donor is None:
        raise NotFound(f"no donor with id {donor_id}")
    return donor


_DONORS = Donor.__table__
_REF = select(_DONORS.c.id, _DONORS.c.name, _DONORS.c.names, _DONORS.c.kind, _DONORS.c.country).where(
    _DONORS.c.id == bindparam("donor_id")
)


async def ref_or_422(*, session: AsyncSession, donor_id: uuid.UUID) -> DonorRef:
    """What an agreement's event says about its donor, read with one prepared statement (the busiest write, every
    new agreement, needs only this — not the ORM object)."""
    row = (await session.execute(_REF, {"donor_id": donor_id})).first()
    if row is None:
        raise Unprocessable(f"donor_id {donor_id} does not name a known donor; create it with POST /v1/donors")
    return DonorRef(id=row.id, name=row.name, names=row.names, kind=row.kind, country=row.country)


async def list_(
    *, session: AsyncSession, country: str | None, kind: str | None, cursor: str | None, limit: int
) -> tuple[list[Donor], str | None]:
    stmt = select(Donor)
    if country:
        stmt = stmt.where(Donor.country == country)
    if kind:
        stmt = stmt.where(Donor.kind == kind)
    rows = (await session.execute(keyset(stmt, Donor, cursor=cursor, limit=limit))).scalars().all()
    return page(rows, limit=limit)

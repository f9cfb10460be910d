"""Donors: the governments, funds, banks and societies that sign agreements."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.errors import NotFound, Unprocessable
from aid_common.pagination import keyset, page
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


async def get_or_422(*, session: AsyncSession, donor_id: uuid.UUID) -> Donor:
    """For references inside a request body: an unknown donor makes the request unprocessable, not a 404."""
    donor = await session.get(Donor, donor_id)
    if donor is None:
        raise Unprocessable(f"donor_id {donor_id} does not name a known donor; create it with POST /v1/donors")
    return donor


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

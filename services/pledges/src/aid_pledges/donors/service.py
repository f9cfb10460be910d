"""Donors: the governments, funds, banks and societies that sign agreements."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.errors import NotFound, Unprocessable
from aid_common.notified_cache import NotifiedCache
from aid_common.pagination import keyset, page
from aid_contracts.pledges import DonorRef
from aid_pledges.donors.models import Donor, DonorCreate, DonorKind
from aid_pledges.reference_cache import donor_key


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


async def ref_or_422(*, session: AsyncSession, donor_id: uuid.UUID, cache: NotifiedCache | None = None) -> DonorRef:
    """What an agreement's event says about its donor: from `cache` when given (the busiest write, every new
    agreement, needs only this — a donor changes only by hand, and a trigger announces it), else one statement."""

    async def read() -> DonorRef:
        row = (await session.execute(_REF, {"donor_id": donor_id})).first()
        if row is None:  # raised, so not kept: a donor created later is found
            raise Unprocessable(f"donor_id {donor_id} does not name a known donor; create it with POST /v1/donors")
        return DonorRef(id=row.id, name=row.name, names=row.names, kind=row.kind, country=row.country)

    return await read() if cache is None else await cache.get(donor_key(donor_id), read)


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


# FTS organisation types → donor kinds (the first type that maps wins).
FTS_KINDS = {
    "Government": DonorKind.GOVERNMENT,
    "Pooled fund": DonorKind.POOLED_FUND,
    "UN agency": DonorKind.UN_AGENCY,
    "Red Cross/Red Crescent": DonorKind.NATIONAL_SOCIETY,
    "Financial institution": DonorKind.DEVELOPMENT_BANK,
    "NGO": DonorKind.NGO,
    "Inter-governmental": DonorKind.INTERGOVERNMENTAL,
    "Private organization/foundation": DonorKind.PRIVATE,
}


async def by_fts_organisation(*, session: AsyncSession, fts_org_ids: set[str]) -> dict[str, Donor]:
    """The donors already known by these FTS organisation ids (one statement for a page of flows)."""
    rows = await session.execute(select(Donor).where(Donor.fts_org_id.in_(fts_org_ids)))
    return {d.fts_org_id: d for d in rows.scalars() if d.fts_org_id is not None}


async def for_fts_organisation(
    *, session: AsyncSession, fts_org_id: str, name: str, types: list[str], country: str | None
) -> Donor:
    """The donor FTS knows by this organisation id, created the first time it is seen."""
    donor = (await session.execute(select(Donor).where(Donor.fts_org_id == fts_org_id))).scalar_one_or_none()
    if donor is None:
        kind = next((FTS_KINDS[t] for t in types if t in FTS_KINDS), DonorKind.OTHER)
        donor = Donor(
            name=name[:300], names={}, kind=kind.value, country=country, fts_org_id=fts_org_id, fts_types=types
        )
        session.add(donor)
        await session.flush()
    return donor

"""Donors: the organisations that give — governments, funds, banks and societies that sign agreements."""

from __future__ import annotations

import uuid

from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.errors import NotFound, Unprocessable
from aid_common.notified_cache import NotifiedCache
from aid_contracts.pledges import DonorRef
from aid_pledges.donors.models import DonorCreate, DonorKind
from aid_pledges.organisations import service as organisations
from aid_pledges.organisations.models import Organisation, Role
from aid_pledges.reference_cache import donor_key


async def create(*, session: AsyncSession, data: DonorCreate) -> Organisation:
    donor = Organisation(
        name=data.name, names=dict(data.names), kind=data.kind.value, country=data.country, fts_types=[]
    )
    donor.grant(Role.DONOR, *([Role.POOLED_FUND] if data.kind is DonorKind.POOLED_FUND else []))
    return await organisations.add(session, donor)


async def get_or_404(*, session: AsyncSession, donor_id: uuid.UUID) -> Organisation:
    donor = await session.get(Organisation, donor_id)
    if donor is None or not donor.is_donor:
        raise NotFound(f"no donor with id {donor_id}")
    return donor


_ORGANISATIONS = Organisation.__table__
_REF = select(
    _ORGANISATIONS.c.id, _ORGANISATIONS.c.name, _ORGANISATIONS.c.names, _ORGANISATIONS.c.kind, _ORGANISATIONS.c.country
).where(_ORGANISATIONS.c.id == bindparam("donor_id"), _ORGANISATIONS.c.is_donor.is_(True))


async def ref_or_422(*, session: AsyncSession, donor_id: uuid.UUID, cache: NotifiedCache | None = None) -> DonorRef:
    """What an agreement's event says about its donor: from `cache` when given (the busiest write, every new
    agreement, needs only this — a donor changes only by hand, and a trigger announces it), else one statement."""

    async def read() -> DonorRef:
        row = (await session.execute(_REF, {"donor_id": donor_id})).first()
        if row is None:  # raised, so not kept: a donor created later is found
            raise Unprocessable(
                f"donor_id {donor_id} does not name a known donor; create it with POST /v1/donors, or give an "
                "organisation the donor role with PATCH /v1/organisations/{id} (add_roles)"
            )
        return DonorRef(id=row.id, name=row.name, names=row.names, kind=row.kind, country=row.country)

    return await read() if cache is None else await cache.get(donor_key(donor_id), read)


async def list_(
    *, session: AsyncSession, country: str | None, kind: str | None, cursor: str | None, limit: int
) -> tuple[list[Organisation], str | None]:
    return await organisations.list_(
        session=session, role=Role.DONOR, country=country, kind=kind, fts_org_id=None, cursor=cursor, limit=limit
    )

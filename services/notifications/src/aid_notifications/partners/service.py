from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.auth import Caller
from aid_common.errors import Conflict, Forbidden, NotFound, Unprocessable
from aid_common.pagination import keyset, page
from aid_contracts.notifications import PartnerCreated, PartnerUpdated
from aid_contracts.pledges import OrganisationFacts
from aid_notifications.partners.models import KnownOrganisation, Partner, PartnerCreate, PartnerUpdate


def visible_partner(caller: Caller) -> uuid.UUID | None:
    """The only partner a caller may see, or None for every partner (admins and operator tokens without a
    partner_id claim)."""
    return None if caller.is_admin else caller.partner_id


async def create(*, session: AsyncSession, data: PartnerCreate) -> Partner:
    """A partner account; opened for a known organisation, it takes that organisation's id (one identity)."""
    if data.organisation_id is not None:
        if await session.get(KnownOrganisation, data.organisation_id) is None:
            raise Unprocessable(
                f"organisation_id {data.organisation_id} names no organisation this service has heard of; create it "
                "with POST /v1/organisations on the pledges service (it is announced within seconds), or omit it",
                errors=[{"location": "body.organisation_id", "message": "unknown organisation"}],
            )
        if await session.get(Partner, data.organisation_id) is not None:
            raise Conflict(f"organisation {data.organisation_id} already has a partner account")
    partner = Partner(id=data.organisation_id or uuid.uuid4(), name=data.name, names=data.names)
    session.add(partner)
    await session.flush()
    outbox.add(session, PartnerCreated(partner_id=partner.id, name=partner.name, names=partner.names))
    return partner


async def update(*, session: AsyncSession, partner_id: uuid.UUID, data: PartnerUpdate) -> Partner:
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise NotFound(f"no partner with id {partner_id}")
    changes = data.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        raise Unprocessable("nothing to change: give name or names")
    for field, value in changes.items():
        setattr(partner, field, value)
    outbox.add(session, PartnerUpdated(partner_id=partner.id, name=partner.name, names=partner.names))
    await session.flush()
    return partner


async def get_visible(*, session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> Partner:
    only = visible_partner(caller)
    partner = await session.get(Partner, partner_id)
    if partner is None or (only is not None and only != partner_id):
        raise NotFound(f"no partner with id {partner_id}")
    return partner


async def check_may_act_for(*, session: AsyncSession, caller: Caller, partner_id: uuid.UUID) -> Partner:
    only = visible_partner(caller)
    if only is not None and only != partner_id:
        raise Forbidden("a partner token manages only its own partner's subscriptions")
    partner = await session.get(Partner, partner_id)
    if partner is None:
        raise Unprocessable(
            f"no partner with id {partner_id}",
            errors=[{"location": "body.partner_id", "message": "unknown partner"}],
        )
    return partner


async def list_(*, session: AsyncSession, caller: Caller, cursor: str | None, limit: int):
    stmt = select(Partner)
    only = visible_partner(caller)
    if only is not None:
        stmt = stmt.where(Partner.id == only)
    rows = (await session.execute(keyset(stmt, Partner, cursor=cursor, limit=limit))).scalars().all()
    return page(rows, limit=limit)


async def organisation_seen(*, session: AsyncSession, organisation: OrganisationFacts) -> None:
    """Remember an organisation the pledges service announced (the latest of its events wins)."""
    known = await session.get(KnownOrganisation, organisation.organisation_id)
    if known is None:
        known = KnownOrganisation(id=organisation.organisation_id)
        session.add(known)
    known.name, known.names, known.roles = organisation.name, dict(organisation.names), list(organisation.roles)
    await session.flush()

"""Organisations: one identity per organisation across its roles and across services. Every creation and change
is announced (aid.organisation.created / updated) so that the other services keep the same names and ids; a new
partner account (aid.partner.created, from the notifications service) becomes, or joins, the organisation with
its id."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.errors import NotFound, Unprocessable
from aid_common.pagination import keyset, page
from aid_contracts.notifications import PartnerFacts
from aid_contracts.pledges import OrganisationCreated, OrganisationUpdated
from aid_pledges.organisations.models import (
    Organisation,
    OrganisationCreate,
    OrganisationKind,
    OrganisationUpdate,
    Role,
)


def announce(session: AsyncSession, organisation: Organisation, *, created: bool) -> None:
    """aid.organisation.created or .updated: the organisation as it is now."""
    event = OrganisationCreated if created else OrganisationUpdated
    outbox.add(
        session,
        event(
            organisation_id=organisation.id,
            name=organisation.name,
            names=organisation.names,
            kind=organisation.kind,
            country=organisation.country,
            roles=[r.value for r in organisation.roles],
            fts_org_id=organisation.fts_org_id,
            fts_types=organisation.fts_types,
        ),
    )


async def add(session: AsyncSession, organisation: Organisation) -> Organisation:
    """Store a new organisation (its id is given, or made at the flush) and announce it."""
    session.add(organisation)
    await session.flush()
    announce(session, organisation, created=True)
    return organisation


async def create(*, session: AsyncSession, data: OrganisationCreate) -> Organisation:
    organisation = Organisation(
        name=data.name, names=dict(data.names), kind=data.kind.value, country=data.country, fts_types=[]
    )
    organisation.grant(*data.roles)
    return await add(session, organisation)


async def get_or_404(*, session: AsyncSession, organisation_id: uuid.UUID) -> Organisation:
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise NotFound(f"no organisation with id {organisation_id}")
    return organisation


async def update(*, session: AsyncSession, organisation_id: uuid.UUID, data: OrganisationUpdate) -> Organisation:
    organisation = await get_or_404(session=session, organisation_id=organisation_id)
    for field in ("name", "names", "country"):
        if (value := getattr(data, field)) is not None:
            setattr(organisation, field, dict(value) if field == "names" else value)
    organisation.grant(*(data.add_roles or []))
    await session.flush()
    announce(session, organisation, created=False)
    return organisation


async def grant(session: AsyncSession, organisation: Organisation, *roles: Role) -> None:
    """Add roles an organisation is now seen to play (a recipient that gives, a donor with a partner account)."""
    if organisation.grant(*roles):
        await session.flush()
        announce(session, organisation, created=False)


async def receives(*, session: AsyncSession, organisation_id: uuid.UUID) -> None:
    """An agreement names this organisation as its recipient: it must exist, and plays that role from now on."""
    organisation = await session.get(Organisation, organisation_id)
    if organisation is None:
        raise Unprocessable(
            f"recipient_id {organisation_id} does not name a known organisation; create it with POST /v1/organisations",
            errors=[{"location": "body.recipient_id", "message": "unknown organisation"}],
        )
    await grant(session, organisation, Role.RECIPIENT)


async def list_(
    *,
    session: AsyncSession,
    role: Role | None,
    country: str | None,
    kind: str | None,
    fts_org_id: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Organisation], str | None]:
    stmt = select(Organisation)
    if role:
        stmt = stmt.where(getattr(Organisation, f"is_{role.value}").is_(True))
    if country:
        stmt = stmt.where(Organisation.country == country)
    if kind:
        stmt = stmt.where(Organisation.kind == kind)
    if fts_org_id:
        stmt = stmt.where(Organisation.fts_org_id == fts_org_id)
    rows = (await session.execute(keyset(stmt, Organisation, cursor=cursor, limit=limit))).scalars().all()
    return page(rows, limit=limit)


# FTS organisation types → organisation kinds (the first type that maps wins).
FTS_KINDS = {
    "Government": OrganisationKind.GOVERNMENT,
    "Pooled fund": OrganisationKind.POOLED_FUND,
    "UN agency": OrganisationKind.UN_AGENCY,
    "Red Cross/Red Crescent": OrganisationKind.NATIONAL_SOCIETY,
    "Financial institution": OrganisationKind.DEVELOPMENT_BANK,
    "NGO": OrganisationKind.NGO,
    "Inter-governmental": OrganisationKind.INTERGOVERNMENTAL,
    "Private organization/foundation": OrganisationKind.PRIVATE,
}


async def by_fts_organisation(*, session: AsyncSession, fts_org_ids: set[str]) -> dict[str, Organisation]:
    """The organisations already known by these FTS organisation ids (one statement for a page of flows)."""
    rows = await session.execute(select(Organisation).where(Organisation.fts_org_id.in_(fts_org_ids)))
    return {o.fts_org_id: o for o in rows.scalars() if o.fts_org_id is not None}


async def for_fts_organisation(
    *, session: AsyncSession, fts_org_id: str, name: str, types: list[str], country: str | None, role: Role
) -> Organisation:
    """The organisation FTS knows by this id, created the first time it is seen, playing `role` from now on."""
    by_fts_id = select(Organisation).where(Organisation.fts_org_id == fts_org_id)
    found = (await session.execute(by_fts_id)).scalar_one_or_none()
    if found is not None:
        await grant(session, found, role)
        return found
    organisation = from_fts(fts_org_id=fts_org_id, name=name, types=types, country=country)
    organisation.grant(role)
    return await add(session, organisation)


def from_fts(*, fts_org_id: str, name: str, types: list[str], country: str | None) -> Organisation:
    """A new organisation as FTS names it, not stored yet (its id given): its kind from FTS's organisation types,
    a pooled fund from the start; the roles it plays are granted by the caller."""
    kind = next((FTS_KINDS[t] for t in types if t in FTS_KINDS), OrganisationKind.OTHER)
    organisation = Organisation(
        id=uuid.uuid4(), name=name[:300], names={}, kind=kind.value, country=country, fts_org_id=fts_org_id,
        fts_types=types, is_donor=False, is_recipient=False, is_implementing_partner=False, is_pooled_fund=False,
    )  # fmt: skip
    organisation.grant(*([Role.POOLED_FUND] if kind is OrganisationKind.POOLED_FUND else []))
    return organisation


def add_new(session: AsyncSession, organisations: list[Organisation]) -> None:
    """Store new organisations (ids given) and announce each, written at the session's next flush."""
    session.add_all(organisations)
    for organisation in organisations:
        announce(session, organisation, created=True)


async def partner_seen(*, session: AsyncSession, partner: PartnerFacts) -> None:
    """A partner account is an organisation acting as implementing partner, under the same id: the organisation
    it was opened for, or a new one. Its names follow the account's (replays change nothing)."""
    organisation = await session.get(Organisation, partner.partner_id)
    if organisation is None:
        organisation = Organisation(
            id=partner.partner_id, name=partner.name, names=dict(partner.names), kind="other", fts_types=[]
        )
        organisation.grant(Role.IMPLEMENTING_PARTNER)
        await add(session, organisation)
        return
    changed = organisation.grant(Role.IMPLEMENTING_PARTNER)
    if (organisation.name, organisation.names) != (partner.name, dict(partner.names)):
        organisation.name, organisation.names, changed = partner.name, dict(partner.names), True
    if changed:
        await session.flush()
        announce(session, organisation, created=False)

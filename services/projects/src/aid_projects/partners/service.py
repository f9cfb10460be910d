"""Partners in projects: roles reference partner accounts (names come from the account), checked against the
read model as of the last partner event seen. An organisation that has no account yet may still be named (its
name is kept); when an account with that name appears, the role is linked to it."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.db import utcnow
from aid_common.errors import Unprocessable
from aid_contracts.notifications import PartnerFacts
from aid_projects.partners.models import KnownPartner, PartnerIn


async def resolve(*, session: AsyncSession, partners: list[PartnerIn]) -> list[dict]:
    """The stored form of a project's partner roles: `{partner_id, name, names, role}`, names from the account."""
    out = []
    for i, p in enumerate(partners):
        if p.partner_id is None:
            out.append({"partner_id": None, "name": p.name, "names": p.names, "role": p.role})
            continue
        known = await session.get(KnownPartner, p.partner_id)
        if known is None:
            raise Unprocessable(
                f"partners[{i}].partner_id: no partner account {p.partner_id} is known (as of the last partner event "
                "this service has seen; an account created a moment ago is known within about a second)",
                errors=[{"location": f"body.partners.{i}.partner_id", "message": "unknown partner"}],
            )
        out.append({"partner_id": str(known.id), "name": known.name, "names": known.names, "role": p.role})
    return out


async def remember(*, session: AsyncSession, partner: PartnerFacts) -> None:
    """A partner account appeared or changed: keep it (projects.service.link_partner updates the projects)."""
    known = await session.get(KnownPartner, partner.partner_id)
    if known is None:
        known = KnownPartner(id=partner.partner_id)
        session.add(known)
    known.name, known.names, known.seen_at = partner.name, partner.names, utcnow()

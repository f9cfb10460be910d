"""Every event the notifications service consumes: each event type of aid.pledges.v1 and aid.projects.v1,
matched against the subscriptions in one transaction with its inbox row; organisations are also remembered."""

from __future__ import annotations

from typing import cast

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.events import CloudEvent, registry
from aid_common.subscriptions import Handler, on
from aid_contracts import PLEDGES_TOPIC, PROJECTS_TOPIC
from aid_contracts.pledges import OrganisationCreated, OrganisationUpdated
from aid_notifications.deliveries import service as deliveries
from aid_notifications.partners import service as partners


async def match_subscriptions(session: AsyncSession, payload: BaseModel, event: CloudEvent) -> None:
    await deliveries.fan_out(session=session, event=event)


async def organisation_seen(session: AsyncSession, payload: BaseModel, event: CloudEvent) -> None:
    """Remembered (a partner account may be opened for it), and matched like every other event."""
    organisation = cast(OrganisationCreated | OrganisationUpdated, payload)  # dispatched by type: see _OWN
    await partners.organisation_seen(session=session, organisation=organisation)
    await deliveries.fan_out(session=session, event=event)


_OWN: dict[type[BaseModel], Handler] = {OrganisationCreated: organisation_seen, OrganisationUpdated: organisation_seen}
# Every event type published on the two topics (the registry lists them; a new type is matched at once).
SUBSCRIPTIONS = [
    on(et.payload, _OWN.get(et.payload, match_subscriptions))
    for et in registry.on_topics(PLEDGES_TOPIC, PROJECTS_TOPIC)
]

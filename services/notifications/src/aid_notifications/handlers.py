"""Every event the notifications service consumes: each event type of aid.pledges.v1 and aid.projects.v1,
matched against the subscriptions in one transaction with its inbox row."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.events import CloudEvent, registry
from aid_common.subscriptions import on
from aid_contracts import PLEDGES_TOPIC, PROJECTS_TOPIC
from aid_notifications.deliveries import service as deliveries


async def match_subscriptions(session: AsyncSession, payload: BaseModel, event: CloudEvent) -> None:
    await deliveries.fan_out(session=session, event=event)


# Every event type published on the two topics (the registry lists them; a new type is matched at once).
SUBSCRIPTIONS = [on(et.payload, match_subscriptions) for et in registry.on_topics(PLEDGES_TOPIC, PROJECTS_TOPIC)]

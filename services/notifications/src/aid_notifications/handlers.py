"""Every event the notifications service consumes: all of aid.pledges.v1 and aid.projects.v1, each matched
against the subscriptions in one transaction with its inbox row."""

from __future__ import annotations

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common.consumer import Subscription, on
from aid_common.events import CloudEvent, registry
from aid_contracts import PLEDGES_TOPIC, PROJECTS_TOPIC
from aid_notifications.deliveries import service as deliveries


async def match_subscriptions(session: AsyncSession, payload: BaseModel, event: CloudEvent) -> None:
    await deliveries.fan_out(session, event=event)


TOPICS: list[str] = [PLEDGES_TOPIC, PROJECTS_TOPIC]
SUBSCRIPTIONS: list[Subscription] = [
    on(et.type, match_subscriptions) for et in registry.all() if et.topic in (PLEDGES_TOPIC, PROJECTS_TOPIC)
]

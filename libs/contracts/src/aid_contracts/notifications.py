"""Events of the notifications service, on aid.alerts.v1, key = partner id: one per delivery created, for
integrations that read Kafka instead of receiving webhooks."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel

from aid_common.events import registry
from aid_contracts.topics import ALERTS_TOPIC


@registry.register(
    "aid.alert.created",
    topic=ALERTS_TOPIC,
    source="/notifications",
    key_field="partner_id",
    summary="An event matched a partner's subscription; the same content is delivered by webhook.",
)
class AlertCreated(BaseModel):
    delivery_id: uuid.UUID
    partner_id: uuid.UUID
    subscription_id: uuid.UUID
    event_id: str
    event_type: str
    created_at: dt.datetime
    event: dict[str, Any]

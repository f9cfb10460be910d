"""Events of the notifications service: on aid.alerts.v1 (key = partner id) one per delivery created, for
integrations that read Kafka instead of receiving webhooks; on aid.partners.v1 (key = partner id) the partner
accounts, which other services keep as read models (one partner identity across services)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from pydantic import BaseModel

from aid_common.events import registry
from aid_contracts.topics import ALERTS_TOPIC, PARTNERS_TOPIC
from aid_contracts.types import Names


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


class PartnerFacts(BaseModel):
    partner_id: uuid.UUID
    name: str
    names: Names = {}


@registry.register(
    "aid.partner.created",
    topic=PARTNERS_TOPIC,
    source="/notifications",
    key_field="partner_id",
    summary="A partner organisation got an account (its id is what projects name as a partner).",
)
class PartnerCreated(PartnerFacts):
    pass


@registry.register(
    "aid.partner.updated",
    topic=PARTNERS_TOPIC,
    source="/notifications",
    key_field="partner_id",
    summary="A partner's name or names changed.",
)
class PartnerUpdated(PartnerFacts):
    pass

"""What a partner may receive through events (aid_common.visibility): funding figures, not donors' agreements
unless its token holds pledges:read; never before its subscription existed; alerts are never a webhook type."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import update

from aid_common.db import transaction
from aid_common.events import registry
from aid_contracts.pledges import AgreementSigned, DonorRef
from aid_notifications.subscriptions.models import Subscription
from tests.helpers import PROBLEM, auth, eventually
from tests.notifications.conftest import create_partner, funding_event, publish, subscribe

PARTNER_SCOPES = "notifications:read notifications:write"


def agreement_event():
    payload = AgreementSigned(
        agreement_id=uuid.uuid4(),
        donor=DonorRef(id=uuid.uuid4(), name="State of Kuwait", kind="government", country="KW"),
        reference="KW-IOM-2024-001",
        title="Health",
        status="signed",
        amount=Decimal("1000000.00"),
        currency="USD",
        fx_rate=Decimal("1"),
        amount_usd=Decimal("1000000.00"),
        earmark={"country": "SY"},
        signed_on=dt.date(2024, 5, 1),
    )
    return registry.envelope(payload)[1]


async def test_a_partner_without_pledges_read_cannot_subscribe_to_agreements(notifications, admin, token, receiver):
    partner = await create_partner(notifications, admin)
    own = auth(token(PARTNER_SCOPES, partner_id=partner["id"]))
    for types in (["aid.agreement.*"], ["aid.disbursement.received"], ["aid.*"], ["*"]):
        body = {"partner_id": partner["id"], "url": receiver.url(), "event_types": types}
        r = await notifications.client.post("/v1/subscriptions", json=body, headers=own)
        assert r.status_code == 403 and r.headers["content-type"] == PROBLEM, types
        assert "aid.agreement.signed" in r.json()["detail"] or "aid.disbursement.received" in r.json()["detail"]
    sub = await subscribe(notifications, own, partner["id"], receiver.url(), ["aid.project.*"])
    widen = await notifications.client.patch(
        f"/v1/subscriptions/{sub['id']}", json={"event_types": ["aid.agreement.*"]}, headers=own
    )
    assert widen.status_code == 403
    donor_reader = auth(token(PARTNER_SCOPES + " pledges:read", partner_id=partner["id"]))
    assert (await subscribe(notifications, donor_reader, partner["id"], receiver.url(), ["aid.agreement.*"]))["id"]


async def test_delivery_checks_again_whatever_the_types_say(notifications, admin, token, receiver) -> None:
    partner = await create_partner(notifications, admin)
    own = auth(token(PARTNER_SCOPES, partner_id=partner["id"]))
    sub = await subscribe(notifications, own, partner["id"], receiver.url(), ["aid.project.*"])
    async with transaction(notifications.runtime.sessions) as session:  # as a subscription from before this rule
        await session.execute(update(Subscription).values(event_types=["*"]))
    await publish(notifications, agreement_event())
    await publish(notifications, funding_event())
    await eventually(lambda: len(receiver.requests) >= 1, timeout=10)
    deliveries = (await notifications.client.get("/v1/deliveries", headers=own)).json()["items"]
    assert [d["event_type"] for d in deliveries] == ["aid.project.funding_updated"]
    assert sub["id"]


async def test_replay_never_reaches_before_the_subscription(notifications, admin, token, receiver) -> None:
    partner = await create_partner(notifications, admin)
    await publish(notifications, funding_event())  # before the subscription
    await eventually(lambda: notifications.runtime.consumer.outcomes["handled"] >= 1, timeout=10)
    own = auth(token(PARTNER_SCOPES, partner_id=partner["id"]))
    sub = await subscribe(notifications, own, partner["id"], receiver.url(), ["aid.project.*"])
    r = await notifications.client.post(
        f"/v1/subscriptions/{sub['id']}/replay", json={"since": "2000-01-01T00:00:00Z"}, headers=own
    )
    assert r.status_code == 202 and r.json()["deliveries"] == 0
    assert r.json()["since"] >= sub["created_at"][:19]


async def test_replays_past_the_servers_limit_are_told_to_come_back(notifications, admin, receiver) -> None:
    """Hardening item 13: replays (each reading up to 7 days of events) were not capped."""
    from aid_notifications.deps import REPLAYS

    partner = await create_partner(notifications, admin)
    sub = await subscribe(notifications, admin, partner["id"], receiver.url(), ["aid.project.*"])
    gate = REPLAYS.get(notifications.app)
    gate.running = gate.limit
    for action in ("replay", "recover"):
        r = await notifications.client.post(
            f"/v1/subscriptions/{sub['id']}/{action}", json={"since": "2000-01-01T00:00:00Z"}, headers=admin
        )
        assert r.status_code == 429 and "AID_MAX_CONCURRENT_REPLAYS" in r.json()["detail"], action
    gate.running = 0
    r = await notifications.client.post(
        f"/v1/subscriptions/{sub['id']}/replay", json={"since": "2000-01-01T00:00:00Z"}, headers=admin
    )
    assert r.status_code == 202 and gate.running == 0


async def test_alerts_are_not_a_webhook_type(notifications, admin, receiver) -> None:
    partner = await create_partner(notifications, admin)
    body = {"partner_id": partner["id"], "url": receiver.url(), "event_types": ["aid.alert.created"]}
    r = await notifications.client.post("/v1/subscriptions", json=body, headers=admin)
    assert r.status_code == 422 and "aid.alerts.v1" in r.json()["detail"]

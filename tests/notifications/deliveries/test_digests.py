"""Alerts without noise, verified as a partner's receiver would (standardwebhooks): a digest is one signed
`aid.digest` per period listing its events, thresholds let through only coverage crossings, a daily cap sends the
rest in the next digest instead of dropping them."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from standardwebhooks.webhooks import Webhook

from aid_common.db import transaction
from aid_common.events import registry
from aid_contracts.projects import ProjectFundingUpdated
from aid_notifications.deliveries import service
from tests.helpers import PROBLEM, eventually
from tests.notifications.conftest import create_partner, publish

PROJECT = uuid.uuid4()


def funding(funded: str, delta: str, requirements: str = "1000000.00", project=PROJECT):
    payload = ProjectFundingUpdated(
        project_id=project, code="SY-NW-HEALTH-24", title="Health care", country="SY", sector="health",
        requirements_usd=requirements, kind="allocation", delta_usd=delta, funded_usd=funded,
        coverage=f"{float(funded) / float(requirements):.4f}", overfunded=False, agreement_id=uuid.uuid4(),
        cause_event_id=str(uuid.uuid4()),
    )  # fmt: skip
    return registry.envelope(payload)[1]


async def _subscribe(svc, admin, partner, url, **controls) -> dict:
    body = {"partner_id": partner["id"], "url": url, "event_types": ["aid.project.funding_updated"], **controls}
    r = await svc.client.post("/v1/subscriptions", json=body, headers=admin)
    assert r.status_code == 201, r.text
    return r.json()


async def _handled(svc, n: int) -> None:
    await eventually(lambda: svc.runtime.consumer.outcomes["handled"] >= n, timeout=20)


async def _digests_due(svc, after: dt.timedelta) -> int:
    async with transaction(svc.runtime.sessions) as session:
        return len(await service.send_digests(session=session, now=dt.datetime.now(dt.UTC) + after))


def _verified(received, secret: str) -> dict:
    return Webhook(secret).verify(received.body, received.headers)


async def test_fifty_updates_in_an_hour_are_one_signed_digest(notifications, admin, receiver) -> None:
    partner = await create_partner(notifications, admin)
    sub = await _subscribe(notifications, admin, partner, receiver.url("/digest"), delivery="digest",
                           digest={"every": "1h", "timezone": "Asia/Kuwait"})  # fmt: skip
    assert sub["delivery"] == "digest" and sub["digest"]["every"] == "1h"
    for i in range(50):
        await publish(notifications, funding(f"{(i + 1) * 1000}.00", "1000.00"))
    await _handled(notifications, 50)
    assert await _digests_due(notifications, dt.timedelta(0)) == 0, "the hour is not over yet"
    assert await _digests_due(notifications, dt.timedelta(hours=1, minutes=1)) == 1
    await eventually(lambda: receiver.at("/digest"), timeout=10)
    [webhook] = receiver.at("/digest")
    digest = _verified(webhook, sub["secret"])
    assert digest["type"] == "aid.digest" and digest["data"]["count"] == 50 and len(digest["data"]["events"]) == 50
    [project] = digest["data"]["projects"]
    assert project["events"] == 50 and project["delta_usd"] == "50000.00" and project["funded_usd"] == "50000.00"
    assert await _digests_due(notifications, dt.timedelta(hours=3)) == 0, "nothing is sent twice, nor empty"


async def test_thresholds_let_through_only_a_crossing(notifications, admin, receiver) -> None:
    partner = await create_partner(notifications, admin)
    sub = await _subscribe(notifications, admin, partner, receiver.url("/levels"), thresholds=["0.5"])
    for i in range(10):  # coverage 0.1, 0.2, … 1.0: crosses 0.5 once
        await publish(notifications, funding(f"{(i + 1) * 100000}.00", "100000.00"))
    await _handled(notifications, 10)
    await eventually(lambda: receiver.at("/levels"), timeout=10)
    [webhook] = receiver.at("/levels")
    assert _verified(webhook, sub["secret"])["data"]["coverage"] == "0.5000"
    await publish(notifications, funding("400000.00", "-600000.00"))  # down across 0.5
    await eventually(lambda: len(receiver.at("/levels")) == 2, timeout=10)


async def test_past_the_daily_cap_events_wait_for_the_next_digest(notifications, admin, receiver) -> None:
    partner = await create_partner(notifications, admin)
    sub = await _subscribe(notifications, admin, partner, receiver.url("/capped"), max_per_day=5)
    for i in range(8):
        await publish(notifications, funding(f"{(i + 1) * 1000}.00", "1000.00"))
    await _handled(notifications, 8)
    await eventually(lambda: len(receiver.at("/capped")) == 5, timeout=10)
    assert await _digests_due(notifications, dt.timedelta(days=1, minutes=1)) == 1
    await eventually(lambda: len(receiver.at("/capped")) == 6, timeout=10)
    digest = _verified(receiver.at("/capped")[-1], sub["secret"])
    assert digest["type"] == "aid.digest" and digest["data"]["count"] == 3 and digest["data"]["over_daily_cap"] == 3
    immediate = [json.loads(r.body)["type"] for r in receiver.at("/capped")[:5]]
    assert immediate == ["aid.project.funding_updated"] * 5


async def test_noise_controls_are_validated(notifications, admin, receiver) -> None:
    partner = await create_partner(notifications, admin)
    base = {"partner_id": partner["id"], "url": receiver.url()}
    for body in (
        {**base, "event_types": ["aid.project.created"], "thresholds": ["0.5"]},
        {**base, "event_types": ["aid.project.*"], "digest": {"every": "1w"}},
        {**base, "event_types": ["aid.project.*"], "digest": {"every": "1d", "timezone": "Mars/Olympus"}},
        {**base, "event_types": ["aid.project.*"], "digest": {"every": "1d", "at": "25:00"}},
        {**base, "event_types": ["aid.project.*"], "max_per_day": 0},
    ):
        r = await notifications.client.post("/v1/subscriptions", json=body, headers=admin)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, body


async def test_the_daily_cap_counts_the_deliveries_queued_earlier_in_the_same_round(notifications, admin, receiver):
    """A consumer round writes its deliveries when it ends: the cap still counts those its earlier events queued,
    so eight updates in one round send five and keep three for the digest."""
    from sqlalchemy import func, select

    from aid_notifications.deliveries.models import Delivery, DigestItem

    partner = await create_partner(notifications, admin)
    await _subscribe(notifications, admin, partner, receiver.url("/capped"), max_per_day=5)
    async with transaction(notifications.runtime.sessions) as session:
        for i in range(8):
            await service.fan_out(session=session, event=funding(f"{(i + 1) * 1000}.00", "1000.00"))
    async with transaction(notifications.runtime.sessions) as session:
        queued = await session.scalar(select(func.count()).select_from(Delivery))
        held = await session.scalar(select(func.count()).where(DigestItem.overflow.is_(True)))
    assert (queued, held) == (5, 3)

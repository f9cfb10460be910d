"""Webhooks to a real local receiver: Standard Webhooks signatures, filters, retries, 410, replay, alerts topic."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from aid_contracts import ALERTS_TOPIC
from aid_notifications.app import create_app
from aid_notifications.settings import NotificationsSettings
from tests.helpers import auth, eventually
from tests.notifications.conftest import FAST, create_partner, funding_event, publish, subscribe


async def _deliveries(svc, headers, **params) -> list[dict]:
    r = await svc.client.get("/v1/deliveries", params=params, headers=headers)
    assert r.status_code == 200, r.text
    return r.json()["items"]


async def test_a_matching_event_arrives_signed_and_tampering_breaks_the_signature(
    notifications, receiver, admin
) -> None:
    partner = await create_partner(notifications, admin)
    sub = await subscribe(notifications, admin, partner["id"], receiver.url(), ["aid.project.*"])
    assert sub["secret"].startswith("whsec_")
    event = funding_event()
    await publish(notifications, event)

    await eventually(lambda: len(receiver.at("/hook")) == 1)
    got = receiver.at("/hook")[0]
    assert got.headers["content-type"].startswith("application/cloudevents+json")
    payload = Webhook(sub["secret"]).verify(got.body, got.headers)
    assert payload["id"] == event.id and payload["type"] == "aid.project.funding_updated"
    assert payload["data"]["names"]["ar"] == "الرعاية الصحية للأسر النازحة في شمال غرب سوريا"
    assert payload["correlationid"] == "corr-42"
    tampered = got.body.replace(b"300000.00", b"900000.00")
    with pytest.raises(WebhookVerificationError):
        Webhook(sub["secret"]).verify(tampered, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook("whsec_" + "A" * 32).verify(got.body, got.headers)

    async def delivered() -> bool:
        items = await _deliveries(notifications, admin)
        return len(items) == 1 and items[0]["status"] == "delivered"

    await eventually(delivered)
    [delivery] = await _deliveries(notifications, admin)
    assert delivery["webhook_id"] == got.headers["webhook-id"] and delivery["attempts"] == 1

    # The same delivery is on the alerts topic, keyed by partner, for integrations that read Kafka.
    await notifications.relay()
    alerts = [json.loads(m.value) for m in notifications.bus.messages(ALERTS_TOPIC)]
    assert [(a["type"], a["subject"]) for a in alerts] == [("aid.alert.created", partner["id"])]
    assert alerts[0]["data"]["event"]["id"] == event.id and alerts[0]["data"]["delivery_id"] == delivery["id"]


async def test_filters_are_and_across_dimensions(notifications, receiver, admin) -> None:
    partner = await create_partner(notifications, admin)
    await subscribe(
        notifications,
        admin,
        partner["id"],
        receiver.url("/sy-health"),
        ["aid.project.funding_updated"],
        countries=["SY"],
        sectors=["health"],
    )
    wanted = funding_event("SY", "health")
    for event in (funding_event("SY", "education"), funding_event("YE", "health"), wanted):
        await publish(notifications, event)
    await eventually(lambda: len(receiver.at("/sy-health")) >= 1)
    await eventually(lambda: notifications.runtime.consumer.outcomes["handled"] == 3)
    assert [json.loads(r.body)["id"] for r in receiver.at("/sy-health")] == [wanted.id]
    assert len(await _deliveries(notifications, admin)) == 1


async def test_fails_twice_then_delivered_on_the_third_attempt_with_the_same_id(notifications, receiver, admin) -> None:
    receiver.answer("/flaky", 500, 500)
    partner = await create_partner(notifications, admin)
    await subscribe(notifications, admin, partner["id"], receiver.url("/flaky"), ["aid.project.funding_updated"])
    await publish(notifications, funding_event())

    async def delivered() -> bool:
        items = await _deliveries(notifications, admin, status="delivered")
        return items[0] if items else None

    delivery = await eventually(delivered, timeout=15)
    got = receiver.at("/flaky")
    assert len(got) == 3 and len({r.headers["webhook-id"] for r in got}) == 1
    assert delivery["attempts"] == 3 and delivery["webhook_id"] == got[0].headers["webhook-id"]
    detail = (await notifications.client.get(f"/v1/deliveries/{delivery['id']}", headers=admin)).json()
    assert [a["status_code"] for a in detail["history"]] == [500, 500, 200]


async def test_always_failing_goes_dead_after_the_schedule_and_retry_sends_again(
    notifications, receiver, admin
) -> None:
    receiver.answer("/down", 500, 500, 500)
    partner = await create_partner(notifications, admin)
    await subscribe(notifications, admin, partner["id"], receiver.url("/down"), ["aid.project.funding_updated"])
    await publish(notifications, funding_event())

    async def dead() -> dict | None:
        items = await _deliveries(notifications, admin, status="dead")
        return items[0] if items else None

    delivery = await eventually(dead, timeout=15)
    assert delivery["attempts"] == 3 and len(receiver.at("/down")) == 3  # schedule "0,0.3,0.3": three tries

    r = await notifications.client.post(f"/v1/deliveries/{delivery['id']}/retry", headers=admin)
    assert r.status_code == 202
    await eventually(lambda: _deliveries(notifications, admin, status="delivered"), timeout=15)
    assert len({x.headers["webhook-id"] for x in receiver.at("/down")}) == 1


async def test_410_disables_the_subscription(notifications, receiver, admin) -> None:
    receiver.answer("/gone", 410)
    partner = await create_partner(notifications, admin)
    sub = await subscribe(notifications, admin, partner["id"], receiver.url("/gone"), ["aid.project.*"])
    await publish(notifications, funding_event())

    async def disabled() -> bool:
        body = (await notifications.client.get(f"/v1/subscriptions/{sub['id']}", headers=admin)).json()
        return body["status"] == "disabled"

    await eventually(disabled, timeout=10)
    [delivery] = await _deliveries(notifications, admin)
    assert delivery["status"] == "dead"
    # Nothing more goes to it: a retry or a replay says why instead of queueing dead deliveries.
    r = await notifications.client.post(f"/v1/deliveries/{delivery['id']}/retry", headers=admin)
    assert r.status_code == 409 and "disabled" in r.json()["detail"]
    r = await notifications.client.post(
        f"/v1/subscriptions/{sub['id']}/replay", json={"since": "2000-01-01T00:00:00Z"}, headers=admin
    )
    assert r.status_code == 409 and "PATCH" in r.json()["detail"]
    await publish(notifications, funding_event())
    await eventually(lambda: notifications.runtime.consumer.outcomes["handled"] == 2)
    assert len(await _deliveries(notifications, admin)) == 1 and len(receiver.at("/gone")) == 1

    # Re-enabled by its owner, it gets the next events again.
    r = await notifications.client.patch(f"/v1/subscriptions/{sub['id']}", json={"status": "active"}, headers=admin)
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["disabled_reason"] is None
    await publish(notifications, funding_event())
    await eventually(lambda: len(receiver.at("/gone")) == 2, timeout=10)


async def test_retry_after_is_honoured(notifications, receiver, admin) -> None:
    receiver.answer("/busy", (503, {"Retry-After": "1"}, 0.0))
    partner = await create_partner(notifications, admin)
    await subscribe(notifications, admin, partner["id"], receiver.url("/busy"), ["aid.project.*"])
    await publish(notifications, funding_event())
    await eventually(lambda: _deliveries(notifications, admin, status="delivered"), timeout=10)
    [delivery] = await _deliveries(notifications, admin)
    detail = (await notifications.client.get(f"/v1/deliveries/{delivery['id']}", headers=admin)).json()
    t0, t1 = (dt.datetime.fromisoformat(a["created_at"]) for a in detail["history"])
    assert t1 - t0 >= dt.timedelta(seconds=0.9), "Retry-After: 1 wins over the 0.3 s schedule"


async def test_rotation_signs_with_both_secrets_and_replay_resends_with_the_same_id(
    notifications, receiver, admin
) -> None:
    partner = await create_partner(notifications, admin)
    sub = await subscribe(notifications, admin, partner["id"], receiver.url("/rot"), ["aid.project.*"])
    event = funding_event()
    await publish(notifications, event)
    await eventually(lambda: len(receiver.at("/rot")) == 1)

    r = await notifications.client.post(f"/v1/subscriptions/{sub['id']}/rotate-secret", headers=admin)
    assert r.status_code == 200
    new_secret = r.json()["secret"]
    assert new_secret != sub["secret"]
    r = await notifications.client.post(
        f"/v1/subscriptions/{sub['id']}/replay", json={"since": "2000-01-01T00:00:00Z"}, headers=admin
    )
    assert r.status_code == 202 and r.json()["deliveries"] == 1
    await eventually(lambda: len(receiver.at("/rot")) == 2)
    first, again = receiver.at("/rot")
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    assert len(again.headers["webhook-signature"].split(" ")) == 2
    for secret in (sub["secret"], new_secret):
        assert Webhook(secret).verify(again.body, again.headers)["id"] == event.id
    assert "secret" not in (await notifications.client.get(f"/v1/subscriptions/{sub['id']}", headers=admin)).json()


async def test_a_slow_partner_does_not_hold_up_the_others(start_service, sqlite_url, receiver, admin) -> None:
    svc = await start_service(
        create_app,
        NotificationsSettings,
        sqlite_url,
        role="all",
        **FAST | {"AID_DELIVERY_CONCURRENCY": "4", "AID_DELIVERY_PER_SUBSCRIPTION": "2"},
    )
    receiver.answer("/slow", *[(200, {}, 3.0)] * 6)
    partner = await create_partner(svc, admin)
    await subscribe(svc, admin, partner["id"], receiver.url("/slow"), ["aid.project.*"], countries=["YE"])
    await subscribe(svc, admin, partner["id"], receiver.url("/fast"), ["aid.project.*"], countries=["SY"])
    for _ in range(6):
        await publish(svc, funding_event("YE"))
    await eventually(lambda: len(receiver.at("/slow")) == 2, timeout=10)
    for _ in range(3):
        await publish(svc, funding_event("SY"))

    await eventually(lambda: len(receiver.at("/fast")) == 3, timeout=2.5)
    assert len(receiver.at("/slow")) == 2, "the slow partner never had more than its two requests open"


async def test_a_subscription_at_its_cap_gets_its_next_webhook_as_soon_as_one_ends(
    start_service, sqlite_url, receiver, admin
) -> None:
    """Two requests at a time for one subscription, an endpoint answering in 0.2 s, a poll interval of 3 s: 20
    webhooks take about 2 s, not the 30 s that waiting out the interval after every pair would."""
    svc = await start_service(
        create_app,
        NotificationsSettings,
        sqlite_url,
        role="all",
        **FAST | {"AID_DELIVERY_PER_SUBSCRIPTION": "2", "AID_DELIVERY_POLL_SECONDS": "3"},
    )
    receiver.answer("/hook", *[(200, {}, 0.2)] * 20)
    partner = await create_partner(svc, admin)
    await subscribe(svc, admin, partner["id"], receiver.url(), ["aid.project.*"])
    for _ in range(20):
        await publish(svc, funding_event())
    await eventually(lambda: len(receiver.at("/hook")) == 20, timeout=15)


async def test_an_idle_worker_sends_at_once_when_deliveries_are_committed_not_at_its_next_poll(
    start_service, sqlite_url, receiver, admin
) -> None:
    """The worker polls every 30 s here; a matching event, and a delivery retried by hand, still go out within
    seconds: the commit that queued them wakes the worker in the same process."""
    svc = await start_service(
        create_app, NotificationsSettings, sqlite_url, role="all", **FAST | {"AID_DELIVERY_POLL_SECONDS": "30"}
    )
    partner = await create_partner(svc, admin)
    await subscribe(svc, admin, partner["id"], receiver.url(), ["aid.project.*"])
    await asyncio.sleep(1)  # the worker's first claim found nothing: it sleeps its 30 s
    await publish(svc, funding_event())
    await eventually(lambda: len(receiver.at("/hook")) == 1, timeout=5)
    (delivery,) = await _deliveries(svc, admin)
    r = await svc.client.post(f"/v1/deliveries/{delivery['id']}/retry", headers=admin)
    assert r.status_code == 202, r.text
    await eventually(lambda: len(receiver.at("/hook")) == 2, timeout=5)


async def test_a_partner_recovers_its_failed_deliveries_after_an_outage(notifications, receiver, admin, token) -> None:
    receiver.answer("/outage", *([500] * 6))
    partner = await create_partner(notifications, admin)
    own = auth(token("notifications:read notifications:write", partner_id=partner["id"]))
    sub = await subscribe(notifications, own, partner["id"], receiver.url("/outage"), ["aid.project.funding_updated"])
    for _ in range(2):
        await publish(notifications, funding_event())

    async def both_dead() -> bool:
        return len(await _deliveries(notifications, own, status="dead")) == 2

    await eventually(both_dead, timeout=15)
    listed = await _deliveries(notifications, own, status="dead")
    assert all(d["last_status_code"] == 500 and d["next_attempt_at"] is None for d in listed)
    assert all(d["last_duration_ms"] is not None and d["last_error"] == "HTTP 500" for d in listed)
    r = await notifications.client.post(
        f"/v1/subscriptions/{sub['id']}/recover", json={"since": "2000-01-01T00:00:00Z"}, headers=own
    )
    assert r.status_code == 202 and r.json()["deliveries"] == 2 and r.json()["since"] >= sub["created_at"][:19]
    await eventually(lambda: _deliveries(notifications, own, status="delivered"), timeout=15)
    other = auth(token("notifications:read notifications:write", partner_id=str(uuid.uuid4())))
    hidden = await notifications.client.post(
        f"/v1/subscriptions/{sub['id']}/recover", json={"since": "2000-01-01T00:00:00Z"}, headers=other
    )
    assert hidden.status_code == 404


async def test_a_hanging_partner_holds_only_its_share_over_all_its_subscriptions(
    start_service, sqlite_url, receiver, admin
) -> None:
    limits = {"AID_DELIVERY_CONCURRENCY": "6", "AID_DELIVERY_PER_SUBSCRIPTION": "4", "AID_DELIVERY_PER_PARTNER": "2"}
    svc = await start_service(create_app, NotificationsSettings, sqlite_url, role="all", **FAST | limits)
    for path in ("/hang-a", "/hang-b", "/hang-c"):
        receiver.answer(path, *[(200, {}, 3.0)] * 4)
    hanging = await create_partner(svc, admin, "Hanging Partner")
    for path in ("/hang-a", "/hang-b", "/hang-c"):  # many subscriptions cannot buy more slots
        await subscribe(svc, admin, hanging["id"], receiver.url(path), ["aid.project.*"], countries=["YE"])
    other = await create_partner(svc, admin, "Qatar Charity")
    await subscribe(svc, admin, other["id"], receiver.url("/fast"), ["aid.project.*"], countries=["SY"])
    for _ in range(3):
        await publish(svc, funding_event("YE"))
    hung = ("/hang-a", "/hang-b", "/hang-c")
    await eventually(lambda: sum(len(receiver.at(p)) for p in hung) == 2, timeout=10)
    for _ in range(3):
        await publish(svc, funding_event("SY"))
    await eventually(lambda: len(receiver.at("/fast")) == 3, timeout=2.5)
    assert sum(len(receiver.at(p)) for p in hung) == 2, "two requests open for the hanging partner, never more"


async def test_a_deep_queue_for_a_capped_subscription_is_claimed_a_few_at_a_time_not_one_per_webhook(
    start_service, sqlite_url, receiver, admin, monkeypatch
) -> None:
    """Sixteen requests at a time for one subscription, sixty deliveries waiting (none handed at the fan-out): a
    claim waits for a quarter of the open requests (four) to end, so each claim takes four or more, not one per
    webhook — each claim is a transaction, and one per webhook bounded such a subscription to ~55 a second."""
    from aid_common.db import transaction
    from aid_notifications.deliveries import service as deliveries
    from aid_notifications.deliveries.worker import DeliveryWorker

    monkeypatch.setattr(DeliveryWorker, "reserve", lambda self, offers, partners: [])
    claims: list[int] = []
    claim = DeliveryWorker.claim

    async def counted(self, limit: int):
        got = await claim(self, limit)
        if got:
            claims.append(len(got))
        return got

    monkeypatch.setattr(DeliveryWorker, "claim", counted)
    svc = await start_service(
        create_app,
        NotificationsSettings,
        sqlite_url,
        role="all",
        **FAST
        | {"AID_DELIVERY_PER_SUBSCRIPTION": "16", "AID_DELIVERY_PER_PARTNER": "16", "AID_DELIVERY_POLL_SECONDS": "2"},
    )
    receiver.answer("/hook", *[(200, {}, 0.05 + (i % 7) * 0.03) for i in range(60)])  # they end one by one
    partner = await create_partner(svc, admin)
    await subscribe(svc, admin, partner["id"], receiver.url(), ["aid.project.*"])
    async with transaction(svc.runtime.sessions) as session:
        for _ in range(60):
            await deliveries.fan_out(session=session, event=funding_event())

    await eventually(lambda: len(receiver.at("/hook")) == 60, timeout=20)
    assert sum(claims) == 60 and all(n >= 4 for n in claims[1:-1]), claims  # the last takes what is left

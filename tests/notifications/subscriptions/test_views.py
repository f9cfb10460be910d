"""Scopes, partner isolation and validation on every notifications route."""

from __future__ import annotations

import pytest

from tests.helpers import PROBLEM, auth, eventually
from tests.notifications.conftest import create_partner, funding_event, publish, subscribe

ZERO = "00000000-0000-0000-0000-000000000001"


async def test_a_partner_sees_and_changes_only_its_own(notifications, admin, token, receiver) -> None:
    a = await create_partner(notifications, admin, "Kuwait Red Crescent Society")
    b = await create_partner(notifications, admin, "Egyptian Red Crescent")
    as_a = auth(token("notifications:read notifications:write", partner_id=a["id"]))
    as_b = auth(token("notifications:read notifications:write", partner_id=b["id"]))
    sub_a = await subscribe(notifications, as_a, a["id"], receiver.url("/a"), ["aid.project.*"])
    sub_b = await subscribe(notifications, as_b, b["id"], receiver.url("/b"), ["aid.project.*"])
    await publish(notifications, funding_event())

    async def both_delivered() -> bool:
        items = (await notifications.client.get("/v1/deliveries", headers=admin)).json()["items"]
        return len(items) == 2 and all(d["status"] == "delivered" for d in items)

    await eventually(both_delivered)

    listed = (await notifications.client.get("/v1/subscriptions", headers=as_a)).json()["items"]
    assert [s["id"] for s in listed] == [sub_a["id"]]
    listed = (await notifications.client.get(f"/v1/subscriptions?partner_id={b['id']}", headers=as_a)).json()
    assert listed["items"] == []
    deliveries = (await notifications.client.get("/v1/deliveries", headers=as_a)).json()["items"]
    assert {d["subscription_id"] for d in deliveries} == {sub_a["id"]}
    b_delivery = (await notifications.client.get("/v1/deliveries", headers=as_b)).json()["items"][0]
    for method, path, body in (
        ("GET", f"/v1/subscriptions/{sub_b['id']}", None),
        ("PATCH", f"/v1/subscriptions/{sub_b['id']}", {"description": "mine now"}),
        ("DELETE", f"/v1/subscriptions/{sub_b['id']}", None),
        ("POST", f"/v1/subscriptions/{sub_b['id']}/replay", {"since": "2024-01-01T00:00:00Z"}),
        ("POST", f"/v1/subscriptions/{sub_b['id']}/rotate-secret", None),
        ("GET", f"/v1/deliveries/{b_delivery['id']}", None),
        ("POST", f"/v1/deliveries/{b_delivery['id']}/retry", None),
        ("GET", f"/v1/partners/{b['id']}", None),
    ):
        r = await notifications.client.request(method, path, json=body, headers=as_a)
        assert r.status_code == 404 and r.headers["content-type"] == PROBLEM, (method, path)
    r = await notifications.client.post(
        "/v1/subscriptions",
        json={"partner_id": b["id"], "url": receiver.url("/x"), "event_types": ["aid.project.*"]},
        headers=as_a,
    )
    assert r.status_code == 403
    assert [p["id"] for p in (await notifications.client.get("/v1/partners", headers=as_a)).json()["items"]] == [
        a["id"]
    ]
    # B's subscription is untouched.
    assert (await notifications.client.get(f"/v1/subscriptions/{sub_b['id']}", headers=as_b)).json()["status"] == (
        "active"
    )


@pytest.mark.parametrize(
    ("change", "location"),
    [
        ({"event_types": []}, "event_types"),
        ({"event_types": ["aid.nothing.happened"]}, "event_types"),
        ({"event_types": ["*"]}, None),
        ({"url": "not a url"}, "url"),
        ({"filter": {"countries": ["XX"]}}, "filter"),
        ({"filter": {"sectors": ["astrology"]}}, "filter"),
        ({"filter": {"donors": ["x"]}}, "filter"),
        ({"partner_id": ZERO}, "partner_id"),
    ],
)
async def test_bad_subscriptions_are_422(notifications, admin, receiver, change, location) -> None:
    partner = await create_partner(notifications, admin)
    body = {"partner_id": partner["id"], "url": receiver.url(), "event_types": ["aid.project.*"]} | change
    r = await notifications.client.post("/v1/subscriptions", json=body, headers=admin)
    if change == {"event_types": ["*"]}:
        assert r.status_code == 201  # every event: allowed
        return
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    if location:
        assert any(location in e["location"] for e in r.json()["errors"])


async def test_deleted_subscriptions_disappear_and_get_nothing(notifications, admin, receiver) -> None:
    partner = await create_partner(notifications, admin)
    sub = await subscribe(notifications, admin, partner["id"], receiver.url("/del"), ["aid.project.*"])
    assert (await notifications.client.delete(f"/v1/subscriptions/{sub['id']}", headers=admin)).status_code == 204
    assert (await notifications.client.get(f"/v1/subscriptions/{sub['id']}", headers=admin)).status_code == 404
    await publish(notifications, funding_event())
    await eventually(lambda: _handled(notifications))
    assert receiver.at("/del") == []


async def test_listing_filters_and_bad_queries(notifications, admin) -> None:
    for bad in ("?status=lost", "?limit=0", "?cursor=zzz", "?subscription_id=nope"):
        r = await notifications.client.get("/v1/deliveries" + bad, headers=admin)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, bad
    r = await notifications.client.post(
        f"/v1/subscriptions/{ZERO}/replay", json={"since": "2024-01-01T00:00:00"}, headers=admin
    )
    assert r.status_code == 422  # a time without a zone is ambiguous


async def _handled(svc) -> bool:
    return svc.runtime.consumer.outcomes["handled"] >= 1


async def test_a_replay_since_a_moment_out_of_range_is_422(notifications, admin, receiver) -> None:
    partner = await create_partner(notifications, admin)
    sub = await subscribe(notifications, admin, partner["id"], receiver.url(), ["aid.project.*"])
    r = await notifications.client.post(
        f"/v1/subscriptions/{sub['id']}/replay", json={"since": "0001-01-01T00:00:00+01:00"}, headers=admin
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


async def test_a_signing_secret_is_never_stored_in_clear_by_an_idempotency_key(notifications, admin, receiver) -> None:
    from sqlalchemy import select

    from aid_common.tables import IdempotencyRecord

    partner = await create_partner(notifications, admin)
    body = {"partner_id": partner["id"], "url": receiver.url(), "event_types": ["aid.project.*"]}
    headers = {**admin, "Idempotency-Key": "sub-1"}
    first = await notifications.client.post("/v1/subscriptions", json=body, headers=headers)
    again = await notifications.client.post("/v1/subscriptions", json=body, headers=headers)
    secret = first.json()["secret"]
    assert secret.startswith("whsec_") and again.json()["secret"] == secret, "the retry still gets its secret"
    async with notifications.runtime.sessions() as session:
        stored = [r.response for r in (await session.execute(select(IdempotencyRecord))).scalars()]
    assert stored and secret not in str(stored) and secret[6:] not in str(stored)


async def test_a_partner_may_hold_only_so_many_subscriptions(start_service, sqlite_url, admin, receiver) -> None:
    from aid_notifications.app import create_app
    from aid_notifications.settings import NotificationsSettings
    from tests.notifications.conftest import FAST

    env = {**FAST, "AID_MAX_SUBSCRIPTIONS_PER_PARTNER": "2"}
    svc = await start_service(create_app, NotificationsSettings, sqlite_url, role="api", **env)
    partner = await create_partner(svc, admin)
    for _ in range(2):
        await subscribe(svc, admin, partner["id"], receiver.url(), ["aid.project.*"])
    body = {"partner_id": partner["id"], "url": receiver.url(), "event_types": ["aid.project.*"]}
    r = await svc.client.post("/v1/subscriptions", json=body, headers=admin)
    assert r.status_code == 429 and r.headers["content-type"] == PROBLEM and r.headers["retry-after"]
    assert "AID_MAX_SUBSCRIPTIONS_PER_PARTNER" in r.json()["detail"]

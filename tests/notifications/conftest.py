from __future__ import annotations

import uuid

import pytest

from aid_common.bus import OutgoingMessage
from aid_common.events import CloudEvent, registry
from aid_notifications.app import create_app
from aid_notifications.settings import NotificationsSettings
from tests.helpers import auth

FAST = {
    "AID_WEBHOOK_ALLOW_PRIVATE": "127.0.0.0/8",
    "AID_WEBHOOK_RETRY_SCHEDULE": "0,0.3,0.3",
    "AID_DELIVERY_POLL_SECONDS": "0.05",
    "AID_WEBHOOK_TIMEOUT_SECONDS": "2",
}


@pytest.fixture
async def notifications(start_service, sqlite_url):
    return await start_service(create_app, NotificationsSettings, sqlite_url, role="all", **FAST)


@pytest.fixture
def admin(token) -> dict[str, str]:
    return auth(token("admin"))


async def create_partner(svc, admin, name: str = "Qatar Red Crescent Society") -> dict:
    r = await svc.client.post(
        "/v1/partners", json={"name": name, "names": {"ar": "الهلال الأحمر القطري"}}, headers=admin
    )
    assert r.status_code == 201, r.text
    return r.json()


async def subscribe(svc, headers, partner_id: str, url: str, types: list[str], **filter_) -> dict:
    body = {"partner_id": partner_id, "url": url, "event_types": types}
    if filter_:
        body["filter"] = filter_
    r = await svc.client.post("/v1/subscriptions", json=body, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def funding_event(country: str = "SY", sector: str = "health", **data) -> CloudEvent:
    from aid_contracts.projects import ProjectFundingUpdated

    payload = ProjectFundingUpdated(
        project_id=uuid.uuid4(),
        code=f"{country}-{sector}-1",
        title="Health care for displaced families",
        names={"ar": "الرعاية الصحية للأسر النازحة في شمال غرب سوريا"},
        country=country,
        sector=sector,
        requirements_usd="600000.00",
        kind="allocation",
        delta_usd="300000.00",
        funded_usd="300000.00",
        coverage="0.5000",
        overfunded=False,
        agreement_id=uuid.uuid4(),
        cause_event_id=str(uuid.uuid4()),
        correlation_id="corr-42",
        **data,
    )
    return registry.envelope(payload, correlation_id="corr-42")[1]


async def publish(svc, event: CloudEvent) -> None:
    topic = registry.get(event.type).topic
    await svc.bus.publish([OutgoingMessage(topic=topic, key=event.subject or "", value=event.to_json().encode())])

from __future__ import annotations

import itertools
import json
import uuid
from decimal import Decimal

import pytest

from aid_common.bus import IncomingMessage
from aid_common.events import registry
from aid_contracts import PLEDGES_TOPIC
from aid_contracts.projects import AppealCreated, PillarFacts, ProjectCreated, ProjectUpdated
from aid_pledges.app import create_app
from aid_pledges.settings import PledgesSettings
from tests.helpers import auth


@pytest.fixture
async def pledges(start_service, sqlite_url):
    return await start_service(create_app, PledgesSettings, sqlite_url)


@pytest.fixture
def writer(token) -> dict[str, str]:
    return auth(token("pledges:write pledges:read"))


@pytest.fixture
def reader(token) -> dict[str, str]:
    return auth(token("pledges:read"))


KUWAIT = {"name": "State of Kuwait", "kind": "government", "country": "KW", "names": {"ar": "دولة الكويت"}}


async def new_donor(svc, headers: dict[str, str], body: dict = KUWAIT) -> dict:
    """A donor created through the API, its aid.organisation.created already relayed: what a test counts after it
    is the agreements' own events."""
    r = await svc.client.post("/v1/donors", json=body, headers=headers)
    assert r.status_code == 201, r.text
    await svc.relay()
    return r.json()


def agreement_events(svc) -> list[dict]:
    """The events of agreements and disbursements on the pledges topic (organisations' events left out)."""
    events = [json.loads(m.value) for m in svc.bus.messages(PLEDGES_TOPIC)]
    return [e for e in events if not e["type"].startswith("aid.organisation.")]


@pytest.fixture
async def kuwait(pledges, writer) -> dict:
    return await new_donor(pledges, writer)


def agreement_body(donor_id: str, **over) -> dict:
    body = {
        "donor_id": donor_id,
        "reference": "KW-IOM-2024-001",
        "title": "دعم النازحين في شمال غرب سوريا",
        "amount": "1000000.00",
        "currency": "USD",
        "status": "signed",
        "signed_on": "2024-05-01",
        "earmark": {"country": "SY", "sector": "health"},
    }
    body.update(over)
    return body


_offsets = itertools.count()


async def tell(svc, payload) -> str:
    """Hand one event of another service to the pledges service's consumer, as Kafka would."""
    kind, event = registry.envelope(payload)
    message = IncomingMessage(
        topic=kind.topic, partition=0, offset=next(_offsets), key=event.subject, value=event.to_json()
    )
    return await svc.runtime.consumer.process(message)


def appeal_created(code: str = "IOM-GA-2024", pillars: tuple[str, ...] = ("P1", "P2")) -> AppealCreated:
    return AppealCreated(
        code=code,
        title="IOM Global Appeal 2024",
        year=2024,
        pillars=[PillarFacts(code=p, title=f"Pillar {p}", requirements_usd=Decimal("1000000.00")) for p in pillars],
    )


def project_event(status: str = "active", project_id: uuid.UUID | None = None, kind=ProjectCreated):
    extra = {"changed": ["status"]} if kind is ProjectUpdated else {}
    return kind(
        project_id=project_id or uuid.uuid4(),
        code="SY-H-1",
        title="Health care",
        country="SY",
        sector="health",
        requirements_usd=Decimal("600000.00"),
        status=status,
        **extra,
    )

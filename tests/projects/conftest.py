from __future__ import annotations

import datetime as dt
import itertools
import uuid
from decimal import Decimal

import pytest

from aid_common.bus import IncomingMessage
from aid_common.events import CloudEvent, registry
from aid_contracts import PLEDGES_TOPIC
from aid_contracts.pledges import (
    AgreementAmended,
    AgreementCancelled,
    AgreementFacts,
    AgreementSigned,
    DisbursementReceived,
    DonorRef,
)
from aid_projects.app import create_app
from aid_projects.settings import ProjectsSettings
from tests.helpers import auth

KUWAIT = DonorRef(id=uuid.uuid4(), name="State of Kuwait", names={"ar": "دولة الكويت"}, kind="government", country="KW")
_offsets = itertools.count()


@pytest.fixture
async def projects(start_service, sqlite_url):
    return await start_service(create_app, ProjectsSettings, sqlite_url)


@pytest.fixture
def writer(token) -> dict[str, str]:
    return auth(token("projects:write projects:read"))


@pytest.fixture
def reader(token) -> dict[str, str]:
    return auth(token("projects:read"))


def project_body(code: str, requirements: str, **over) -> dict:
    body = {
        "code": code,
        "title": f"Health care for displaced families ({code})",
        "names": {"ar": "الرعاية الصحية للأسر النازحة"},
        "country": "SY",
        "region": "north-west Syria",
        "sector": "health",
        "requirements_usd": requirements,
        "partners": [
            {
                "name": "Kuwait Red Crescent Society",
                "names": {"ar": "جمعية الهلال الأحمر الكويتي"},
                "role": "implementing",
            }
        ],
    }
    body.update(over)
    return body


async def create_project(svc, headers, code: str, requirements: str, **over) -> dict:
    r = await svc.client.post("/v1/projects", json=project_body(code, requirements, **over), headers=headers)
    assert r.status_code == 201, r.text
    return r.json()


def facts(amount: str, *, agreement_id: uuid.UUID | None = None, status: str = "signed", **earmark) -> dict:
    return {
        "agreement_id": agreement_id or uuid.uuid4(),
        "donor": KUWAIT,
        "reference": "KW-2024-001",
        "title": "دعم القطاع الصحي",
        "status": status,
        "amount": Decimal(amount),
        "currency": "USD",
        "fx_rate": Decimal("1"),
        "amount_usd": Decimal(amount),
        "earmark": earmark,
    }


def signed(amount: str, **kw) -> AgreementSigned:
    return AgreementSigned(**facts(amount, **kw), signed_on=dt.date(2024, 5, 1))


def amended(agreement: AgreementFacts, new_amount: str) -> AgreementAmended:
    base = agreement.model_dump(include=set(AgreementFacts.model_fields)) | {
        "amount": Decimal(new_amount),
        "amount_usd": Decimal(new_amount),
    }
    delta = Decimal(new_amount) - agreement.amount_usd
    return AgreementAmended(
        **{k: v for k, v in base.items() if k != "signed_on"},
        previous_amount=agreement.amount,
        previous_amount_usd=agreement.amount_usd,
        delta=delta,
        delta_usd=delta,
        amended_on=dt.date(2024, 6, 1),
    )


def cancelled(agreement: AgreementFacts) -> AgreementCancelled:
    base = agreement.model_dump(include=set(AgreementFacts.model_fields)) | {"status": "cancelled"}
    return AgreementCancelled(
        **{k: v for k, v in base.items() if k != "signed_on"},
        was_signed=True,
        reason="withdrawn",
        cancelled_on=dt.date(2024, 7, 1),
    )


def disbursed(agreement: AgreementSigned, amount: str, total: str) -> DisbursementReceived:
    return DisbursementReceived(
        disbursement_id=uuid.uuid4(),
        agreement_id=agreement.agreement_id,
        donor=agreement.donor,
        reference=agreement.reference,
        amount=Decimal(amount),
        currency="USD",
        fx_rate=Decimal("1"),
        amount_usd=Decimal(amount),
        disbursed_usd_total=Decimal(total),
        agreement_amount_usd=agreement.amount_usd,
        earmark=agreement.earmark,
        received_on=dt.date(2024, 8, 1),
    )


def envelope(payload, *, correlation_id: str | None = None) -> CloudEvent:
    return registry.envelope(payload, correlation_id=correlation_id)[1]


async def deliver(svc, event_or_payload, *, correlation_id: str | None = None) -> str:
    """Hand one pledges event to the service's consumer, as Kafka would; returns the consumer's outcome."""
    event = (
        event_or_payload
        if isinstance(event_or_payload, CloudEvent)
        else envelope(event_or_payload, correlation_id=correlation_id)
    )
    message = IncomingMessage(
        topic=PLEDGES_TOPIC, partition=0, offset=next(_offsets), key=event.subject, value=event.to_json()
    )
    return await svc.runtime.consumer.process(message)


async def project(svc, headers, project_id: str) -> dict:
    r = await svc.client.get(f"/v1/projects/{project_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()

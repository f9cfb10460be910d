from __future__ import annotations

import pytest

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


@pytest.fixture
async def kuwait(pledges, writer) -> dict:
    r = await pledges.client.post("/v1/donors", json=KUWAIT, headers=writer)
    assert r.status_code == 201, r.text
    return r.json()


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

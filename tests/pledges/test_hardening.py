"""Inputs that used to end in a 500 or a nonsense record: numbers beyond what is stored, a rate that makes an
agreement worth nothing, names that hide what they say. Each is a 422 problem+json and nothing is written."""

from __future__ import annotations

import pytest

from tests.helpers import PROBLEM
from tests.pledges.conftest import agreement_body


@pytest.mark.parametrize("amount", ["9999999999999999", "1E+19", "99999999999999999999"])
async def test_amounts_beyond_what_is_stored_are_422(pledges, writer, kuwait, amount) -> None:
    r = await pledges.client.post("/v1/agreements", json=agreement_body(kuwait["id"], amount=amount), headers=writer)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, r.text
    assert (await pledges.client.get("/v1/agreements", headers=writer)).json()["items"] == []


async def test_a_huge_rate_is_422(pledges, writer) -> None:
    body = {"usd_per_unit": "99999999999999", "valid_from": "2024-01-01"}
    r = await pledges.client.put("/v1/fx-rates/KWD", json=body, headers=writer)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM


async def test_an_agreement_worth_less_than_a_cent_is_refused(pledges, writer, kuwait) -> None:
    rate = {"usd_per_unit": "0.0000000001", "valid_from": "2024-01-01"}
    assert (await pledges.client.put("/v1/fx-rates/JPY", json=rate, headers=writer)).status_code == 200
    body = agreement_body(kuwait["id"], amount="5", currency="JPY")
    r = await pledges.client.post("/v1/agreements", json=body, headers=writer)
    assert r.status_code == 422 and "USD 0.00" in r.json()["detail"]


@pytest.mark.parametrize(
    "name", ["\u202egnp.exe", "   ", "\u200b\u200b", "a\u0007b", "\u200f\u200e", "\u200f", "a\uffff"]
)
async def test_names_that_hide_what_they_say_are_422(pledges, writer, name) -> None:
    r = await pledges.client.post(
        "/v1/donors", json={"name": name, "kind": "government", "country": "KW"}, headers=writer
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, name
    arabic = await pledges.client.post(
        "/v1/donors",
        json={"name": "Qatar Charity", "names": {"ar": "قطر الخيرية\u200f"}, "kind": "private", "country": "QA"},
        headers=writer,
    )
    assert arabic.status_code == 201 and arabic.json()["names"]["ar"] == "قطر الخيرية\u200f"


async def test_money_as_a_json_number_is_refused_with_a_clear_message(pledges, writer, kuwait) -> None:
    """Hardening item 14: {"amount": 0.1} was accepted although amounts are decimal strings (a JSON number is a
    binary float to most clients: 0.1 is not 0.1)."""
    r = await pledges.client.post("/v1/agreements", json=agreement_body(kuwait["id"], amount=0.1), headers=writer)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "decimal string" in r.text
    rate = await pledges.client.put("/v1/fx-rates/KWD", json={"usd_per_unit": 3.25, "valid_from": "2024-01-01"},
                                    headers=writer)  # fmt: skip
    assert rate.status_code == 422 and "decimal string" in rate.text
    assert (await pledges.client.get("/v1/agreements", headers=writer)).json()["items"] == []


async def test_an_amendment_dated_before_the_previous_one_is_refused(pledges, writer, kuwait) -> None:
    """Hardening item 14: amendments are read in the order money moved; one dated before the last broke that."""
    created = await pledges.client.post("/v1/agreements", json=agreement_body(kuwait["id"]), headers=writer)
    path = f"/v1/agreements/{created.json()['id']}/amend"
    first = await pledges.client.post(path, json={"amount": "600000", "amended_on": "2024-08-01"}, headers=writer)
    assert first.status_code == 200, first.text
    earlier = await pledges.client.post(path, json={"amount": "700000", "amended_on": "2024-07-01"}, headers=writer)
    assert earlier.status_code == 422 and earlier.headers["content-type"] == PROBLEM
    assert "previous amendment" in earlier.json()["detail"]
    same_day = await pledges.client.post(path, json={"amount": "700000", "amended_on": "2024-08-01"}, headers=writer)
    assert same_day.status_code == 200
    history = (await pledges.client.get(path.replace("/amend", "/history"), headers=writer)).json()["items"]
    assert [h["action"] for h in history].count("amended") == 2

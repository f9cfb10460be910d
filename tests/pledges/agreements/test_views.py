from __future__ import annotations

import asyncio

from aid_contracts import PLEDGES_TOPIC
from tests.helpers import PROBLEM
from tests.pledges.conftest import agreement_body, agreement_events


def _events(pledges) -> list[dict]:
    return agreement_events(pledges)


async def test_signed_agreement_in_kwd_converts_to_usd_to_the_cent_and_emits_one_signed_event(
    pledges, writer, kuwait
) -> None:
    await pledges.client.put(
        "/v1/fx-rates/KWD", json={"usd_per_unit": "3.2512345678", "valid_from": "2024-04-01"}, headers=writer
    )
    r = await pledges.client.post(
        "/v1/agreements",
        headers=writer,
        json=agreement_body(kuwait["id"], amount="1234567.891", currency="KWD", signed_on="2024-05-01"),
    )
    assert r.status_code == 201, r.text
    a = r.json()
    # 1 234 567.891 × 3.2512345678 = 4 013 869.8035151425098
    assert a["amount_usd"] == "4013869.80"
    assert a["fx_rate"] == "3.2512345678" and a["status"] == "signed" and a["amount"] == "1234567.891"
    assert await pledges.relay() == 1
    [event] = _events(pledges)
    assert event["type"] == "aid.agreement.signed" and event["subject"] == a["id"]
    assert event["data"]["amount_usd"] == "4013869.80" and event["data"]["currency"] == "KWD"
    assert event["data"]["donor"]["names"] == {"ar": "دولة الكويت"}
    assert event["data"]["title"] == "دعم النازحين في شمال غرب سوريا"
    assert pledges.bus.messages(PLEDGES_TOPIC)[-1].key == a["id"]  # after the donor's aid.organisation.created


async def test_usd_amounts_round_half_to_even(pledges, writer, kuwait) -> None:
    await pledges.client.put("/v1/fx-rates/KWD", json={"usd_per_unit": "5", "valid_from": "2024-04-01"}, headers=writer)
    for ref, amount, usd in (("h1", "1.001", "5.00"), ("h2", "1.003", "5.02")):  # 5.005 → 5.00, 5.015 → 5.02
        r = await pledges.client.post(
            "/v1/agreements",
            headers=writer,
            json=agreement_body(kuwait["id"], reference=ref, amount=amount, currency="KWD", signed_on="2024-05-01"),
        )
        assert r.json()["amount_usd"] == usd


async def test_rate_in_force_is_the_latest_on_or_before_the_signing_day(pledges, writer, kuwait) -> None:
    for day, rate in (("2024-01-01", "0.0323624595"), ("2024-03-06", "0.0211416490")):
        await pledges.client.put("/v1/fx-rates/EGP", json={"usd_per_unit": rate, "valid_from": day}, headers=writer)
    before = await pledges.client.post(
        "/v1/agreements",
        headers=writer,
        json=agreement_body(kuwait["id"], reference="a", amount="1000000", currency="EGP", signed_on="2024-03-05"),
    )
    after = await pledges.client.post(
        "/v1/agreements",
        headers=writer,
        json=agreement_body(kuwait["id"], reference="b", amount="1000000", currency="EGP", signed_on="2024-03-06"),
    )
    assert before.json()["amount_usd"] == "32362.46" and after.json()["amount_usd"] == "21141.65"


async def test_bad_amounts_currencies_and_donors_are_422_problem_json(pledges, writer, kuwait) -> None:
    cases = {
        "zero": {"amount": "0"},
        "negative": {"amount": "-5"},
        "three places in USD": {"amount": "10.123"},
        "not a number": {"amount": "ten"},
        "unknown currency": {"currency": "XYZ"},
        "no rate for currency": {"currency": "JPY"},
        "bad country": {"earmark": {"country": "ZZ"}},
        "unknown sector": {"earmark": {"sector": "rockets"}},
        "project and country": {"earmark": {"project_id": "6f1c1b2e-6a0e-4a53-9a55-000000000001", "country": "SY"}},
        "wrong type": {"title": 5},
        "infinite": {"amount": "Infinity"},
    }
    cases["unknown donor"] = {}
    for name, over in cases.items():
        donor = "6f1c1b2e-6a0e-4a53-9a55-000000000002" if name == "unknown donor" else kuwait["id"]
        r = await pledges.client.post("/v1/agreements", headers=writer, json=agreement_body(donor, **over))
        assert r.status_code == 422, (name, r.status_code, r.text)
        assert r.headers["content-type"] == PROBLEM and r.json()["detail"], name
    jpy = await pledges.client.post("/v1/agreements", headers=writer, json=agreement_body(kuwait["id"], currency="JPY"))
    assert "JPY" in jpy.json()["detail"] and "PUT /v1/fx-rates/JPY" in jpy.json()["detail"]
    assert await pledges.relay() == 0, "nothing was written"


async def test_reference_is_unique_per_donor(pledges, writer, kuwait) -> None:
    first = await pledges.client.post("/v1/agreements", headers=writer, json=agreement_body(kuwait["id"]))
    again = await pledges.client.post("/v1/agreements", headers=writer, json=agreement_body(kuwait["id"]))
    assert first.status_code == 201 and again.status_code == 409 and again.headers["content-type"] == PROBLEM


async def test_lifecycle_pledged_signed_amended_disbursed_cancelled(pledges, writer, reader, kuwait) -> None:
    c = pledges.client
    a = (
        await c.post(
            "/v1/agreements",
            headers=writer,
            json={
                **agreement_body(kuwait["id"], status="pledged", signed_on=None, amount="500000"),
                "pledged_on": "2024-04-15",
            },
        )
    ).json()
    assert a["status"] == "pledged" and a["pledged_on"] == "2024-04-15"
    early = await c.post(
        f"/v1/agreements/{a['id']}/disbursements",
        headers=writer,
        json={"amount": "1", "currency": "USD", "received_on": "2024-06-01"},
    )
    assert early.status_code == 422, "no money against a pledge"
    signed = (await c.post(f"/v1/agreements/{a['id']}/sign", headers=writer, json={"signed_on": "2024-05-01"})).json()
    assert signed["status"] == "signed" and signed["signed_on"] == "2024-05-01"
    assert (
        await c.post(f"/v1/agreements/{a['id']}/sign", headers=writer, json={"signed_on": "2024-05-01"})
    ).status_code == 409
    amended = (await c.post(f"/v1/agreements/{a['id']}/amend", headers=writer, json={"amount": "650000"})).json()
    assert amended["amount_usd"] == "650000.00"
    d = await c.post(
        f"/v1/agreements/{a['id']}/disbursements",
        headers=writer,
        json={"amount": "200000", "currency": "USD", "received_on": "2024-06-01"},
    )
    assert d.status_code == 201 and d.json()["amount_usd"] == "200000.00"
    too_much = await c.post(
        f"/v1/agreements/{a['id']}/disbursements",
        headers=writer,
        json={"amount": "450000.01", "currency": "USD", "received_on": "2024-06-02"},
    )
    assert too_much.status_code == 422 and "449999.99" not in too_much.json()["detail"]
    assert "450000.00 USD left" in too_much.json()["detail"]
    got = (await c.get(f"/v1/agreements/{a['id']}", headers=reader)).json()
    assert got["disbursed_usd"] == "200000.00"
    below = await c.post(f"/v1/agreements/{a['id']}/amend", headers=writer, json={"amount": "100000"})
    assert below.status_code == 422
    await pledges.relay()
    types = [(e["type"], e["data"].get("delta_usd")) for e in _events(pledges)]
    assert types == [
        ("aid.agreement.pledged", None),
        ("aid.agreement.signed", None),
        ("aid.agreement.amended", "150000.00"),
        ("aid.disbursement.received", None),
    ]

    b = (await c.post("/v1/agreements", headers=writer, json=agreement_body(kuwait["id"], reference="B"))).json()
    cancelled = await c.post(f"/v1/agreements/{b['id']}/cancel", headers=writer, json={"reason": "duplicate entry"})
    assert cancelled.json()["status"] == "cancelled"
    assert (await c.post(f"/v1/agreements/{b['id']}/amend", headers=writer, json={"amount": "5"})).status_code == 409
    await pledges.relay()
    last = _events(pledges)[-1]
    assert last["type"] == "aid.agreement.cancelled" and last["data"]["was_signed"] is True


async def test_listing_filters_and_pages_stably(pledges, writer, reader, kuwait) -> None:
    for i in range(7):
        over = {"reference": f"R{i}", "earmark": {"country": "YE" if i % 2 else "SY", "sector": "health"}}
        await pledges.client.post("/v1/agreements", headers=writer, json=agreement_body(kuwait["id"], **over))
    first = (await pledges.client.get("/v1/agreements", params={"country": "SY", "limit": 2}, headers=reader)).json()
    # an insert between pages does not shift the next page
    await pledges.client.post("/v1/agreements", headers=writer, json=agreement_body(kuwait["id"], reference="late"))
    rest, cursor = [], first["next_cursor"]
    while cursor:
        page = (
            await pledges.client.get(
                "/v1/agreements", params={"country": "SY", "limit": 2, "cursor": cursor}, headers=reader
            )
        ).json()
        rest += page["items"]
        cursor = page["next_cursor"]
    refs = [a["reference"] for a in first["items"] + rest]
    assert refs == ["R0", "R2", "R4", "R6", "late"]
    ye = (
        await pledges.client.get("/v1/agreements", params={"country": "YE", "status": "signed"}, headers=reader)
    ).json()
    assert [a["reference"] for a in ye["items"]] == ["R1", "R3", "R5"]


async def test_idempotency_key_replays_rejects_other_bodies_and_is_per_caller(pledges, writer, token, kuwait) -> None:
    c = pledges.client
    h = {**writer, "Idempotency-Key": "key-1"}
    first = await c.post("/v1/agreements", headers=h, json=agreement_body(kuwait["id"]))
    again = await c.post("/v1/agreements", headers=h, json=agreement_body(kuwait["id"]))
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["idempotent-replayed"] == "true"
    other = await c.post("/v1/agreements", headers=h, json=agreement_body(kuwait["id"], amount="2"))
    assert other.status_code == 422 and other.headers["content-type"] == PROBLEM
    # another caller's identical key is a different key
    from tests.helpers import auth

    someone_else = {**auth(token("pledges:write", subject="other-system")), "Idempotency-Key": "key-1"}
    theirs = await c.post("/v1/agreements", headers=someone_else, json=agreement_body(kuwait["id"], reference="X"))
    assert theirs.status_code == 201 and theirs.json()["id"] != first.json()["id"]
    assert await pledges.relay() == 2


async def test_a_failed_request_releases_its_idempotency_key(pledges, writer, kuwait) -> None:
    h = {**writer, "Idempotency-Key": "key-2"}
    body = agreement_body(kuwait["id"], currency="JPY")
    assert (await pledges.client.post("/v1/agreements", headers=h, json=body)).status_code == 422
    await pledges.client.put(
        "/v1/fx-rates/JPY", json={"usd_per_unit": "0.0067", "valid_from": "2024-01-01"}, headers=writer
    )
    assert (await pledges.client.post("/v1/agreements", headers=h, json=body)).status_code == 201


async def test_two_concurrent_requests_with_one_key_create_one_agreement(pledges, writer, reader, kuwait) -> None:
    h = {**writer, "Idempotency-Key": "key-3"}
    results = await asyncio.gather(
        *[pledges.client.post("/v1/agreements", headers=h, json=agreement_body(kuwait["id"])) for _ in range(4)]
    )
    codes = sorted(r.status_code for r in results)
    assert codes.count(201) >= 1 and set(codes) <= {201, 409}, codes
    listed = (await pledges.client.get("/v1/agreements", headers=reader)).json()["items"]
    assert len(listed) == 1
    assert await pledges.relay() == 1

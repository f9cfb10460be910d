"""What a finance officer reads back: dates that make sense, each agreement's disbursements and history, amounts
in their currency's decimals on every route, event and message."""

from __future__ import annotations

import datetime as dt
import json

from aid_contracts import PLEDGES_TOPIC
from tests.helpers import PROBLEM, auth
from tests.pledges.conftest import agreement_body

TOMORROW = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()


async def test_dates_follow_pledged_then_signed_then_received_and_none_in_the_future(pledges, writer, kuwait) -> None:
    c = pledges.client
    future = await c.post("/v1/agreements", json=agreement_body(kuwait["id"], signed_on="2031-01-01"), headers=writer)
    assert future.status_code == 422 and "signed_on" in future.json()["detail"] and "future" in future.json()["detail"]
    backwards = await c.post(
        "/v1/agreements", json=agreement_body(kuwait["id"], pledged_on="2024-06-01"), headers=writer
    )  # signed 2024-05-01, before it was pledged
    detail = backwards.json()["detail"]
    assert backwards.status_code == 422 and "signed_on" in detail and "pledged_on" in detail
    ok = await c.post("/v1/agreements", json=agreement_body(kuwait["id"], pledged_on="2024-03-01"), headers=writer)
    assert ok.status_code == 201 and ok.json()["pledged_on"] == "2024-03-01"
    url = f"/v1/agreements/{ok.json()['id']}/disbursements"
    early = await c.post(url, json={"amount": "10", "currency": "USD", "received_on": "2024-04-30"}, headers=writer)
    assert (
        early.status_code == 422 and "received_on" in early.json()["detail"] and "signed_on" in early.json()["detail"]
    )
    later = await c.post(url, json={"amount": "10", "currency": "USD", "received_on": TOMORROW}, headers=writer)
    assert later.status_code == 422


async def test_disbursements_and_history_of_an_agreement(pledges, writer, reader, kuwait, token) -> None:
    c = pledges.client
    other = auth(token("pledges:write pledges:read", subject="finance-officer"))
    body = {**agreement_body(kuwait["id"], status="pledged", signed_on=None, pledged_on="2024-04-01")}
    a = (await c.post("/v1/agreements", json=body, headers={**writer, "X-Correlation-Id": "corr-h1"})).json()
    await c.post(f"/v1/agreements/{a['id']}/sign", json={"signed_on": "2024-05-01"}, headers=other)
    await c.post(f"/v1/agreements/{a['id']}/amend", json={"amount": "1200000.00"}, headers=writer)
    for day in ("2024-06-01", "2024-07-01"):
        r = await c.post(
            f"/v1/agreements/{a['id']}/disbursements",
            json={"amount": "100000.00", "currency": "USD", "received_on": day},
            headers=writer,
        )
        assert r.status_code == 201
    listed = (await c.get(f"/v1/agreements/{a['id']}/disbursements", params={"limit": 1}, headers=reader)).json()
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    rest = await c.get(
        f"/v1/agreements/{a['id']}/disbursements", params={"cursor": listed["next_cursor"]}, headers=reader
    )
    assert [d["received_on"] for d in listed["items"] + rest.json()["items"]] == ["2024-06-01", "2024-07-01"]

    history = (await c.get(f"/v1/agreements/{a['id']}/history", headers=reader)).json()["items"]
    assert [h["action"] for h in history] == ["created", "signed", "amended", "disbursement", "disbursement"]
    assert history[0]["correlation_id"] == "corr-h1" and history[0]["actor"] == "tester"
    assert history[1]["actor"] == "finance-officer"
    assert history[2]["details"]["old_amount"] == "1000000.00" and history[2]["details"]["new_amount"] == "1200000.00"
    missing = await c.get("/v1/agreements/6f1c1b2e-6a0e-4a53-9a55-000000000009/history", headers=reader)
    assert missing.status_code == 404


async def test_amounts_carry_their_currency_decimals_everywhere(pledges, writer, kuwait) -> None:
    c = pledges.client
    body = agreement_body(kuwait["id"], amount="250000", currency="KWD")
    created = (await c.post("/v1/agreements", json=body, headers=writer)).json()
    got = (await c.get(f"/v1/agreements/{created['id']}", headers=writer)).json()
    assert created["amount"] == got["amount"] == "250000.000"
    await pledges.relay()
    event = json.loads(pledges.bus.messages(PLEDGES_TOPIC)[-1].value)
    assert event["data"]["amount"] == "250000.000"
    same = await c.post(f"/v1/agreements/{created['id']}/amend", json={"amount": "250000.0"}, headers=writer)
    assert same.status_code == 422 and "250000.000 KWD" in same.json()["detail"]


async def test_every_list_answers_items_and_unknown_parameters_are_422(pledges, writer) -> None:
    rates = await pledges.client.get("/v1/fx-rates", headers=writer)
    assert set(rates.json()) == {"items"}
    r = await pledges.client.get("/v1/agreements", params={"colour": "blue"}, headers=writer)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM and "colour" in r.json()["detail"]


async def test_every_agreement_exports_as_hxl_csv_with_the_lists_filters(pledges, writer, kuwait) -> None:
    import csv
    import io

    import hxl

    for i in range(55):  # more than a page of the list
        body = agreement_body(kuwait["id"], reference=f"KW-{i:03d}", amount="1000.000", currency="KWD")
        assert (await pledges.client.post("/v1/agreements", json=body, headers=writer)).status_code == 201
    r = await pledges.client.get("/v1/exports/agreements.csv", headers=writer)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(hxl.data(io.BytesIO(r.content)))
    assert len(rows) == 55 and {row.get("#org+name+funder") for row in rows} == {"State of Kuwait"}
    assert rows[0].get("#value+amount") == "1000.000", "in the currency's decimals"
    plain = await pledges.client.get(
        "/v1/exports/agreements.csv", params={"hxl": "false", "status": "pledged"}, headers=writer
    )
    assert list(csv.DictReader(io.StringIO(plain.text))) == []

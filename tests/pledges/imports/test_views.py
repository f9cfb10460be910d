"""POST /v1/imports/fts: the real PSE 2020 files imported as agreements, donors and plans; the same files again
(in another order) change nothing; a higher version amends exactly its flow; what cannot be read refuses the
import whole."""

from __future__ import annotations

import json
import uuid
from decimal import Decimal

from tests.fts import FLOW_PAGES, PSE, pse_flows
from tests.helpers import PROBLEM, auth
from tests.pledges.conftest import agreement_events

TABLES = sorted(PSE.glob("fts_requirements_funding*.csv"))


def _files(paths) -> list[tuple[str, tuple[str, bytes]]]:
    return [("files", (p.name, p.read_bytes())) for p in paths]


async def _import(svc, headers, files, *, key: str | None = None):
    return await svc.client.post(
        "/v1/imports/fts", files=files, headers={**headers, "Idempotency-Key": key or str(uuid.uuid4())}
    )


def _events(svc) -> list[dict]:
    return agreement_events(svc)


async def test_the_pse_files_become_agreements_donors_and_plans_once(pledges, token) -> None:
    admin = auth(token("admin"))
    r = await _import(pledges, admin, _files([*FLOW_PAGES, *TABLES]))
    assert r.status_code == 200, r.text
    summary = r.json()
    flows = pse_flows()
    assert (summary["created"], summary["plans"], summary["skipped"]) == (len(flows), 2, [])
    donors = (await pledges.client.get("/v1/donors?limit=200", headers=admin)).json()["items"]
    germany = next(d for d in donors if d["name"] == "Germany, Government of")
    assert germany["kind"] == "government" and germany["country"] == "DE" and germany["fts_org_id"] == "4306"

    await pledges.relay()
    events = _events(pledges)
    plans = [e for e in events if e["type"] == "aid.plan.published"]
    assert {(p["data"]["code"], p["data"]["plan_row"]) for p in plans} == {("HPSE20", True), ("HPSE20", False)}
    clusters = next(p for p in plans if not p["data"]["plan_row"])["data"]["clusters"]
    assert len(clusters) == 13
    assert {"key": "4905", "name": "Food Security Sector"}.items() <= next(
        c for c in clusters if c["key"] == "4905"
    ).items()
    signed = {e["data"]["reference"]: e["data"] for e in events if e["type"] == "aid.agreement.signed"}
    assert signed and all(e["route"] is not None for e in signed.values())
    parked = signed["FTS-138397"]  # a parked parent: only its undistributed rest, here nothing
    assert parked["amount_usd"] == "0.00" and parked["route"]["one_country_year"] is False
    read = (await pledges.client.get(f"/v1/agreements/{parked['agreement_id']}", headers=admin)).json()
    assert read["fts"]["flow_type"] == "Parked" and read["fts"]["child_flow_ids"][:2] == ["190286", "190287"]
    assert read["fts"]["recipients"] == [
        {"fts_id": "2967", "name": "International Committee of the Red Cross", "types": ["Red Cross/Red Crescent"]}
    ]
    assert read["fts"]["usage_years"] == ["2016", "2017", "2018", "2019", "2020"] and read["route"]["plan"] is None
    assert len({e["correlationid"] for e in events if "correlationid" in e}) <= 1

    again = await _import(pledges, admin, _files([*TABLES[::-1], *FLOW_PAGES[::-1]]))
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["amended"]) == (0, 0)
    assert again.json()["unchanged"] == summary["created"]
    unnamed = [d for d in donors if d["fts_org_id"] == "unnamed"]
    assert len(unnamed) == 1 and unnamed[0]["name"] == "Source not named in FTS" and unnamed[0]["country"] is None


async def test_a_higher_version_amends_its_flow_and_a_lower_one_changes_nothing(pledges, token) -> None:
    admin = auth(token("admin"))
    page = json.loads(FLOW_PAGES[0].read_bytes())
    flow = next(f for f in page["data"]["flows"] if f["status"] == "commitment" and f["amountUSD"] > 0)
    one = {"data": {"flows": [flow]}}
    assert (await _import(pledges, admin, [("files", ("one.json", json.dumps(one).encode()))])).json()["created"] == 1

    paid = {**flow, "versionId": flow["versionId"] + 1, "status": "paid", "amountUSD": flow["amountUSD"] + 1000}
    r = await _import(pledges, admin, [("files", ("v2.json", json.dumps({"data": {"flows": [paid]}}).encode()))])
    assert r.json()["amended"] == 1
    older = {**flow, "versionId": flow["versionId"] - 1, "amountUSD": 5}
    r = await _import(pledges, admin, [("files", ("v0.json", json.dumps({"data": {"flows": [older]}}).encode()))])
    assert (r.json()["amended"], r.json()["unchanged"]) == (0, 1)

    agreement = (await pledges.client.get("/v1/agreements", headers=admin)).json()["items"][0]
    assert Decimal(agreement["amount_usd"]) == Decimal(flow["amountUSD"] + 1000)
    assert Decimal(agreement["disbursed_usd"]) == Decimal(flow["amountUSD"] + 1000)
    await pledges.relay()
    kinds = [e["type"] for e in _events(pledges)]
    assert kinds == ["aid.agreement.signed", "aid.agreement.amended", "aid.disbursement.received"]


async def test_a_file_that_cannot_be_read_refuses_the_import_whole(pledges, token) -> None:
    admin = auth(token("admin"))
    hdx = PSE / "fts_incoming_funding_pse.csv"
    r = await _import(pledges, admin, _files([FLOW_PAGES[0], hdx]))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert "fts_incoming_funding_pse.csv" in r.json()["detail"] and "flow-search" in r.json()["detail"]
    truncated = FLOW_PAGES[0].read_bytes()[:50_000]
    r = await _import(pledges, admin, [*_files([FLOW_PAGES[1]]), ("files", ("cut.json", truncated))])
    assert r.status_code == 422 and "cut.json" in r.json()["detail"]
    assert (await pledges.client.get("/v1/agreements", headers=admin)).json()["items"] == []


async def test_only_admins_import_and_a_key_is_not_reused_for_other_files(pledges, token) -> None:
    writer = auth(token("pledges:write pledges:read"))
    assert (await _import(pledges, writer, _files(TABLES))).status_code == 403
    admin = auth(token("admin"))
    key = str(uuid.uuid4())
    first = await _import(pledges, admin, _files(TABLES), key=key)
    replay = await _import(pledges, admin, _files(TABLES), key=key)
    assert replay.headers.get("idempotent-replayed") == "true" and replay.json() == first.json()
    other = await _import(pledges, admin, _files(TABLES[:1]), key=key)
    assert other.status_code == 422


async def test_an_import_may_be_larger_than_any_json_body(pledges, token) -> None:
    admin = auth(token("admin"))
    base = json.loads(FLOW_PAGES[0].read_bytes())["data"]["flows"]
    flows = [{**flow, "id": str(900000 + n)} for n, flow in enumerate(base * 4)]
    page = json.dumps({"data": {"flows": flows}}).encode()
    assert len(page) > 1_000_000  # AID_MAX_BODY_BYTES: a JSON body this large is 413
    r = await _import(pledges, admin, [("files", ("big.json", page))])
    assert r.status_code == 200, r.text
    assert r.json()["created"] == len(flows)
    r = await pledges.client.post("/v1/donors", content=b"{" + b" " * 1_100_000 + b"}", headers=admin)
    assert r.status_code == 413


async def test_the_same_flows_twice_in_one_import_are_created_once(pledges, token) -> None:
    admin = auth(token("admin"))
    page = FLOW_PAGES[-1]
    r = await _import(
        pledges, admin, [("files", ("a.json", page.read_bytes())), ("files", ("b.json", page.read_bytes()))]
    )
    flows = len(json.loads(page.read_bytes())["data"]["flows"])
    assert (r.json()["created"], r.json()["unchanged"], r.json()["skipped"]) == (flows, flows, [])

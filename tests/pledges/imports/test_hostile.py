"""Hostile FTS files: a NUL character, a number no column holds or an id longer than FTS ids are skips that flow
with its reason (never a 500); an unknown query parameter is refused."""

from __future__ import annotations

import json
import uuid

from tests.fts import FLOW_PAGES
from tests.helpers import PROBLEM, auth


async def test_hostile_flows_are_skipped_with_their_reasons_and_the_others_imported(pledges, token) -> None:
    admin = auth(token("admin"))
    base = [f for f in json.loads(FLOW_PAGES[-1].read_bytes())["data"]["flows"] if f["amountUSD"] > 0][:5]
    nul = {**base[0], "description": "food\u0000parcels"}
    huge = {**base[1], "amountUSD": 10**30}
    long_id = {**base[3], "id": "9" * 30}  # FTS ids are integers of at most 20 digits, as their columns hold
    long_source = {**base[4], "sourceObjects": [{**o, "id": "8" * 30} for o in base[4]["sourceObjects"]]}
    page = json.dumps({"data": {"flows": [nul, huge, base[2], long_id, long_source]}}).encode()
    r = await pledges.client.post(
        "/v1/imports/fts",
        files=[("files", ("hostile.json", page))],
        headers={**admin, "Idempotency-Key": str(uuid.uuid4())},
    )
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 1
    assert {s["fts_id"] for s in r.json()["skipped"]} == {
        str(nul["id"]),
        str(huge["id"]),
        long_id["id"],
        str(long_source["id"]),
    }
    bad = await pledges.client.post("/v1/imports/fts?colour=red", files=[("files", ("p.json", page))], headers=admin)
    assert bad.status_code == 422 and bad.headers["content-type"] == PROBLEM

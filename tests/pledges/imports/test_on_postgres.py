"""An FTS import on real PostgreSQL: a page of new flows is written a statement per table for all of it, with the
organisations it names for the first time; a flow whose reference its donor already used is skipped alone, with
nothing of it written."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator

from sqlalchemy import event as sa_event

from aid_contracts import PLEDGES_TOPIC
from aid_pledges.app import create_app
from aid_pledges.settings import PledgesSettings
from tests.fts import FLOW_PAGES
from tests.helpers import auth
from tests.pledges.conftest import agreement_body


def _renumbered(flows: list[dict], shift: int) -> list[dict]:
    def moved(value):
        return None if value is None else str(int(value) + shift)

    return [
        {
            **f,
            "id": moved(f["id"]),
            "parentFlowId": moved(f.get("parentFlowId")),
            "childFlowIds": [moved(c) for c in f.get("childFlowIds") or []],
        }
        for f in flows
    ]


@contextlib.contextmanager
def _counting(svc) -> Iterator[list[str]]:
    """The statements the service's engine sends while the block runs."""
    statements: list[str] = []

    def count(conn, cursor, statement, *args) -> None:
        statements.append(statement)

    engine = svc.runtime.sessions.kw["bind"].sync_engine
    sa_event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        sa_event.remove(engine, "before_cursor_execute", count)


async def _import(svc, admin, flows: list[dict]):
    page = json.dumps({"data": {"flows": flows}}).encode()
    return await svc.client.post(
        "/v1/imports/fts",
        files=[("files", ("page.json", page))],
        headers={**admin, "Idempotency-Key": str(uuid.uuid4())},
    )


async def test_new_flows_go_in_together_and_a_taken_reference_skips_its_flow_alone(
    start_service, pg_url, token
) -> None:
    svc = await start_service(create_app, PledgesSettings, pg_url)
    admin = auth(token("admin"))
    flows = json.loads(FLOW_PAGES[0].read_bytes())["data"]["flows"][:120]
    with _counting(svc) as statements:
        first = await _import(svc, admin, flows)
    assert first.status_code == 200 and first.json()["created"] == len(flows), first.text
    # The organisations the flows name are made with them, each announced once.
    assert len(statements) <= 30, len(statements)
    await svc.relay()
    made = [json.loads(m.value) for m in svc.bus.messages(PLEDGES_TOPIC)]
    made = [e["data"]["fts_org_id"] for e in made if e["type"] == "aid.organisation.created"]
    named = {str(o["id"]) for f in flows for o in [*f["sourceObjects"], *f["destinationObjects"]]}
    assert len(made) == len(set(made)) and set(made) <= named and made

    copy = _renumbered(flows, 50_000_000)
    taken = next(f for f in copy[60:] if any(o["type"] == "Organization" for o in f["sourceObjects"]))
    source = next(o for o in taken["sourceObjects"] if o["type"] == "Organization")
    newcomer = {"type": "Organization", "id": "77777777", "name": "A partner only the skipped flow names"}
    taken["destinationObjects"] = [newcomer, *(o for o in taken["destinationObjects"] if o["type"] != "Organization")]
    found = await svc.client.get(f"/v1/organisations?fts_org_id={source['id']}", headers=admin)
    [donor] = found.json()["items"]
    body = agreement_body(donor["id"], reference=f"FTS-{taken['id']}")
    assert (await svc.client.post("/v1/agreements", json=body, headers=admin)).status_code == 201
    await svc.relay()
    before = len(svc.bus.messages(PLEDGES_TOPIC))

    with _counting(svc) as statements:
        second = await _import(svc, admin, copy)

    assert second.status_code == 200, second.text
    summary = second.json()
    assert summary["created"] == len(copy) - 1
    [skipped] = summary["skipped"]
    assert skipped["fts_id"] == str(taken["id"]) and f"FTS-{taken['id']}" in skipped["reason"]
    await svc.relay()
    events = [json.loads(m.value) for m in svc.bus.messages(PLEDGES_TOPIC)[before:]]
    subjects = {e["data"].get("reference") for e in events}
    assert f"FTS-{taken['id']}" not in subjects, "nothing of the skipped flow is written"
    unmade = await svc.client.get("/v1/organisations?fts_org_id=77777777", headers=admin)
    assert unmade.json()["items"] == [], "not even the organisation only it names"
    assert len({e["data"]["agreement_id"] for e in events}) == len(copy) - 1
    # One flow at a time took about seven statements per flow (over 500 here); the page takes a handful.
    assert len(statements) <= 30, len(statements)

"""Organisations in every role: one id per organisation whatever it does — gives, receives, implements, pools — and
the same id as its partner account; every change announced for the other services."""

from __future__ import annotations

import json
import uuid

from aid_contracts import PLEDGES_TOPIC
from aid_contracts.notifications import PartnerCreated, PartnerUpdated
from aid_pledges.imports.service import UNNAMED_SOURCE
from tests.fts import FLOW_PAGES, pse_flows
from tests.helpers import PROBLEM, auth
from tests.pledges.conftest import agreement_body, new_donor, tell

KRCS = {
    "name": "Kuwait Red Crescent Society",
    "names": {"ar": "جمعية الهلال الأحمر الكويتي"},
    "kind": "national_society",
    "country": "KW",
    "roles": ["recipient", "implementing_partner"],
}


def _organisation_events(svc) -> list[dict]:
    events = [json.loads(m.value) for m in svc.bus.messages(PLEDGES_TOPIC)]
    return [e for e in events if e["type"].startswith("aid.organisation.")]


async def test_an_organisation_is_created_listed_by_role_and_given_more_roles(pledges, writer, reader) -> None:
    r = await pledges.client.post("/v1/organisations", json=KRCS, headers=writer)
    assert r.status_code == 201, r.text
    krcs = r.json()
    assert krcs["names"] == {"ar": "جمعية الهلال الأحمر الكويتي"} and krcs["roles"] == [
        "recipient",
        "implementing_partner",
    ]
    kuwait = await new_donor(pledges, writer)
    assert kuwait["roles"] == ["donor"]

    async def listed(**params: str) -> list[str]:
        r = await pledges.client.get("/v1/organisations", params=params, headers=reader)
        return [o["name"] for o in r.json()["items"]]

    assert await listed(role="donor") == ["State of Kuwait"]
    assert await listed(role="implementing_partner") == ["Kuwait Red Crescent Society"]
    assert sorted(await listed(country="KW")) == ["Kuwait Red Crescent Society", "State of Kuwait"]
    donors = (await pledges.client.get("/v1/donors", headers=reader)).json()["items"]
    assert [d["name"] for d in donors] == ["State of Kuwait"], "a recipient is not a donor"
    assert (await pledges.client.get(f"/v1/donors/{krcs['id']}", headers=reader)).status_code == 404

    r = await pledges.client.patch(f"/v1/organisations/{krcs['id']}", json={"add_roles": ["donor"]}, headers=writer)
    assert r.status_code == 200 and r.json()["roles"] == ["donor", "recipient", "implementing_partner"]
    assert sorted(await listed(role="donor")) == ["Kuwait Red Crescent Society", "State of Kuwait"]
    assert (await pledges.client.get(f"/v1/donors/{krcs['id']}", headers=reader)).json()["id"] == krcs["id"]

    await pledges.relay()
    events = [(e["type"], e["subject"], e["data"]["roles"]) for e in _organisation_events(pledges)]
    assert events == [
        ("aid.organisation.created", krcs["id"], ["recipient", "implementing_partner"]),
        ("aid.organisation.created", kuwait["id"], ["donor"]),
        ("aid.organisation.updated", krcs["id"], ["donor", "recipient", "implementing_partner"]),
    ]
    assert _organisation_events(pledges)[0]["data"]["names"] == {"ar": "جمعية الهلال الأحمر الكويتي"}


async def test_bad_organisations_and_changes_are_refused_with_problem_details(pledges, writer) -> None:
    cases = {
        "no role": {**KRCS, "roles": []},
        "unknown role": {**KRCS, "roles": ["benefactor"]},
        "unknown kind": {**KRCS, "kind": "club"},
        "unknown country": {**KRCS, "country": "XX"},
        "empty name": {**KRCS, "name": "  "},
    }
    for name, body in cases.items():
        r = await pledges.client.post("/v1/organisations", json=body, headers=writer)
        assert r.status_code == 422 and r.headers["content-type"] == PROBLEM, (name, r.text)
    krcs = (await pledges.client.post("/v1/organisations", json=KRCS, headers=writer)).json()
    nothing = await pledges.client.patch(f"/v1/organisations/{krcs['id']}", json={}, headers=writer)
    assert nothing.status_code == 422 and "nothing to change" in nothing.text
    missing = await pledges.client.patch(f"/v1/organisations/{uuid.uuid4()}", json={"name": "x"}, headers=writer)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert await pledges.relay() == 1, "only the one created"


async def test_an_agreement_names_its_recipient_which_then_plays_that_role(pledges, writer, reader) -> None:
    kuwait = await new_donor(pledges, writer)
    unknown = await pledges.client.post(
        "/v1/agreements", headers=writer, json=agreement_body(kuwait["id"], recipient_id=str(uuid.uuid4()))
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["location"] == "body.recipient_id"
    assert await pledges.relay() == 0, "nothing written"

    body = {**KRCS, "roles": ["implementing_partner"]}
    krcs = (await pledges.client.post("/v1/organisations", json=body, headers=writer)).json()
    r = await pledges.client.post(
        "/v1/agreements", headers=writer, json=agreement_body(kuwait["id"], recipient_id=krcs["id"])
    )
    assert r.status_code == 201 and r.json()["recipient_id"] == krcs["id"]
    got = (await pledges.client.get(f"/v1/organisations/{krcs['id']}", headers=reader)).json()
    assert got["roles"] == ["recipient", "implementing_partner"]
    await pledges.relay()
    signed = [json.loads(m.value) for m in pledges.bus.messages(PLEDGES_TOPIC)][-1]
    assert signed["type"] == "aid.agreement.signed" and signed["data"]["recipient_id"] == krcs["id"]


async def test_a_partner_account_is_its_organisation_under_the_same_id(pledges, writer, reader) -> None:
    """aid.partner.created from the notifications service: a new organisation with the partner's id, or — when the
    account was opened for a known organisation (same id) — that organisation, now also an implementing partner."""
    partner_id = uuid.uuid4()
    await tell(
        pledges,
        PartnerCreated(
            partner_id=partner_id, name="Syrian Arab Red Crescent", names={"ar": "الهلال الأحمر العربي السوري"}
        ),
    )
    got = (await pledges.client.get(f"/v1/organisations/{partner_id}", headers=reader)).json()
    assert got["roles"] == ["implementing_partner"] and got["names"] == {"ar": "الهلال الأحمر العربي السوري"}
    await tell(pledges, PartnerUpdated(partner_id=partner_id, name="SARC", names={"ar": "الهلال الأحمر العربي السوري"}))
    assert (await pledges.client.get(f"/v1/organisations/{partner_id}", headers=reader)).json()["name"] == "SARC"

    kuwait = await new_donor(pledges, writer)
    await tell(
        pledges, PartnerCreated(partner_id=uuid.UUID(kuwait["id"]), name="State of Kuwait", names={"ar": "دولة الكويت"})
    )
    both = (await pledges.client.get(f"/v1/organisations/{kuwait['id']}", headers=reader)).json()
    assert both["roles"] == ["donor", "implementing_partner"]
    listed = (await pledges.client.get("/v1/organisations", headers=reader)).json()["items"]
    assert len(listed) == 2, "one organisation each, never a copy"


async def test_an_fts_import_makes_its_recipients_organisations_and_one_organisation_can_give_and_receive(
    pledges, token
) -> None:
    admin = auth(token("admin"))
    files = [("files", (p.name, p.read_bytes(), "application/json")) for p in FLOW_PAGES]
    r = await pledges.client.post("/v1/imports/fts", files=files, headers={**admin, "Idempotency-Key": "pse"})
    assert r.status_code == 200 and r.json()["skipped"] == [], r.text

    async def everyone(**params: str) -> list[dict]:
        found, cursor = [], None
        while True:
            page = (
                await pledges.client.get(
                    "/v1/organisations",
                    params={**params, "limit": 200, **({"cursor": cursor} if cursor else {})},
                    headers=admin,
                )
            ).json()
            found += page["items"]
            if not (cursor := page["next_cursor"]):
                return found

    flows = pse_flows()
    # a flow naming no source is counted from one "unnamed" organisation, as FTS counts it
    sources = {(f.objects("source", "Organization") or [UNNAMED_SOURCE])[0].id for f in flows}
    recipients = {
        f.objects("destination", "Organization")[0].id for f in flows if f.objects("destination", "Organization")
    }
    by_fts = {o["fts_org_id"]: o for o in await everyone()}
    assert set(by_fts) == sources | recipients, "one organisation per FTS organisation, in whatever roles"
    assert {i for i, o in by_fts.items() if "recipient" in o["roles"]} == recipients
    assert {i for i, o in by_fts.items() if "donor" in o["roles"]} == sources
    both = sources & recipients
    assert both, "PSE has organisations that receive and pass money on (pooled funds, UN agencies)"
    for fts_id in both:
        assert {"donor", "recipient"} <= set(by_fts[fts_id]["roles"])

    agreements = (await pledges.client.get("/v1/agreements", params={"limit": 500}, headers=admin)).json()["items"]
    by_id = {o["id"]: o for o in by_fts.values()}
    for a in agreements:
        named = a["fts"]["recipients"]
        assert (by_id[a["recipient_id"]]["fts_org_id"] if a["recipient_id"] else None) == (
            named[0]["fts_id"] if named else None
        )

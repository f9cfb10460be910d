"""The headline, across processes: a new donor agreement updates project funding and alerts the partner, with
one correlation id from the agreement's POST to the webhook."""

from __future__ import annotations

import json
from decimal import Decimal

from standardwebhooks.webhooks import Webhook

from aid_projects.funding.allocation import split_by_gap
from tests.helpers import eventually


async def test_a_signed_agreement_funds_projects_and_reaches_the_partner_signed(stack) -> None:
    donor = await stack.post(
        stack.pledges,
        "/v1/donors",
        {
            "name": "Qatar Fund for Development",
            "kind": "development_bank",
            "country": "QA",
            "names": {"ar": "صندوق قطر للتنمية"},
        },
    )
    a = await stack.post(
        stack.projects_api,
        "/v1/projects",
        {
            "code": "SY-NW-H-01",
            "title": "Primary health care in north-west Syria",
            "names": {"ar": "الرعاية الصحية الأولية في شمال غرب سوريا"},
            "country": "SY",
            "region": "north-west Syria",
            "sector": "health",
            "requirements_usd": "600000.00",
            "partners": [{"name": "Qatar Charity", "names": {"ar": "قطر الخيرية"}, "role": "implementing"}],
        },
    )
    b = await stack.post(
        stack.projects_api,
        "/v1/projects",
        {
            "code": "SY-H-02",
            "title": "Mobile clinics",
            "country": "SY",
            "sector": "health",
            "requirements_usd": "400000.00",
        },
    )
    partner = await stack.post(
        stack.notifications_api, "/v1/partners", {"name": "Qatar Charity", "names": {"ar": "قطر الخيرية"}}
    )
    sub = await stack.post(
        stack.notifications_api,
        "/v1/subscriptions",
        {
            "partner_id": partner["id"],
            "url": stack.receiver.url("/qc"),
            "event_types": ["aid.project.funding_updated"],
            "filter": {"countries": ["SY"], "sectors": ["health"]},
        },
    )

    agreement = await stack.post(
        stack.pledges,
        "/v1/agreements",
        {
            "donor_id": donor["id"],
            "reference": "QFFD-IOM-2024-NWS",
            "title": "منحة لدعم الأشخاص الأشد حاجة في شمال غرب سوريا",
            "amount": "1820000.00",
            "currency": "QAR",
            "status": "signed",
            "signed_on": "2024-05-01",
            "earmark": {"country": "SY", "sector": "health"},
        },
        **{"X-Correlation-Id": "e2e-headline-1", "Idempotency-Key": "qffd-1"},
    )
    usd = agreement["amount_usd"]

    async def funded() -> bool:
        pa = await stack.get(stack.projects_api, f"/v1/projects/{a['id']}")
        pb = await stack.get(stack.projects_api, f"/v1/projects/{b['id']}")
        return pa["funded_usd"] != "0.00" and pb["funded_usd"] != "0.00" and (pa, pb)

    pa, pb = await eventually(funded, timeout=60)
    expected, pooled = split_by_gap(Decimal(usd), {"a": Decimal("600000.00"), "b": Decimal("400000.00")})
    assert pooled == 0 and (Decimal(pa["funded_usd"]), Decimal(pb["funded_usd"])) == (expected["a"], expected["b"])

    await eventually(lambda: len({r.headers["webhook-id"] for r in stack.receiver.at("/qc")}) == 2, timeout=60)
    events = {}
    for request in stack.receiver.at("/qc"):
        event = Webhook(sub["secret"]).verify(request.body, request.headers)
        events[event["data"]["project_id"]] = event
    assert set(events) == {a["id"], b["id"]}
    for event in events.values():
        assert event["type"] == "aid.project.funding_updated" and event["source"] == "/projects"
        assert event["correlationid"] == "e2e-headline-1"
        assert event["data"]["correlation_id"] == "e2e-headline-1"
        assert event["data"]["agreement_id"] == agreement["id"]
    assert events[a["id"]]["data"]["names"]["ar"] == "الرعاية الصحية الأولية في شمال غرب سوريا"
    assert json.loads(stack.receiver.at("/qc")[0].body)["specversion"] == "1.0"

    ledger = await stack.get(stack.projects_api, f"/v1/projects/{a['id']}/allocations")
    assert [(e["agreement_id"], e["kind"], e["correlation_id"]) for e in ledger["items"]] == [
        (agreement["id"], "allocation", "e2e-headline-1")
    ]

"""Every pledges route needs a token (401) with the right scope (403), answered as problem+json."""

from __future__ import annotations

import pytest

from tests.helpers import assert_needs_scope, auth, unlisted_routes

ID = "6f1c1b2e-6a0e-4a53-9a55-000000000001"
ROUTES = [
    ("POST", "/v1/organisations", "pledges:write"),
    ("GET", "/v1/organisations", "pledges:read"),
    ("GET", f"/v1/organisations/{ID}", "pledges:read"),
    ("PATCH", f"/v1/organisations/{ID}", "pledges:write"),
    ("POST", "/v1/donors", "pledges:write"),
    ("GET", "/v1/donors", "pledges:read"),
    ("GET", f"/v1/donors/{ID}", "pledges:read"),
    ("PUT", "/v1/fx-rates/KWD", "pledges:write"),
    ("GET", "/v1/fx-rates", "pledges:read"),
    ("POST", "/v1/agreements", "pledges:write"),
    ("GET", "/v1/agreements", "pledges:read"),
    ("GET", f"/v1/agreements/{ID}", "pledges:read"),
    ("POST", f"/v1/agreements/{ID}/sign", "pledges:write"),
    ("POST", f"/v1/agreements/{ID}/cancel", "pledges:write"),
    ("POST", f"/v1/agreements/{ID}/amend", "pledges:write"),
    ("POST", f"/v1/agreements/{ID}/disbursements", "pledges:write"),
    ("GET", f"/v1/agreements/{ID}/disbursements", "pledges:read"),
    ("GET", f"/v1/agreements/{ID}/history", "pledges:read"),
    ("GET", "/v1/exports/agreements.csv", "pledges:read"),
    ("POST", "/v1/imports/fts", "admin"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
async def test_route_needs_a_token_with_its_scope(pledges, token, method, path, scope) -> None:
    other = {"pledges:write": "pledges:read", "admin": "pledges:write"}.get(scope, "projects:read")
    await assert_needs_scope(pledges.client, token, method, path, other=other)
    right = await pledges.client.request(method, path, json={}, headers=auth(token(scope)))
    assert right.status_code not in (401, 403, 500)


async def test_the_scope_table_lists_every_route(pledges) -> None:
    assert unlisted_routes(pledges.app, ROUTES) == []


async def test_a_partner_token_writes_no_pledges_whatever_its_scopes(pledges, writer, kuwait, token) -> None:
    """Hardening item 6: the pledges service ignored partner_id, so a partner token with pledges:write could cancel
    any donor's agreement. Reading stays as its scopes say."""
    from tests.pledges.conftest import agreement_body

    created = await pledges.client.post("/v1/agreements", json=agreement_body(kuwait["id"]), headers=writer)
    agreement_id = created.json()["id"]
    partner = auth(token("pledges:write pledges:read", partner_id="6f1c1b2e-6a0e-4a53-9a55-0000000000aa"))
    writes = [
        ("POST", f"/v1/agreements/{agreement_id}/cancel", {"reason": "not ours to cancel"}),
        ("POST", f"/v1/agreements/{agreement_id}/amend", {"amount": "1.000", "amended_on": "2024-06-01"}),
        ("POST", "/v1/agreements", agreement_body(kuwait["id"], reference="PARTNER-1")),
        ("POST", "/v1/donors", {"name": "Someone", "kind": "private"}),
        ("PUT", "/v1/fx-rates/KWD", {"usd_per_unit": "3.25"}),
    ]
    for method, path, body in writes:
        r = await pledges.client.request(method, path, json=body, headers=partner)
        assert r.status_code == 403 and "partner_id" in r.json()["detail"], (path, r.text)
    after = await pledges.client.get(f"/v1/agreements/{agreement_id}", headers=partner)
    assert after.status_code == 200 and after.json()["status"] == created.json()["status"]

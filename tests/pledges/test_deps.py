"""Every pledges route needs a token (401) with the right scope (403), answered as problem+json."""

from __future__ import annotations

import pytest

from tests.helpers import assert_needs_scope, auth, unlisted_routes

ID = "6f1c1b2e-6a0e-4a53-9a55-000000000001"
ROUTES = [
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

"""Every notifications route needs a token (401) with its scope (403), answered as problem+json."""

from __future__ import annotations

import pytest

from tests.helpers import PROBLEM, auth

ZERO = "00000000-0000-0000-0000-000000000001"
ROUTES = [
    ("POST", "/v1/partners", "admin"),
    ("GET", "/v1/partners", "notifications:read"),
    ("POST", "/v1/subscriptions", "notifications:write"),
    ("GET", "/v1/subscriptions", "notifications:read"),
    ("GET", f"/v1/subscriptions/{ZERO}", "notifications:read"),
    ("PATCH", f"/v1/subscriptions/{ZERO}", "notifications:write"),
    ("DELETE", f"/v1/subscriptions/{ZERO}", "notifications:write"),
    ("POST", f"/v1/subscriptions/{ZERO}/replay", "notifications:write"),
    ("POST", f"/v1/subscriptions/{ZERO}/rotate-secret", "notifications:write"),
    ("GET", "/v1/deliveries", "notifications:read"),
    ("GET", f"/v1/deliveries/{ZERO}", "notifications:read"),
    ("POST", f"/v1/deliveries/{ZERO}/retry", "notifications:write"),
    ("POST", f"/v1/subscriptions/{ZERO}/recover", "notifications:write"),
]


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES)
async def test_every_route_needs_a_token_and_its_scope(notifications, token, method, path, scope) -> None:
    r = await notifications.client.request(method, path)
    assert r.status_code == 401 and r.headers["content-type"] == PROBLEM
    other = "notifications:read" if scope != "notifications:read" else "projects:read"
    r = await notifications.client.request(method, path, headers=auth(token(other)))
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM

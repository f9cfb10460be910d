"""Every notifications route needs a token (401) with its scope (403), answered as problem+json."""

from __future__ import annotations

import pytest

from tests.helpers import assert_needs_scope, unlisted_routes

ZERO = "00000000-0000-0000-0000-000000000001"
ROUTES = [
    ("POST", "/v1/partners", "admin"),
    ("GET", "/v1/partners", "notifications:read"),
    ("GET", f"/v1/partners/{ZERO}", "notifications:read"),
    ("PATCH", f"/v1/partners/{ZERO}", "admin"),
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
    other = "notifications:read" if scope != "notifications:read" else "projects:read"
    await assert_needs_scope(notifications.client, token, method, path, other=other)


async def test_the_scope_table_lists_every_route(notifications) -> None:
    assert unlisted_routes(notifications.app, ROUTES) == []

"""Webhooks never reach private addresses unless allowlisted: at creation (literal addresses) and at delivery
(the address a name resolves to)."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from aid_notifications.app import create_app
from aid_notifications.settings import NotificationsSettings
from aid_notifications.subscriptions.ssrf import Destinations, is_allowed
from tests.helpers import PROBLEM, eventually
from tests.notifications.conftest import create_partner, funding_event, publish

STRICT = {"AID_WEBHOOK_RETRY_SCHEDULE": "0", "AID_DELIVERY_POLL_SECONDS": "0.05"}


@pytest.fixture
async def strict(start_service, sqlite_url):
    return await start_service(create_app, NotificationsSettings, sqlite_url, role="all", **STRICT)


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("8.8.8.8", True),
        ("2606:4700:4700::1111", True),
        ("127.0.0.1", False),
        ("10.1.2.3", False),
        ("172.16.0.1", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),  # noqa: S104
        ("224.0.0.1", False),
        ("::1", False),
        ("fe80::1", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("2002:a9fe:a9fe::", False),  # 6to4 wrapping 169.254.169.254
        ("2002:0808:0808::", True),  # 6to4 wrapping a public address
        ("64:ff9b::a9fe:a9fe", False),  # NAT64 wrapping 169.254.169.254
        ("64:ff9b:1:a9fe:a9:fe00::", False),  # RFC 8215 local-use NAT64 (here wrapping 169.254.169.254)
        ("64:ff9b:1::808:808", False),  # local-use NAT64 whatever it seems to wrap
        ("2001:0:4136:e378:8000:63bf:f5fe:fffe", False),  # Teredo: client 10.1.0.1 (obfuscated)
        ("198.18.0.1", False),
        ("192.0.0.8", False),
        ("240.0.0.1", False),
        ("2001:db8::1", False),
    ],
)
def test_only_public_addresses_are_allowed(address, allowed) -> None:
    assert is_allowed(ipaddress.ip_address(address), Destinations()) is allowed


def test_an_allowlisted_cidr_opens_exactly_that_range() -> None:
    allow = Destinations(allow=(ipaddress.ip_network("10.0.0.0/8"),))
    assert is_allowed(ipaddress.ip_address("10.9.9.9"), allow)
    assert not is_allowed(ipaddress.ip_address("192.168.0.1"), allow)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://localhost:8080/hook",
        "http://10.0.0.5/hook",
        "ftp://example.org/hook",
        "http://user:pass@example.org/hook",
        "http://[2002:a9fe:a9fe::]/",
        "https://example.org:22/hook",  # only the ports the NetworkPolicy opens
        "https://example.org/" + "a" * 5000,
    ],
)
async def test_private_or_odd_urls_are_refused_at_creation(strict, admin, url) -> None:
    partner = await create_partner(strict, admin)
    body = {"partner_id": partner["id"], "url": url, "event_types": ["aid.project.*"]}
    r = await strict.client.post("/v1/subscriptions", json=body, headers=admin)
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    assert (await strict.client.get("/v1/subscriptions", headers=admin)).json()["items"] == []


@pytest.mark.parametrize("url", ["https://example.org:22/hook", "https://no-such-name.invalid:6379/"])
async def test_a_names_port_is_refused_even_where_an_allowlist_is_set(notifications, admin, url) -> None:
    """Hardening item 14: with AID_WEBHOOK_ALLOW_PRIVATE set, a name's port was left to delivery time, so
    https://example.org:22/ got a 201 where the name did not resolve."""
    partner = await create_partner(notifications, admin)  # this service allows 127.0.0.0/8
    body = {"partner_id": partner["id"], "url": url, "event_types": ["aid.project.*"]}
    r = await notifications.client.post("/v1/subscriptions", json=body, headers=admin)
    assert r.status_code == 422 and "AID_WEBHOOK_PORTS" in r.json()["detail"]


async def test_allowlisting_the_range_permits_it(notifications, admin) -> None:
    partner = await create_partner(notifications, admin)  # this service allows 127.0.0.0/8
    body = {"partner_id": partner["id"], "url": "http://127.0.0.1:9/hook", "event_types": ["aid.project.*"]}
    assert (await notifications.client.post("/v1/subscriptions", json=body, headers=admin)).status_code == 201


async def test_a_name_that_resolves_to_a_private_address_is_refused_at_delivery(strict, admin, receiver) -> None:
    name = socket.gethostname()
    resolved = {ipaddress.ip_address(a[4][0]) for a in socket.getaddrinfo(name, 80)}
    assert resolved and not any(ip.is_global for ip in resolved), f"{name} should resolve privately here"
    partner = await create_partner(strict, admin)
    body = {"partner_id": partner["id"], "url": f"http://{name}/hook", "event_types": ["aid.project.*"]}
    assert (await strict.client.post("/v1/subscriptions", json=body, headers=admin)).status_code == 201
    await publish(strict, funding_event())

    async def dead() -> list:
        return (await strict.client.get("/v1/deliveries?status=dead", headers=admin)).json()["items"]

    [delivery] = await eventually(dead, timeout=10)
    assert delivery["last_error"].startswith("destination not allowed") and receiver.requests == []
    assert not any(str(ip) in delivery["last_error"] for ip in resolved) and name not in delivery["last_error"]

"""Webhooks must not become a way into our own network: only public addresses, unless allowlisted.

Checked twice: when a subscription is created (a literal private address is refused at once), and at every
delivery on the address the name resolves to then — the request goes to that vetted address, so a DNS answer
that changes between the check and the connect (rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from dataclasses import dataclass, field
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Special-purpose ranges (IANA registries), written out rather than left to the interpreter's `is_global` tables:
# a webhook never goes to any of them unless the operator allowlists it.
_BLOCKED = tuple(
    ipaddress.ip_network(n)
    for n in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
        "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16", "198.18.0.0/15", "198.51.100.0/24",
        "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4", "255.255.255.255/32",
        "::/128", "::1/128", "::/96", "100::/64", "2001::/23", "2001:db8::/32", "fc00::/7", "fe80::/10",
        "fec0::/10", "ff00::/8",
        "64:ff9b:1::/48",  # RFC 8215 local-use NAT64: it translates to whatever the local network decides

    )
)  # fmt: skip
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


@dataclass(frozen=True)
class Destinations:
    """Where webhooks may go: public addresses on `ports`, and any port of an allowlisted range."""

    allow: tuple[IPNetwork, ...] = ()
    ports: frozenset[int] = field(default_factory=lambda: frozenset({80, 443}))


MAX_URL_LENGTH = 2000  # the column's length (subscriptions.url)


class BlockedDestination(ValueError):
    pass


def embedded_ipv4(ip: IPAddress) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo client, NAT64), if any: it is where the
    packets end up, so it is the address to vet."""
    if not isinstance(ip, ipaddress.IPv6Address):
        return None
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def _allowlisted(ip: IPAddress, destinations: Destinations) -> bool:
    return any(ip in net for net in destinations.allow if net.version == ip.version)


def is_allowed(ip: IPAddress, destinations: Destinations) -> bool:
    if _allowlisted(ip, destinations):
        return True
    inner = embedded_ipv4(ip)
    if inner is not None:
        return is_allowed(inner, destinations)
    return not any(ip in net for net in _BLOCKED if net.version == ip.version) and ip.is_global


def _check_port(ip: IPAddress | None, port: int, destinations: Destinations) -> None:
    if port in destinations.ports or (ip is not None and _allowlisted(ip, destinations)):
        return
    allowed = ", ".join(str(p) for p in sorted(destinations.ports))
    raise BlockedDestination(f"webhooks go to ports {allowed} only (AID_WEBHOOK_PORTS); this URL uses {port}")


def _port(parts) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


def check_url(url: str, allow: Destinations) -> None:
    """At creation: http(s) only, a host, an allowed port, and not a literal non-public address (nor
    `localhost`)."""
    if len(url) > MAX_URL_LENGTH:
        raise BlockedDestination(f"the webhook URL is {len(url)} characters long; at most {MAX_URL_LENGTH}")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedDestination("the webhook URL must be http or https")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise BlockedDestination("the webhook URL has no host")
    if parts.username or parts.password:
        raise BlockedDestination("the webhook URL must not carry credentials")
    if host == "localhost" or host.endswith(".localhost"):
        host = "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        # A name's port is checked now, whatever it resolves to (it may not resolve yet, or resolve elsewhere
        # tomorrow); only an allowlisted address literal may use another port. Its address: at delivery time.
        _check_port(None, _port(parts), allow)
        return
    _check_port(ip, _port(parts), allow)
    if not is_allowed(ip, allow):
        raise BlockedDestination(
            f"the webhook URL points to a non-public address ({ip}); allowlist it with AID_WEBHOOK_ALLOW_PRIVATE"
        )


async def resolve_public(host: str, port: int, allow: Destinations) -> IPAddress:
    """The address to connect to: the first one the name resolves to, if every one of them is allowed."""
    try:
        literal = ipaddress.ip_address(host)
        infos = [literal]
    except ValueError:
        loop = asyncio.get_running_loop()
        try:
            answers = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise ConnectionError(f"cannot resolve {host}: {exc.strerror}") from exc
        infos = [ipaddress.ip_address(str(a[4][0]).split("%")[0]) for a in answers]
    blocked = [str(ip) for ip in infos if not is_allowed(ip, allow)]
    if blocked or not infos:
        raise BlockedDestination(f"{host} resolves to a non-public address ({', '.join(blocked)}); not allowlisted")
    _check_port(infos[0], port, allow)
    return infos[0]

"""Webhooks must not become a way into our own network: only public addresses, unless allowlisted.

Checked twice: when a subscription is created (a literal private address is refused at once), and at every
delivery on the address the name resolves to then — the request goes to that vetted address, so a DNS answer
that changes between the check and the connect (rebinding) cannot redirect it.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Sequence
from urllib.parse import urlsplit

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class BlockedDestination(ValueError):
    pass


def _unmapped(ip: IPAddress) -> IPAddress:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def is_allowed(ip: IPAddress, allow: Sequence[IPNetwork]) -> bool:
    ip = _unmapped(ip)
    if any(ip in net for net in allow if net.version == ip.version):
        return True
    return ip.is_global and not ip.is_multicast and not ip.is_reserved and not ip.is_unspecified


def check_url(url: str, allow: Sequence[IPNetwork]) -> None:
    """At creation: http(s) only, a host, and not a literal non-public address (nor `localhost`)."""
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
        return  # a name: checked on the resolved address at delivery time
    if not is_allowed(ip, allow):
        raise BlockedDestination(
            f"the webhook URL points to a non-public address ({ip}); allowlist it with AID_WEBHOOK_ALLOW_PRIVATE"
        )


async def resolve_public(host: str, port: int, allow: Sequence[IPNetwork]) -> IPAddress:
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
        infos = [ipaddress.ip_address(a[4][0].split("%")[0]) for a in answers]
    blocked = [str(ip) for ip in infos if not is_allowed(ip, allow)]
    if blocked or not infos:
        raise BlockedDestination(f"{host} resolves to a non-public address ({', '.join(blocked)}); not allowlisted")
    return infos[0]

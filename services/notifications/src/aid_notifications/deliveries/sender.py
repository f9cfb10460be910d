"""One webhook attempt: resolve and vet the address, sign with Standard Webhooks, POST, classify the answer."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import ipaddress
import time
from dataclasses import dataclass
from urllib.parse import urlsplit, urlunsplit

import httpx
import structlog
from standardwebhooks.webhooks import Webhook

from aid_common.events import CLOUDEVENTS_CONTENT_TYPE
from aid_notifications.deliveries.policy import RETRY_AFTER_STATUSES, is_success
from aid_notifications.subscriptions.ssrf import BlockedDestination, Destinations, resolve_public

log = structlog.get_logger()
DESTINATION_NOT_ALLOWED = "destination not allowed (not a public address; the operator's logs say which)"


@dataclass(frozen=True)
class Outcome:
    status_code: int | None
    error: str | None
    duration_ms: int
    retry_after_seconds: float | None = None  # a duration, not money

    @property
    def delivered(self) -> bool:
        return is_success(self.status_code)


def signature_headers(*, webhook_id: str, body: str, secrets: list[str], now: dt.datetime) -> dict[str, str]:
    """webhook-id, webhook-timestamp and webhook-signature (one `v1,…` per secret, space-separated)."""
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": " ".join(Webhook(s).sign(webhook_id, now, body) for s in secrets),
    }


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)  # delay-seconds: a duration, not money
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max((when - dt.datetime.now(dt.UTC)).total_seconds(), 0.0)


def _pinned(url: str, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, str, str]:
    """The URL with its host replaced by the vetted address, the Host header, and the TLS server name."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    netloc = f"{literal}:{parts.port}" if parts.port else literal
    return urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, "")), parts.netloc, host


async def send(
    client: httpx.AsyncClient,
    *,
    url: str,
    webhook_id: str,
    body: str,
    secrets: list[str],
    allow: Destinations,
    deadline_seconds: float = 10.0,
) -> Outcome:
    start = time.perf_counter()

    def took() -> int:
        return int((time.perf_counter() - start) * 1000)

    parts = urlsplit(url)
    try:
        ip = await resolve_public(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80), allow)
    except BlockedDestination as exc:
        # What the address resolved to is the operator's to know (internal names and addresses), not the partner's.
        log.warning("delivery.destination_blocked", webhook_id=webhook_id, host=parts.hostname, reason=str(exc))
        return Outcome(None, DESTINATION_NOT_ALLOWED, took())
    except ConnectionError as exc:
        return Outcome(None, str(exc), took())
    target, host_header, server_name = _pinned(url, ip)
    headers = {
        **signature_headers(webhook_id=webhook_id, body=body, secrets=secrets, now=dt.datetime.now(dt.UTC)),
        "content-type": f"{CLOUDEVENTS_CONTENT_TYPE}; charset=utf-8",
        "host": host_header,
        "user-agent": "crisisaid-webhooks/1",
    }
    extensions = {"sni_hostname": server_name} if parts.scheme == "https" else {}
    try:
        # One deadline for the whole attempt (connect, send, headers): a receiver that trickles a byte at a time
        # cannot hold a delivery slot past it, whatever the per-read timeout.
        async with asyncio.timeout(deadline_seconds):
            request = client.build_request(
                "POST", target, content=body.encode(), headers=headers, extensions=extensions
            )
            response = await client.send(request, stream=True, follow_redirects=False)
            await response.aclose()  # the answer's body is not needed: never read a partner's megabytes
    except (httpx.TimeoutException, TimeoutError):
        return Outcome(None, f"timed out (the attempt's deadline is {deadline_seconds:g} s)", took())
    except httpx.HTTPError as exc:
        return Outcome(None, f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__, took())
    code = response.status_code
    retry_after = parse_retry_after(response.headers.get("retry-after")) if code in RETRY_AFTER_STATUSES else None
    error = None
    if not is_success(code):
        error = f"HTTP {code}" + (" (redirects are not followed)" if 300 <= code < 400 else "")
    return Outcome(code, error, took(), retry_after)

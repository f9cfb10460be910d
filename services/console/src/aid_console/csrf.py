"""Forms are posted from the console's own pages only (OWASP: verify the origin with standard headers). Every
POST — sign-in (login CSRF), sign-out, a delivery retry — must come from the console's origin: its `Origin`
header, or its `Referer` when a browser sends no Origin; a request with neither, or that the browser marks as
cross-site (`Sec-Fetch-Site`), is refused. The cookie's SameSite=Strict is the second wall."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import Request


def _origin_of(url: str) -> str | None:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower() if parts.scheme and parts.netloc else None


def refusal(request: Request, public_origin: str | None) -> str | None:
    """Why this unsafe request is refused, or None when it comes from the console's own pages."""
    expected = (public_origin or _origin_of(str(request.base_url)) or "").lower()
    if request.headers.get("sec-fetch-site", "same-origin") not in ("same-origin", "none"):
        return "cross-site form posts are refused"
    origin = request.headers.get("origin")
    if origin is not None and origin != "null":
        return None if origin.lower() == expected else f"a form posted from {origin} is refused"
    referer = request.headers.get("referer")
    if referer is not None:
        return None if _origin_of(referer) == expected else "a form posted from another site is refused"
    return "a form post must say where it comes from (Origin or Referer)"

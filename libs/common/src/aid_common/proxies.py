"""Who the client really is behind a load balancer or ingress: only the proxies named in AID_TRUSTED_PROXIES may
say (X-Forwarded-For, X-Forwarded-Proto), through uvicorn's own ProxyHeadersMiddleware. Every other peer is
taken at its address, so a client cannot pick the address its failed authentications are counted against.
uvicorn's built-in proxy handling (which trusts 127.0.0.1 by default) is switched off where servers start
(`proxy_headers=False` in `crisisaid serve` and embedded mode), so this setting is the one place that decides."""

from __future__ import annotations

from starlette.applications import Starlette
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware


def trusted(setting: str) -> list[str]:
    """AID_TRUSTED_PROXIES: addresses or networks, comma-separated (10.0.0.0/8,fd00::/8); empty: none."""
    return [part.strip() for part in setting.split(",") if part.strip()]


def install(app: Starlette, setting: str) -> None:
    """Take the client's address from the trusted proxies' headers, if any are named. Call it after every other
    middleware is added: it must run first, before anything reads the address."""
    if proxies := trusted(setting):
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=proxies)

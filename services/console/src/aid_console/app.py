"""The coordination console: server-rendered pages in Arabic and English over the three services' APIs (a
backend-for-frontend: the person's token stays in an HttpOnly cookie and every call carries it). Port 8000."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import resources

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from aid_common import proxies
from aid_common.bus import Bus
from aid_common.kafka import KafkaBus
from aid_console import csrf, views
from aid_console.client import PERSON_ADDRESS, Services, SignInNeeded
from aid_console.deps import FEED, SERVICES, SETTINGS, TEMPLATES, VERIFIER
from aid_console.feed import Feed
from aid_console.settings import ConsoleSettings

# No script, no CDN: every asset ships with the project; pages cannot be framed or pull anything from elsewhere.
SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; form-action 'self'",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
HSTS = {"strict-transport-security": "max-age=31536000; includeSubDomains"}  # outside embedded mode (HTTPS)
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def create_app(
    settings: ConsoleSettings | None = None,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    bus: Bus | None = None,
) -> FastAPI:
    settings = settings or ConsoleSettings()
    urls = {
        "pledges": settings.pledges_url,
        "projects": settings.projects_url,
        "notifications": settings.notifications_url,
    }

    feed_bus = bus or (
        KafkaBus(
            settings.kafka_bootstrap_servers,
            topic_prefix=settings.kafka_topic_prefix,
            client_id="console",
            security=settings.kafka_security,
        )
        if settings.kafka_bootstrap_servers
        else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        stop = asyncio.Event()
        task = None
        if feed_bus is not None:
            feed = Feed(feed_bus)
            FEED.put(app, feed)
            task = asyncio.create_task(feed.run(stop))
        async with httpx.AsyncClient(transport=transport, timeout=30) as http:
            SERVICES.put(app, Services(http, urls))
            yield
        stop.set()
        if task is not None:
            await asyncio.wait([task], timeout=5)

    app = FastAPI(title="Console", lifespan=lifespan, docs_url=None, redoc_url=None, openapi_url=None)
    SETTINGS.put(app, settings)
    VERIFIER.put(app, settings.token_verifier())
    TEMPLATES.put(app, Jinja2Templates(directory=str(resources.files("aid_console") / "templates")))
    app.mount("/static", StaticFiles(directory=str(resources.files("aid_console") / "static")), name="static")
    app.include_router(views.router)

    @app.exception_handler(SignInNeeded)
    async def _sign_in(request: Request, exc: SignInNeeded) -> Response:
        response = RedirectResponse("/signin", status_code=303)
        if views.COOKIE in request.cookies:  # a refused token is dropped; a request that sent none changes nothing
            response.delete_cookie(views.COOKIE)
        return response

    headers = {**SECURITY_HEADERS, **(HSTS if settings.cookie_secure else {})}

    @app.middleware("http")
    async def _guard(request: Request, call_next):
        if request.method not in SAFE_METHODS and (refusal := csrf.refusal(request, settings.public_origin)):
            return PlainTextResponse(refusal, status_code=403, headers=headers)
        PERSON_ADDRESS.set(request.client.host if request.client else None)
        response = await call_next(request)
        response.headers.update(headers)
        if response.headers.get("content-type", "").startswith("text/html"):
            response.headers["cache-control"] = "no-store"  # pages hold funding data and names: never cached
        return response

    proxies.install(app, settings.trusted_proxies)  # last: the person's address is read from it
    return app

"""The live feed holds a token only while the services would accept it: the token is checked again at every
heartbeat, the stream ends at its expiry or revocation (with a `signin` event), and streams are capped per token
and in all (hardening items 2 and 11)."""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path

import httpx
import jwt
import pytest

from aid_common.auth import mint_token
from aid_common.memory_bus import MemoryBus
from aid_console.app import create_app
from aid_console.deps import FEED
from aid_console.settings import ConsoleSettings
from aid_console.views import COOKIE


@pytest.fixture
async def console(key_files, tmp_path: Path):
    revoked = tmp_path / "revoked-tokens"
    settings = ConsoleSettings(
        AID_JWT_PUBLIC_KEY_FILE=key_files[1],
        AID_CONSOLE_COOKIE_SECURE=False,
        AID_REVOKED_TOKENS_FILE=revoked,
        AID_CONSOLE_FEED_HEARTBEAT_SECONDS=0.2,
        AID_CONSOLE_FEED_STREAMS_PER_TOKEN=1,
        AID_CONSOLE_FEED_STREAMS=2,
    )
    app = create_app(settings, bus=MemoryBus())
    async with app.router.lifespan_context(app):
        yield app, revoked


def _client(app, token: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://console", timeout=10)
    client.cookies.set(COOKIE, token)
    return client


async def _open(app, token: str) -> asyncio.Task[httpx.Response]:
    """A stream held open in the background (the ASGI transport answers once the stream ends)."""
    before = sum(FEED.get(app).open_by.values())
    task = asyncio.create_task(_client(app, token).get("/feed/events"))
    deadline = time.monotonic() + 5
    while sum(FEED.get(app).open_by.values()) == before and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    return task


async def test_the_feed_ends_when_the_token_expires(console, keypair) -> None:
    app, _ = console
    token = mint_token(keypair[0], subject="coordinator", scopes="projects:read", ttl=dt.timedelta(seconds=1.5))
    started = time.monotonic()
    r = await _client(app, token).get("/feed/events")
    assert r.status_code == 200 and r.text.endswith("event: signin\ndata: {}\n\n")
    assert time.monotonic() - started < 4  # it used to stream for ever


async def test_the_feed_ends_when_the_token_is_revoked(console, keypair) -> None:
    app, revoked = console
    token = mint_token(keypair[0], subject="coordinator", scopes="projects:read")
    stream = await _open(app, token)
    await asyncio.sleep(0.5)
    assert not stream.done()
    revoked.write_text(jwt.decode(token, options={"verify_signature": False})["jti"] + "\n")
    r = await asyncio.wait_for(stream, timeout=3)
    assert r.text.endswith("event: signin\ndata: {}\n\n")
    assert not FEED.get(app).open_by


async def test_streams_are_capped_per_token_and_in_all(console, keypair, token) -> None:
    app, revoked = console
    first, second, third = (token("projects:read", subject=f"reader-{i}") for i in range(3))
    held = [await _open(app, first)]
    again = await _client(app, first).get("/feed/events")
    assert again.status_code == 429 and again.headers["retry-after"] == "60"
    held.append(await _open(app, second))
    assert (await _client(app, third).get("/feed/events")).status_code == 429  # two in all
    jtis = [jwt.decode(t, options={"verify_signature": False})["jti"] for t in (first, second)]
    revoked.write_text("\n".join(jtis) + "\n")
    await asyncio.wait_for(asyncio.gather(*held), timeout=3)
    assert not FEED.get(app).open_by
    revoked.write_text("")
    last = await _open(app, third)  # room again once the others closed
    assert not last.done() and FEED.get(app).open_by
    revoked.write_text(jwt.decode(third, options={"verify_signature": False})["jti"] + "\n")
    await asyncio.wait_for(last, timeout=3)

"""Forms are posted from the console's own pages only, sessions are not dropped by a cross-site request, the
sign-in page shows no words from the address bar, and pages with data are never cached (hardening item 10)."""

from __future__ import annotations

import httpx

from aid_console.app import create_app
from aid_console.settings import ConsoleSettings
from aid_console.views import COOKIE


async def test_a_form_posted_from_another_site_is_refused(platform, token) -> None:
    admin = token("admin")
    for headers in (
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "http://console", "sec-fetch-site": "cross-site"},
    ):
        r = await platform.client.post("/signin", data={"token": admin}, headers=headers)
        assert r.status_code == 403 and "set-cookie" not in r.headers, headers  # no login CSRF
    bare = httpx.AsyncClient(transport=platform.client._transport, base_url="http://console")
    r = await bare.post("/signin", data={"token": admin})
    assert r.status_code == 403 and "Origin or Referer" in r.text
    referred = await bare.post("/signin", data={"token": admin}, headers={"referer": "http://console/signin"})
    assert referred.status_code == 303 and COOKIE in referred.headers["set-cookie"]

    await platform.client.post("/signin", data={"token": admin})
    out = await platform.client.post("/signout", headers={"origin": "https://evil.example"})
    assert out.status_code == 403 and "set-cookie" not in out.headers
    assert (await platform.client.get("/")).status_code == 200, "still signed in"


async def test_a_request_without_the_cookie_does_not_drop_the_session(platform) -> None:
    r = await platform.client.get("/projects")  # e.g. a cross-site link: SameSite=Strict sends no cookie
    assert r.status_code == 303 and r.headers["location"] == "/signin"
    assert "set-cookie" not in r.headers
    platform.client.cookies.set(COOKIE, "not-a-token-" * 4)
    refused = await platform.client.get("/projects")
    assert refused.status_code == 303 and f'{COOKIE}=""' in refused.headers["set-cookie"]  # a bad one is dropped


async def test_the_sign_in_page_shows_no_words_from_the_address_bar(platform) -> None:
    r = await platform.client.get("/signin", params={"error": "Your account is locked: call +1-555-0100"})
    assert r.status_code == 200 and "call +1-555" not in r.text


async def test_pages_are_not_cached_and_https_is_kept_outside_embedded_mode(platform, token, key_files) -> None:
    await platform.client.post("/signin", data={"token": token("admin")})
    page = await platform.client.get("/")
    assert page.headers["cache-control"] == "no-store"
    assert "strict-transport-security" not in page.headers  # embedded mode: plain http on 127.0.0.1
    served = create_app(ConsoleSettings(AID_JWT_PUBLIC_KEY_FILE=key_files[1]))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=served), base_url="https://console") as client:
        signin = await client.get("/signin")
    assert signin.headers["strict-transport-security"].startswith("max-age=")
    assert signin.headers["cache-control"] == "no-store"

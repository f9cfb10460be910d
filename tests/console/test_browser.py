"""The console in a real browser (Debian's Chromium, driven by Playwright — no browser download): the embedded
platform with its demo data, as a person signs in, reads the overview in English and Arabic, opens a project's
ledger, and as a partner sees only its own deliveries. Screenshots land in .artifacts/ (docs/console.md shows them)."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from playwright.async_api import async_playwright

from tests.conftest import REPO

ARTIFACTS = REPO / ".artifacts"


def _free_base_port() -> int:
    for base in range(20001, 40000, 10):
        if all(_free(p) for p in range(base - 1, base + 3)):
            return base
    raise RuntimeError("no free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.fixture
def embedded(tmp_path: Path):
    """`crisisaid dev` as its own process, with the demo data loaded."""
    base = _free_base_port()
    log = (tmp_path / "dev.log").open("w")
    command = [sys.executable, "-m", "crisisaid.main", "dev", "--base-port", str(base)]
    proc = subprocess.Popen(
        [*command, "--data-dir", str(tmp_path / ".data")],
        cwd=tmp_path, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "LOG_LEVEL": "WARNING"},
    )  # fmt: skip
    deadline = time.monotonic() + 90
    while "demo data:" not in (tmp_path / "dev.log").read_text():
        assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "dev.log").read_text()[-3000:]
        time.sleep(0.3)
    token = (tmp_path / ".data/admin-token").read_text().strip()
    yield f"http://127.0.0.1:{base - 1}", token, base, tmp_path
    proc.terminate()
    proc.wait(timeout=30)


def _chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        pytest.fail("chromium not found: run `make tools` (installs Debian's chromium; tests never skip)")
    return path


async def test_a_coordinator_reads_the_overview_in_english_and_arabic(embedded) -> None:
    console, token, _, _ = embedded
    ARTIFACTS.mkdir(exist_ok=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 1280, "height": 900})
        await page.goto(console + "/")
        assert page.url.endswith("/signin")
        await page.fill("input[name=token]", token)
        await page.click("button[type=submit]")
        await page.wait_for_url(console + "/")
        assert await page.get_attribute("html", "dir") == "ltr"
        assert await page.locator("text=IOM Global Appeal 2024").count() >= 1
        cookies = await page.context.cookies()
        session = next(c for c in cookies if c["name"] == "aid_session")
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert await page.evaluate("document.cookie") == "" or "aid_session" not in await page.evaluate(
            "document.cookie"
        )
        await page.screenshot(path=str(ARTIFACTS / "console-overview-en.png"), full_page=True)

        await page.click("#switch-language")
        await page.wait_for_load_state()
        assert await page.get_attribute("html", "dir") == "rtl" and await page.get_attribute("html", "lang") == "ar"
        assert await page.locator("text=النداء العالمي للمنظمة الدولية للهجرة 2024").count() >= 1
        await page.screenshot(path=str(ARTIFACTS / "console-overview-ar.png"), full_page=True)

        await page.goto(console + "/projects?lang=en")
        await page.click('tr:has-text("SY-NW-HEALTH-24") a')
        await page.wait_for_selector("text=Funding ledger")
        assert await page.locator("td", has_text="allocation").count() >= 1
        await page.set_viewport_size({"width": 360, "height": 800})  # readable on a phone
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, f"the project page needs {width}px at 360px wide"
        await browser.close()


async def test_a_signed_agreement_appears_in_the_live_feed_within_seconds(embedded) -> None:
    import httpx

    console, token, base, _ = embedded
    admin = {"Authorization": f"Bearer {token}"}
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = await browser.new_page()
        await page.goto(console + "/signin")
        await page.fill("input[name=token]", token)
        await page.click("button[type=submit]")
        await page.wait_for_url(console + "/")
        await page.goto(console + "/live")
        async with httpx.AsyncClient() as http:
            donors = (await http.get(f"http://127.0.0.1:{base}/v1/donors", headers=admin)).json()["items"]
            agreement = {
                "donor_id": donors[0]["id"],
                "reference": "LIVE-FEED-1",
                "title": "دعم مباشر",
                "amount": "12345.00",
                "currency": "USD",
                "status": "signed",
                "signed_on": "2024-06-01",
                "earmark": {"country": "SY"},
            }
            r = await http.post(f"http://127.0.0.1:{base}/v1/agreements", json=agreement, headers=admin)
            assert r.status_code == 201, r.text
        await page.wait_for_selector("li.event:has-text('LIVE-FEED-1')", timeout=10_000)
        await page.wait_for_selector("li.event:has-text('aid.project.funding_updated')", timeout=10_000)
        await browser.close()


async def test_a_partner_sees_only_its_own_deliveries(embedded) -> None:
    import httpx

    console, token, base, tmp_path = embedded
    admin = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient() as http:
        partners = (await http.get(f"http://127.0.0.1:{base + 2}/v1/partners", headers=admin)).json()["items"]
        mine, other = partners[0], partners[1]
        for p, path in ((mine, "/mine"), (other, "/theirs")):
            body = {"partner_id": p["id"], "url": f"http://127.0.0.1:9{path}", "event_types": ["aid.project.*"]}
            assert (
                await http.post(f"http://127.0.0.1:{base + 2}/v1/subscriptions", json=body, headers=admin)
            ).status_code == 201
    scopes = "projects:read notifications:read notifications:write"
    command = [sys.executable, "-m", "crisisaid.main", "token", "--scope", scopes]
    command += ["--partner-id", mine["id"], "--subject", "partner-ui"]
    minted = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=True)
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = await browser.new_page()
        await page.goto(console + "/signin")
        await page.fill("input[name=token]", minted.stdout.strip())
        await page.click("button[type=submit]")
        await page.wait_for_url(console + "/")
        await page.goto(console + "/partner")
        assert await page.locator("text=http://127.0.0.1:9/mine").count() == 1
        assert await page.locator("text=http://127.0.0.1:9/theirs").count() == 0
        await browser.close()


async def test_every_services_api_page_renders_offline(embedded) -> None:
    """/docs loaded Swagger UI from a CDN: offline it was a blank page. Every request off this machine is refused
    here, and each service's page still lists its operations."""
    _, _, base, _ = embedded
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = await browser.new_page()
        elsewhere: list[str] = []

        async def local_only(route) -> None:
            if route.request.url.startswith("http://127.0.0.1:"):
                await route.continue_()
            else:
                elsewhere.append(route.request.url)
                await route.abort()

        await page.route("**/*", local_only)
        for port, operation in ((base, "/v1/agreements"), (base + 1, "/v1/projects"), (base + 2, "/v1/subscriptions")):
            await page.goto(f"http://127.0.0.1:{port}/docs")
            await page.wait_for_selector(".opblock", timeout=20_000)
            assert await page.locator(f".opblock-summary-path[data-path='{operation}']").count() >= 1
        await browser.close()
    assert elsewhere == [], "the API pages ask nothing of any other host"


# Visible text of the page that is the console's own: not inside a left-to-right isolate (codes, amounts, dates)
# and not text marked as another language (names and titles people gave in English).
_OWN_LATIN_WORDS = """() => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const el = node.parentElement;
    if (!el || el.closest('bdi[dir="ltr"], [lang="en"], script, style, time')) continue;
    if (!el.checkVisibility()) continue;
    const words = node.textContent.match(/[A-Za-z]{2,}/g);
    if (words) found.push(words.join(" ") + " <" + el.tagName.toLowerCase() + ">");
  }
  for (const cell of document.querySelectorAll("td[data-label]")) {
    const label = getComputedStyle(cell, "::before").content;
    if (/[A-Za-z]{2,}/.test(label) && cell.checkVisibility()) found.push("label " + label);
  }
  return found;
}"""
_UNLABELLED_FIGURES = """() => [...document.querySelectorAll("table.cards td.num")]
  .filter((td) => td.checkVisibility() && ["none", "normal", '""'].includes(getComputedStyle(td, "::before").content))
  .map((td) => td.textContent.trim())"""


async def test_every_arabic_page_reads_in_arabic_and_keeps_its_labels_on_a_phone(embedded) -> None:
    """On a 390 px phone in Arabic, every page: no English word of the console's own (statuses, sectors, countries,
    reasons, headings), every figure in a table card carries its column's name, nothing wider than the screen."""
    console, token, _, _ = embedded
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=_chromium(), args=["--no-sandbox"])
        page = await browser.new_page(viewport={"width": 390, "height": 844})
        await page.goto(console + "/signin?lang=ar")
        await page.fill("input[name=token]", token)
        await page.click("button[type=submit]")
        await page.wait_for_url(console + "/")
        await page.goto(console + "/projects")
        project = await page.locator("table.cards a[href^='/projects/']").first.get_attribute("href")
        await page.goto(console + "/agreements")
        agreement = await page.locator("table.cards a[href^='/agreements/']").first.get_attribute("href")
        pages = [
            *("/", "/projects", "/agreements", agreement, project),
            *("/pools", "/plans", "/organisations", "/partner", "/live"),
        ]
        problems = {}
        for path in pages:
            await page.goto(console + path)
            assert await page.get_attribute("html", "lang") == "ar"
            english, unlabelled = await page.evaluate(_OWN_LATIN_WORDS), await page.evaluate(_UNLABELLED_FIGURES)
            width = await page.evaluate("document.documentElement.scrollWidth")
            if english or unlabelled or width > 400:
                problems[path] = {"english": english[:8], "unlabelled": unlabelled[:4], "width": width}
        await page.goto(console + "/projects")
        await page.screenshot(path=str(ARTIFACTS / "console-projects-ar-phone.png"), full_page=False)
        await browser.close()
    assert problems == {}, json.dumps(problems, ensure_ascii=False, indent=1)

"""The console as a person uses it: signs in with a token kept in an HttpOnly, SameSite cookie, sees the appeal's
pillars, coverage and gaps, a project's ledger, in English or in Arabic (right to left), and no more than the token
allows."""

from __future__ import annotations

from aid_console import i18n
from tests.helpers import auth, eventually
from tests.projects.conftest import project_body

APPEAL = {
    "code": "IOM-GA-2024",
    "title": "IOM Global Appeal 2024",
    "names": {"ar": "النداء العالمي للمنظمة الدولية للهجرة 2024"},
    "year": 2024,
    "pillars": [
        {"code": "P1", "title": "Saving lives", "names": {"ar": "إنقاذ الأرواح"}, "requirements_usd": "1000000.00"}
    ],
}


async def _signed_in(platform, token: str) -> None:
    r = await platform.client.post("/signin", data={"token": token})
    assert r.status_code == 303 and r.headers["location"] == "/"
    cookie = r.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie


async def _seed(platform, admin: dict) -> dict:
    assert (await platform.projects.client.post("/v1/appeals", json=APPEAL, headers=admin)).status_code == 201
    body = project_body(
        "SY-NW-HEALTH-24",
        "600000.00",
        appeal="IOM-GA-2024",
        pillar="P1",
        names={"ar": "الرعاية الصحية في شمال غرب سوريا"},
    )
    project = (await platform.projects.client.post("/v1/projects", json=body, headers=admin)).json()
    donor = {"name": "State of Kuwait", "names": {"ar": "دولة الكويت"}, "kind": "government", "country": "KW"}
    donor_id = (await platform.pledges.client.post("/v1/donors", json=donor, headers=admin)).json()["id"]
    agreement = {
        "donor_id": donor_id,
        "reference": "KW-IOM-2024-001",
        "title": "دعم صحي",
        "amount": "100000.000",
        "currency": "KWD",
        "status": "signed",
        "signed_on": "2024-05-01",
        "earmark": {"country": "SY"},
    }
    r = await platform.pledges.client.post(
        "/v1/agreements", json=agreement, headers={**admin, "X-Correlation-Id": "ui-1"}
    )
    assert r.status_code == 201, r.text

    async def funded() -> bool:
        got = await platform.projects.client.get(f"/v1/projects/{project['id']}", headers=admin)
        return got.json()["funded_usd"] != "0.00"

    await eventually(funded, timeout=15)
    return project


async def test_sign_in_overview_and_a_project_ledger_in_english_and_arabic(platform, token) -> None:
    admin = auth(token("admin"))
    project = await _seed(platform, admin)
    assert (await platform.client.get("/")).headers["location"] == "/signin", "nothing without signing in"
    await _signed_in(platform, token("admin"))

    page = await platform.client.get("/")
    assert page.status_code == 200 and 'dir="ltr"' in page.text and "Saving lives" in page.text
    assert "IOM Global Appeal 2024" in page.text and "SY" in page.text and "<script" not in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]

    # summaries read at a glance, in dollars, exact on hover; the bar's colours explained
    assert '<bdi dir="ltr" title="USD 1,000,000.00">USD 1M</bdi>' in page.text
    assert "unallocated: signed, waiting in pools" in page.text
    arabic = await platform.client.get("/?lang=ar")
    assert '<html lang="ar" dir="rtl">' in arabic.text and "إنقاذ الأرواح" in arabic.text
    assert "USD 1\xa0مليون" in arabic.text and "غير المخصص: موقَّع وينتظر" in arabic.text
    assert "النداء العالمي للمنظمة الدولية للهجرة 2024" in arabic.text
    still = await platform.client.get("/projects")
    assert 'dir="rtl"' in still.text and "الرعاية الصحية في شمال غرب سوريا" in still.text, "the choice is kept"

    ledger = await platform.client.get(f"/projects/{project['id']}?lang=en")
    assert "KW-IOM-2024-001" in ledger.text and "ui-1" in ledger.text and "allocation" in ledger.text
    assert "State of Kuwait" in ledger.text, "which donor"
    assert '<time datetime="2024-05-01">May 1, 2024</time>' in ledger.text, "dated by when the money moved, not today"


async def test_arabic_pages_keep_amounts_codes_and_dates_left_to_right(platform, token) -> None:
    """Right to left scrambled mixed text: a negative amount read "157,848.49-", a code "SY-NW-" / "HEALTH-24".
    Each is isolated left to right inside the Arabic page."""
    admin = auth(token("admin"))
    project = await _seed(platform, admin)
    lowered = await platform.projects.client.patch(  # lower the needs: part of the allocation goes back
        f"/v1/projects/{project['id']}", json={"requirements_usd": "100000.00"}, headers=admin
    )
    assert lowered.status_code == 200, lowered.text
    await _signed_in(platform, token("admin"))
    page = (await platform.client.get(f"/projects/{project['id']}?lang=ar")).text
    assert 'dir="rtl"' in page
    assert f'<bdi dir="ltr">{i18n.money("-225000.00", "ar")}</bdi>' in page  # the reversal, minus first
    assert '<bdi dir="ltr">SY-NW-HEALTH-24</bdi>' in page and '<bdi dir="ltr">KW-IOM-2024-001</bdi>' in page
    assert f'<bdi dir="ltr">{i18n.money("100000.00", "ar")}</bdi>' in page  # what it needs now
    # statuses, kinds and roles in Arabic too
    assert '">تخصيص</td>' in page and '">استرداد</td>' in page and "(منفِّذ)" in page and "نشط" in page
    assert ">allocation<" not in page and ">reversal<" not in page and "(implementing)" not in page


async def test_a_partner_sees_no_more_than_its_token_allows(platform, token) -> None:
    admin = auth(token("admin"))
    await _seed(platform, admin)
    partner = (
        await platform.notifications.client.post("/v1/partners", json={"name": "Qatar Charity"}, headers=admin)
    ).json()
    other = (await platform.notifications.client.post("/v1/partners", json={"name": "Other"}, headers=admin)).json()
    for p, url in ((partner, "http://127.0.0.1:9/a"), (other, "http://127.0.0.1:9/b")):
        body = {"partner_id": p["id"], "url": url, "event_types": ["aid.project.funding_updated"]}
        assert (
            await platform.notifications.client.post("/v1/subscriptions", json=body, headers=admin)
        ).status_code == 201
    scopes = "projects:read notifications:read notifications:write"
    await _signed_in(platform, token(scopes, partner_id=partner["id"], subject="qatar-charity"))

    mine = await platform.client.get("/partner")
    assert "http://127.0.0.1:9/a" in mine.text and "http://127.0.0.1:9/b" not in mine.text
    # its menu offers what its token can read: no agreements (pledges:read), its deliveries and the projects
    assert 'href="/agreements"' not in mine.text and 'href="/partner"' in mine.text and 'href="/projects"' in mine.text
    own = f"/projects?partner_id={partner['id']}"
    assert f'href="{own}"' in mine.text, "its own projects, one step away"
    assert f'href="{own}" aria-current="page"' in (await platform.client.get(own)).text
    agreements = await platform.client.get("/agreements")
    assert "does not allow" in agreements.text and "KW-IOM-2024-001" not in agreements.text


async def test_a_bad_token_is_refused_at_sign_in(platform) -> None:
    r = await platform.client.post("/signin", data={"token": "x" * 40})
    assert r.status_code == 200 and "set-cookie" not in r.headers and 'role="alert"' in r.text


async def test_a_flood_of_bad_sign_ins_neither_signs_in_junk_nor_locks_out_a_valid_token(platform, token) -> None:
    """Hardening item 3: past the failed-authentication limit the services answer 429, which sign-in took for
    success (a junk token got a session cookie), and the admin token itself was refused."""
    for _ in range(31):  # AID_RATE_LIMIT_FAILED_AUTH: 30 a minute
        await platform.client.post("/signin", data={"token": "x" * 40})
    junk = await platform.client.post("/signin", data={"token": "y" * 40})
    assert junk.status_code == 200 and "set-cookie" not in junk.headers and "(429)" in junk.text
    await _signed_in(platform, token("admin"))


async def test_a_coordinator_reads_the_plan_table_beside_what_fts_published(platform, token) -> None:
    import uuid

    from tests.fts import FLOW_PAGES, PSE

    admin = auth(token("admin"))
    files = [("files", (p.name, p.read_bytes())) for p in [*FLOW_PAGES, *sorted(PSE.glob("fts_requirements*.csv"))]]
    r = await platform.pledges.client.post(
        "/v1/imports/fts", files=files, headers={**admin, "Idempotency-Key": str(uuid.uuid4())}
    )
    assert r.status_code == 200, r.text
    await _signed_in(platform, token("projects:read"))

    async def settled() -> str:
        page = (await platform.client.get("/plans?country=PSE")).text
        return page if "116,153,543.00" in page else ""

    page = await eventually(settled, timeout=60)
    assert "Food Security Sector" in page and "Outside every plan" in page and "FTS published" in page
    assert 'class="differs"' not in page  # every row the platform computes is what FTS published
    arabic = (await platform.client.get("/plans?country=PS&lang=ar")).text
    assert 'dir="rtl"' in arabic and "خارج كل الخطط" in arabic and i18n.money("116153543.00", "ar") in arabic
    wrong = (await platform.client.get("/plans?country=QQ")).text
    assert "not an ISO 3166-1" in wrong


async def test_a_bad_or_expired_token_on_the_live_feed_asks_to_sign_in_again(key_files, keypair) -> None:
    import datetime as dt

    import httpx

    from aid_common.auth import mint_token
    from aid_console.app import create_app
    from aid_console.settings import ConsoleSettings
    from aid_console.views import COOKIE

    console = create_app(ConsoleSettings(AID_JWT_PUBLIC_KEY_FILE=key_files[1], AID_CONSOLE_COOKIE_SECURE=False))
    expired = mint_token(keypair[0], subject="coordinator", scopes="projects:read", ttl=dt.timedelta(seconds=-60))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=console), base_url="http://console") as client:
        for cookie in ("not-a-token-" * 4, expired):
            client.cookies.set(COOKIE, cookie)
            r = await client.get("/feed/events")
            assert r.status_code == 303 and r.headers["location"] == "/signin", r.text


async def test_a_cancelled_agreement_is_marked_in_the_list(platform, token) -> None:
    admin = auth(token("admin"))
    await _seed(platform, admin)
    listed = (await platform.pledges.client.get("/v1/agreements", headers=admin)).json()["items"]
    cancel = await platform.pledges.client.post(
        f"/v1/agreements/{listed[0]['id']}/cancel", json={"reason": "withdrawn"}, headers=admin
    )
    assert cancel.status_code == 200, cancel.text
    await _signed_in(platform, token("admin"))
    english = (await platform.client.get("/agreements?lang=en")).text
    assert '<td class="status cancelled" data-label="Status">cancelled</td>' in english
    arabic = (await platform.client.get("/agreements?lang=ar")).text
    assert '<td class="status cancelled" data-label="الحالة">ملغى</td>' in arabic


async def test_empty_pages_say_why_and_what_to_do(platform, token) -> None:
    await _seed(platform, auth(token("admin")))  # Kuwait signed on 2024-05-01
    await _signed_in(platform, token("admin"))
    before = (await platform.client.get("/", params={"as_of": "2024-04-30", "lang": "en"})).text
    assert "No money had been signed or received by this date" in before
    after = (await platform.client.get("/", params={"as_of": "2024-05-01"})).text
    assert "No money had been signed" not in after
    arabic = (await platform.client.get("/projects", params={"country": "YE", "lang": "ar"})).text
    assert "لا يوجد مشروع يطابق هذه المرشحات" in arabic


async def test_an_agreement_page_answers_when_how_much_and_what_changed(platform, token) -> None:
    """The agreement page lacked its signing date and the amendments' old → new amounts; amounts were unformatted
    (100000.000) and the rate had 10 decimals."""
    import re

    admin = auth(token("admin"))
    await _seed(platform, admin)
    (agreement,) = (await platform.pledges.client.get("/v1/agreements", headers=admin)).json()["items"]
    amended = await platform.pledges.client.post(
        f"/v1/agreements/{agreement['id']}/amend", json={"amount": "120000.000"}, headers=admin
    )
    assert amended.status_code == 200, amended.text
    await _signed_in(platform, token("admin"))
    page = (await platform.client.get(f"/agreements/{agreement['id']}?lang=en")).text
    assert '<time datetime="2024-05-01">May 1, 2024</time>' in page, "its signing date, as people write it"
    assert "KWD 100,000.000</bdi> → <bdi" in page and "KWD 120,000.000" in page, "the amendment, old → new"
    rate = re.search(r"<dt>Rate</dt><dd><bdi dir=\"ltr\">([^<]+)</bdi>", page)
    assert rate is not None and len(rate.group(1).partition(".")[2]) <= 6, rate
    assert "Syria" in page, "the earmarked country by its name"
    assert "Where the money went" in page and "SY-NW-HEALTH-24" in page, "the project it funds"
    arabic = (await platform.client.get(f"/agreements/{agreement['id']}?lang=ar")).text
    assert "سوريا" in arabic and "عُدِّلت" in arabic and "تاريخ التوقيع" in arabic


async def test_the_overview_draws_funding_over_time_and_the_top_donors(platform, token) -> None:
    await _seed(platform, auth(token("admin")))
    await _signed_in(platform, token("admin"))
    page = (await platform.client.get("/?lang=en&as_of=2024-12-31")).text
    assert "Funding over time" in page and '<polyline class="funded" points="0.00,40.00' in page
    assert '<time datetime="2024-04-30">Apr 30, 2024</time>' in page, "the line starts before the first signing"
    assert "Top donors" in page and "State of Kuwait" in page
    before = (await platform.client.get("/?lang=en&as_of=2024-04-29")).text
    assert "Funding over time" not in before, "no line before any money moved"


async def test_the_agreement_list_filters_by_donor_status_and_country(platform, token) -> None:
    admin = auth(token("admin"))
    await _seed(platform, admin)
    qatar = {"name": "Qatar Fund for Development", "kind": "government", "country": "QA"}
    qatar_id = (await platform.pledges.client.post("/v1/donors", json=qatar, headers=admin)).json()["id"]
    other = {"donor_id": qatar_id, "reference": "QA-YE-1", "title": "مياه", "amount": "5000.00", "currency": "USD",
             "status": "pledged", "earmark": {"country": "YE", "sector": "wash"}}  # fmt: skip
    assert (await platform.pledges.client.post("/v1/agreements", json=other, headers=admin)).status_code == 201
    await _signed_in(platform, token("admin"))
    by_donor = (await platform.client.get(f"/agreements?lang=en&donor_id={qatar_id}")).text
    assert "QA-YE-1" in by_donor and "KW-IOM-2024-001" not in by_donor
    assert f'<option value="{qatar_id}" selected>Qatar Fund for Development</option>' in by_donor
    assert '<select name="appeal">' in by_donor, "and by appeal"
    signed = (await platform.client.get("/agreements?lang=en&status=signed")).text
    assert "KW-IOM-2024-001" in signed and "QA-YE-1" not in signed
    nothing = (await platform.client.get("/agreements?lang=ar&status=cancelled")).text
    assert "لا توجد اتفاقية تطابق هذه المرشحات" in nothing

"""The console's pages. Each reads the services' APIs with the person's token, kept in an HttpOnly, SameSite=Strict
cookie (never in the page's JavaScript)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from aid_common import visibility
from aid_common.errors import Unauthorized
from aid_console import charts, i18n
from aid_console.client import Answer, Services, SignInNeeded
from aid_console.deps import FEED, SERVICES, SETTINGS, TEMPLATES, VERIFIER

router = APIRouter()
COOKIE = "aid_session"
LANG = "aid_lang"


def _lang(request: Request) -> str:
    lang = request.query_params.get("lang") or request.cookies.get(LANG) or "en"
    return lang if lang in i18n.LANGUAGES else "en"


def _token(request: Request) -> str:
    token = request.cookies.get(COOKIE)
    if not token:
        raise SignInNeeded("sign in")
    return token


# The menu, and the scope each entry's page reads with: a token sees only the entries it can use.
MENU = (
    ("/", "overview", "projects:read"),
    ("/projects", "projects", "projects:read"),
    ("/agreements", "agreements", "pledges:read"),
    ("/organisations", "organisations", "pledges:read"),
    ("/pools", "pools", "projects:read"),
    ("/plans", "plans", "projects:read"),
    ("/partner", "partner", "notifications:read"),
    ("/live", "live", "projects:read"),
)


def _menu(request: Request) -> list[tuple[str, str]]:
    """The entries this person's token may use (all of them where the console cannot verify tokens)."""
    token, verifier = request.cookies.get(COOKIE), VERIFIER.maybe_of(request)
    if not token:
        return []
    if verifier is None:
        return [(href, word) for href, word, _ in MENU]
    try:
        caller = verifier.verify(token)
    except Unauthorized:
        return []
    entries = [(href, word) for href, word, scope in MENU if caller.has(scope)]
    if caller.partner_id is not None and caller.has("projects:read"):  # a partner's own projects, first
        entries.insert(1, (f"/projects?partner_id={caller.partner_id}", "my_projects"))
    return entries


def _current(request: Request) -> str:
    """This page's menu entry (a partner's own projects are /projects with its partner_id)."""
    query = request.url.query
    return request.url.path + (f"?{query}" if query.startswith("partner_id=") else "")


def _page(request: Request, template: str, **context: object) -> HTMLResponse:
    lang = _lang(request)
    response = TEMPLATES.of(request).TemplateResponse(
        request,
        template,
        {
            "lang": lang,
            "dir": "rtl" if lang == "ar" else "ltr",
            "t": i18n.WORDS[lang],
            "money": lambda v: i18n.ltr(i18n.money(v, lang)),
            "percent": lambda v: i18n.ltr(i18n.percent(v, lang)),
            "ltr": i18n.ltr,
            "short": lambda v: i18n.short(v, lang),
            "term": lambda v: i18n.term(v, lang),
            "name_in": lambda obj, field="title": i18n.name_in(obj, lang, field),
            "given": lambda v: i18n.given(v, lang),
            "option": lambda value, obj, field="title", selected=False: i18n.option(
                value, obj, lang, field, selected=selected
            ),
            "sector": lambda v: i18n.sector(v, lang),
            "country": lambda v: i18n.country(v, lang),
            "country_name": lambda v: i18n.country_name(v, lang),
            "place": lambda v: i18n.place(v, lang),
            "day": lambda v: i18n.day(v, lang),
            "moment": lambda v: i18n.moment(v, lang),
            "amount_in": lambda v, currency: i18n.amount_in(v, currency, lang),
            "rate": lambda v: i18n.rate(v, lang),
            "why_waiting": lambda pool: i18n.why_waiting(pool, lang),
            "signed_in": bool(request.cookies.get(COOKIE)),
            "menu": _menu(request),
            "path": request.url.path,
            "current": _current(request),
            **context,
        },
    )
    if request.query_params.get("lang") in i18n.LANGUAGES:
        response.set_cookie(LANG, lang, max_age=365 * 86400, samesite="strict", httponly=True)
    return response


def _services(request: Request) -> Services:
    return SERVICES.of(request)


def _items(answer: Answer) -> list:
    return answer.body.get("items", []) if answer.ok and isinstance(answer.body, dict) else []


@router.get("/healthz", include_in_schema=False)
async def healthz() -> dict[str, str]:
    return {"status": "ok", "service": "console"}


@router.get("/signin", response_class=HTMLResponse)
async def signin_form(request: Request) -> HTMLResponse:
    # No message from the address bar: a link could otherwise put any words on the sign-in page.
    return _page(request, "signin.html", error=None)


@router.post("/signin")
async def signin(request: Request, token: Annotated[str, Form(min_length=20, max_length=8192)]) -> Response:
    token = token.strip()
    try:
        answer = await _services(request).get("projects", "/v1/appeals", token)  # is the token accepted at all?
    except SignInNeeded as exc:
        return _page(request, "signin.html", error=str(exc))
    if not (answer.ok or answer.forbidden):  # fails closed: a 429 or a 5xx is no proof that the token is good
        unchecked = i18n.WORDS[_lang(request)]["token_unchecked"].format(status=answer.status)
        return _page(request, "signin.html", error=unchecked)
    response = RedirectResponse("/", status_code=303)
    secure = SETTINGS.of(request).cookie_secure
    response.set_cookie(COOKIE, token, httponly=True, samesite="strict", secure=secure, max_age=12 * 3600)
    return response


@router.post("/signout")
async def signout() -> Response:
    response = RedirectResponse("/signin", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, as_of: Annotated[str | None, Query(max_length=40)] = None) -> HTMLResponse:
    token, services = _token(request), _services(request)
    appeals = await services.get("projects", "/v1/appeals", token, as_of=as_of)
    countries = await services.get("projects", "/v1/coverage", token, by="country", as_of=as_of)
    sectors = await services.get("projects", "/v1/coverage", token, by="sector", as_of=as_of)
    projects = await services.get("projects", "/v1/projects", token, limit=500, as_of=as_of)
    gaps = sorted(_items(projects), key=lambda p: -Decimal(p["unmet_usd"]))[:10]  # money: never float
    agreements = _items(await services.get("pledges", "/v1/agreements", token, limit=500))  # [] without the scope
    donors = {d["id"]: d for d in _items(await services.get("pledges", "/v1/donors", token, limit=500))}
    return _page(
        request, "overview.html", appeals=_items(appeals), countries=_items(countries), sectors=_items(sectors),
        gaps=[g for g in gaps if Decimal(g["unmet_usd"]) > 0], as_of=as_of or "",
        moved=any(Decimal(r["funded_usd"]) or Decimal(r["unallocated_usd"]) for r in _items(countries)),
        over_time=await _over_time(services, token, agreements, as_of),
        top_donors=charts.top_donors(agreements, donors),
    )  # fmt: skip


async def _over_time(services: Services, token: str, agreements: list, as_of: str | None) -> dict | None:
    """Funding and signed money at twelve days from the first signing to `as_of` (or today), by the dates money
    moved: one coverage row per day, asked at once."""
    first = charts.first_day(agreements)
    try:
        last = dt.date.fromisoformat(as_of) if as_of else dt.datetime.now(dt.UTC).date()
    except ValueError:
        return None
    if first is None or first > last:
        return None
    days = charts.days_between(first, last)
    answers = await asyncio.gather(
        *(services.get("projects", "/v1/coverage", token, by="all", as_of=d.isoformat()) for d in days)
    )
    if not all(a.ok for a in answers):
        return None
    points = []
    for day, answer in zip(days, answers, strict=True):
        row: dict = next(iter(_items(answer)), {})  # no row: nothing existed yet that day
        points.append(charts.Point(day, Decimal(row.get("funded_usd", 0)), Decimal(row.get("unallocated_usd", 0))))
    return {"points": points, "line": charts.line(points)}


@router.get("/projects", response_class=HTMLResponse)
async def projects(
    request: Request,
    country: Annotated[str | None, Query(max_length=2)] = None,
    sector: Annotated[str | None, Query(max_length=40)] = None,
    appeal: Annotated[str | None, Query(max_length=50)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    partner_id: Annotated[str | None, Query(max_length=36)] = None,
    as_of: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    params = {"country": country, "sector": sector, "appeal": appeal, "status": status, "partner_id": partner_id}
    params["as_of"] = as_of
    token, services = _token(request), _services(request)
    answer, countries, sectors, appeals, partners = await asyncio.gather(
        services.get("projects", "/v1/projects", token, limit=500, **params),
        services.get("projects", "/v1/coverage", token, by="country"),
        services.get("projects", "/v1/coverage", token, by="sector"),
        services.get("projects", "/v1/appeals", token),
        services.get("notifications", "/v1/partners", token, limit=500),
    )
    # the filters offer what exists: countries and sectors with projects, the appeals, the partners by name
    choices = {
        "country": [r["key"] for r in _items(countries)],
        "sector": [r["key"] for r in _items(sectors)],
        "appeal": _items(appeals),
        "partner": _items(partners),
    }
    return _page(
        request, "projects.html", projects=_items(answer), filters=params, choices=choices,
        problem=None if answer.ok else answer.body,
    )  # fmt: skip


@router.get("/projects/{project_id}", response_class=HTMLResponse)
async def project(request: Request, project_id: str) -> HTMLResponse:
    token, services = _token(request), _services(request)
    found = await services.get("projects", f"/v1/projects/{project_id}", token)
    ledger = await services.get("projects", f"/v1/projects/{project_id}/allocations", token, limit=500)
    agreements = await services.get("pledges", "/v1/agreements", token, limit=500)
    donors = {d["id"]: d for d in _items(await services.get("pledges", "/v1/donors", token, limit=500))}
    by_id = {a["id"]: {**a, "donor": donors.get(a["donor_id"], {})} for a in _items(agreements)}
    return _page(
        request, "project.html", project=found.body if found.ok else None, ledger=_items(ledger), agreements=by_id
    )


@router.get("/agreements", response_class=HTMLResponse)
async def agreements(
    request: Request,
    donor_id: Annotated[str | None, Query(max_length=36)] = None,
    status: Annotated[str | None, Query(max_length=20)] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
    sector: Annotated[str | None, Query(max_length=40)] = None,
    appeal: Annotated[str | None, Query(max_length=50)] = None,
) -> HTMLResponse:
    token, services = _token(request), _services(request)
    filters = {"donor_id": donor_id, "status": status, "country": country, "sector": sector, "appeal": appeal}
    answer, donors_answer, countries, appeals = await asyncio.gather(
        services.get("pledges", "/v1/agreements", token, limit=500, **filters),
        services.get("pledges", "/v1/donors", token, limit=500),
        services.get("projects", "/v1/coverage", token, by="country"),
        services.get("projects", "/v1/appeals", token),
    )
    donors = {d["id"]: d for d in _items(donors_answer)}
    choices = {
        "donor": sorted(donors.values(), key=lambda d: d["name"]),
        "country": [r["key"] for r in _items(countries)],
        "sector": list(i18n.SECTORS["en"]),
        "appeal": _items(appeals),
    }
    return _page(
        request, "agreements.html", agreements=_items(answer), donors=donors, forbidden=answer.forbidden,
        filters=filters, choices=choices, problem=None if answer.ok or answer.forbidden else answer.body,
    )  # fmt: skip


ROLES = ("donor", "recipient", "implementing_partner", "pooled_fund")


@router.get("/organisations", response_class=HTMLResponse)
async def organisations(
    request: Request,
    role: Annotated[str | None, Query(max_length=30)] = None,
    country: Annotated[str | None, Query(max_length=2)] = None,
) -> HTMLResponse:
    """Every organisation once, with every role it plays (the pledges service's register)."""
    filters = {"role": role if role in ROLES else None, "country": country or None}
    answer = await _services(request).get("pledges", "/v1/organisations", _token(request), limit=500, **filters)
    found = _items(answer)
    return _page(
        request, "organisations.html", organisations=found, filters=filters, roles=ROLES, forbidden=answer.forbidden,
        countries=sorted({o["country"] for o in found if o["country"]} | ({country} if country else set())),
        problem=None if answer.ok or answer.forbidden else answer.body,
    )  # fmt: skip


@router.get("/agreements/{agreement_id}", response_class=HTMLResponse)
async def agreement(request: Request, agreement_id: str) -> HTMLResponse:
    token, services = _token(request), _services(request)
    found = await services.get("pledges", f"/v1/agreements/{agreement_id}", token)
    history = await services.get("pledges", f"/v1/agreements/{agreement_id}/history", token)
    paid = await services.get("pledges", f"/v1/agreements/{agreement_id}/disbursements", token)
    funding = await services.get("projects", f"/v1/funding/agreements/{agreement_id}", token)
    return _page(
        request, "agreement.html", agreement=found.body if found.ok else None, history=_items(history),
        disbursements=_items(paid), forbidden=found.forbidden, funding=funding.body if funding.ok else None,
        pool_waits=funding.ok and any(Decimal(funding.body[k]) for k in ("pool_usd", "pool_received_usd")),
    )  # fmt: skip


@router.get("/pools", response_class=HTMLResponse)
async def pools(request: Request) -> HTMLResponse:
    answer = await _services(request).get("projects", "/v1/pools", _token(request))
    return _page(request, "pools.html", pools=_items(answer))


@router.get("/plans", response_class=HTMLResponse)
async def plans(
    request: Request,
    country: Annotated[str, Query(min_length=2, max_length=3, pattern="^[A-Za-z]+$")] = "PS",
    as_of: Annotated[str | None, Query(max_length=40)] = None,
) -> HTMLResponse:
    """A country's plan x cluster table beside what FTS published for each row, with the difference."""
    params = {"country": country} | ({"as_of": as_of} if as_of else {})
    answer = await _services(request).get("projects", "/v1/reports/plan-clusters", _token(request), **params)
    rows = [
        {**row, "difference": _difference(row.get("funding_usd"), row.get("published_funding_usd"))}
        for row in _items(answer)
    ]
    return _page(
        request, "plans.html", rows=rows, country_code=country.upper(), as_of=as_of or "", forbidden=answer.forbidden,
        problem=None if answer.ok or answer.forbidden else (answer.body or {}).get("detail"),
    )  # fmt: skip


def _difference(ours: object, published: object) -> Decimal | None:
    if ours is None or published is None:
        return None
    return Decimal(str(ours)) - Decimal(str(published))


@router.get("/partner", response_class=HTMLResponse)
async def partner(request: Request) -> HTMLResponse:
    token, services = _token(request), _services(request)
    subscriptions = await services.get("notifications", "/v1/subscriptions", token, limit=500)
    deliveries = await services.get("notifications", "/v1/deliveries", token, limit=200)
    return _page(
        request, "partner.html", subscriptions=_items(subscriptions), deliveries=_items(deliveries),
        forbidden=subscriptions.forbidden,
    )  # fmt: skip


@router.post("/partner/deliveries/{delivery_id}/retry")
async def retry(request: Request, delivery_id: str) -> Response:
    await _services(request).call("notifications", "POST", f"/v1/deliveries/{delivery_id}/retry", _token(request))
    return RedirectResponse("/partner", status_code=303)


@router.get("/live", response_class=HTMLResponse)
async def live(request: Request) -> HTMLResponse:
    _token(request)
    return _page(request, "live.html")


@router.get("/feed/events")
async def feed_events(request: Request) -> StreamingResponse:
    """Server-sent events of the live feed, as much as this person's token may see, for as long as the token
    holds (checked again at every heartbeat); a few streams per token and a bounded number in all."""
    verifier = VERIFIER.maybe_of(request)
    token = _token(request)
    if verifier is None:
        raise SignInNeeded("the live feed needs AID_JWT_PUBLIC_KEY_FILE to verify tokens")
    try:
        caller, expires = verifier.verify_until(token)
    except Unauthorized as exc:  # expired, revoked, forged: sign in again (it was a 500)
        raise SignInNeeded(f"the live feed needs a valid token: {exc.detail}") from None
    if not caller.has("projects:read"):
        raise SignInNeeded("the live feed needs a token with projects:read")
    feed = FEED.maybe_of(request)
    if feed is None:
        raise HTTPException(503, "the live feed reads the event bus, and this console has none")
    settings = SETTINGS.of(request)
    key, caps = hashlib.sha256(token.encode()).hexdigest(), (settings.feed_streams_per_token, settings.feed_streams)
    if feed.full(key, per_key=caps[0], total=caps[1]):
        raise HTTPException(429, "too many live feeds are open; close one", headers={"retry-after": "60"})

    def still_valid() -> bool:
        try:
            verifier.verify(token)
        except Unauthorized:
            return False
        return True

    return StreamingResponse(
        feed.stream(
            visibility.entitlement(caller),
            key=key,
            caps=caps,
            still_valid=still_valid,
            closes_at=expires,
            heartbeat=settings.feed_heartbeat_seconds,
        ),
        media_type="text/event-stream",
        headers={"cache-control": "no-store", "x-accel-buffering": "no"},
    )

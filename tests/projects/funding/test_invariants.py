"""Random histories against the real projects service (SQLite, its own handlers and routes): create projects, raise
and lower what they need, close and re-open them, sign, amend and cancel agreements at every earmark level,
disburse. After every step the figures must hold up:

- every agreement: Σ allocations + pool = its signed USD (0 when pledged or cancelled);
- no pool holds money while an active project that matches it has a gap;
- every coverage row (country, sector, pillar, appeal, all) equals a recomputation from projects and pools;
- Σ received over projects and pools = Σ disbursed;
- the preview of each signature is the allocation that signing then makes;
- at the end, `known_at` each earlier step answers that step's figures exactly.

The same histories also run on PostgreSQL in two lanes at once (two writers under the scoped ledger locks);
everything but the preview and `known_at` (which need one writer) must hold at the end.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import uuid
from collections import defaultdict
from decimal import Decimal

import asyncpg
import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from aid_common.settings import Mode
from aid_common.state import runtime_of
from aid_projects.app import create_app
from aid_projects.funding.models import AgreementFunds, LedgerEntry, Share
from aid_projects.settings import ProjectsSettings
from tests.helpers import auth
from tests.projects.conftest import amended, cancelled, deliver, disbursed, envelope, project_body, signed

ZERO = Decimal("0.00")
STATED = {"P1": Decimal("300000.00"), "P2": Decimal("200000.00")}
COUNTRIES, SECTORS = ("SY", "YE"), ("health", "shelter")
FIGURES = ("requirements_usd", "funded_usd", "unmet_usd", "overfunded_usd", "unallocated_usd", "received_usd",
           "coverage", "overfunded")  # fmt: skip
PLACE = ("country", "sector", "appeal", "pillar")

cents = st.integers(min_value=1, max_value=40_000_000).map(lambda c: Decimal(c).scaleb(-2))
project_op = st.tuples(
    st.just("project"),
    st.sampled_from(COUNTRIES),
    st.sampled_from(SECTORS),
    st.sampled_from([None, "P1", "P2"]),
    cents,
    st.sampled_from(["active", "active", "planned"]),
)
earmarks = st.one_of(
    st.tuples(st.just("project"), st.integers(0, 5)),
    st.tuples(st.just("country"), st.sampled_from(COUNTRIES)),
    st.tuples(st.just("country+sector"), st.sampled_from(COUNTRIES), st.sampled_from(SECTORS)),
    st.tuples(st.just("pillar"), st.sampled_from(["P1", "P2"])),
    st.just(("appeal",)),
    st.just(("none",)),
)
ops = st.one_of(
    project_op,
    st.tuples(st.just("requirements"), st.integers(0, 5), cents),
    st.tuples(st.just("status"), st.integers(0, 5), st.sampled_from(["active", "closed", "planned"])),
    st.tuples(st.just("sign"), cents, earmarks),
    st.tuples(st.just("sign"), cents, earmarks),
    st.tuples(st.just("amend"), st.integers(0, 7), cents),
    st.tuples(st.just("cancel"), st.integers(0, 7)),
    st.tuples(st.just("disburse"), st.integers(0, 7), st.integers(1, 100)),
)


def _earmark(spec: tuple, projects: list[dict]) -> dict | None:
    kind = spec[0]
    if kind == "project":
        return {"project_id": projects[spec[1] % len(projects)]["id"]} if projects else None
    if kind == "country":
        return {"country": spec[1]}
    if kind == "country+sector":
        return {"country": spec[1], "sector": spec[2]}
    if kind == "pillar":
        return {"appeal": "A-2024", "pillar": spec[1]}
    return {"appeal": "A-2024"} if kind == "appeal" else {}


def _inside(place: dict, key: str, by: str) -> bool:
    if by == "all":
        return True
    if by == "pillar":
        return f"{place.get('appeal')}/{place.get('pillar')}" == key
    return place.get(by) == key


def _expected_rows(projects: list[dict], pools: list[AgreementFunds], by: str) -> dict[str, dict[str, str]]:
    """The coverage rule, recomputed from scratch."""
    by_id = {p["id"]: p for p in projects}
    pools = [q for q in pools if q.pool_usd or q.pool_received_usd]  # a row is there for projects or money

    def place(pool: AgreementFunds) -> dict:
        if pool.earmark_project_id:
            return by_id.get(str(pool.earmark_project_id), {})
        return {"country": pool.earmark_country, "sector": pool.earmark_sector, "appeal": pool.earmark_appeal,
                "pillar": pool.earmark_pillar}  # fmt: skip

    if by == "all":
        keys = {"all"}
    elif by == "pillar":
        keys = {f"A-2024/{p}" for p in STATED}
    elif by == "appeal":
        keys = {"A-2024"}
    else:
        keys = {p[by] for p in projects} | {place(q).get(by) for q in pools} - {None}
    rows = {}
    for key in keys:
        inside = [p for p in projects if _inside(p, key, by)]
        waiting = [q for q in pools if _inside(place(q), key, by)]
        if by == "pillar":
            req = STATED[key.split("/")[1]]
        elif by == "appeal":
            req = sum(STATED.values(), ZERO)
        else:
            req = sum((Decimal(p["requirements_usd"]) for p in inside), ZERO)
        funded = sum((Decimal(p["funded_usd"]) for p in inside), ZERO)
        met = sum((min(Decimal(p["funded_usd"]), Decimal(p["requirements_usd"])) for p in inside), ZERO)
        over = sum((max(Decimal(p["funded_usd"]) - Decimal(p["requirements_usd"]), ZERO) for p in inside), ZERO)
        received = sum((Decimal(p["received_usd"]) for p in inside), ZERO) + sum(
            (q.pool_received_usd for q in waiting), ZERO
        )
        cov = (funded / req).quantize(Decimal("0.0001")) if req > 0 else Decimal("0.0000")
        rows[key] = {
            "requirements_usd": f"{req:.2f}",
            "funded_usd": f"{funded:.2f}",
            "unmet_usd": f"{max(req - met, ZERO):.2f}",
            "overfunded_usd": f"{over:.2f}",
            "unallocated_usd": f"{sum((q.pool_usd for q in waiting), ZERO):.2f}",
            "received_usd": f"{received:.2f}",
            "coverage": f"{cov}",
        }
    return rows


class World:
    def __init__(self, client: httpx.AsyncClient, svc, headers: dict[str, str]) -> None:
        self.client, self.svc, self.headers = client, svc, headers
        self.projects: list[dict] = []
        self.agreements: list = []  # the latest event payload of each agreement
        self.disbursed: dict[uuid.UUID, Decimal] = defaultdict(lambda: ZERO)
        self.moments: list[tuple[str, dict]] = []
        self.previews = True  # off when another writer runs at the same time: gaps may change in between
        self.lane = ""  # names projects apart when two lanes create them at once

    async def figures(self, **params) -> dict:
        out = {}
        for by in ("country", "sector", "pillar", "appeal", "all"):
            r = await self.client.get("/v1/coverage", params={"by": by, **params}, headers=self.headers)
            assert r.status_code == 200, r.text
            out[by] = r.json()["items"]
        r = await self.client.get("/v1/projects", params={"limit": 500, **params}, headers=self.headers)
        # What a project needed, its status and its figures are recorded in time; its names and titles are current.
        out["projects"] = [{k: p[k] for k in (*FIGURES, "id", "code", "status", *PLACE)} for p in r.json()["items"]]
        return out

    async def apply(self, op: tuple) -> None:
        kind = op[0]
        if kind == "project":
            _, country, sector, pillar, req, status = op
            code = f"P{self.lane}-{len(self.projects)}"
            body = project_body(code, f"{req:.2f}", country=country, sector=sector, status=status)
            if pillar:
                body.update(appeal="A-2024", pillar=pillar)
            r = await self.client.post("/v1/projects", json=body, headers=self.headers)
            assert r.status_code == 201, r.text
            self.projects.append(r.json())
        elif kind in ("requirements", "status") and self.projects:
            p = self.projects[op[1] % len(self.projects)]
            change = {"requirements_usd": f"{op[2]:.2f}"} if kind == "requirements" else {"status": op[2]}
            r = await self.client.patch(f"/v1/projects/{p['id']}", json=change, headers=self.headers)
            assert r.status_code == 200, r.text
        elif kind == "sign":
            earmark = _earmark(op[2], self.projects)
            if earmark is not None:
                await self.sign(op[1], earmark)
        elif kind in ("amend", "cancel", "disburse") and self.agreements:
            i = op[1] % len(self.agreements)
            a = self.agreements[i]
            if a.status != "signed":
                return
            if kind == "amend":
                self.agreements[i] = amended(a, f"{max(op[2], self.disbursed[a.agreement_id]):.2f}")
                if self.agreements[i].amount_usd != a.amount_usd:
                    await deliver(self.svc, self.agreements[i])
            elif kind == "cancel" and self.disbursed[a.agreement_id] == 0:
                self.agreements[i] = cancelled(a)
                await deliver(self.svc, self.agreements[i])
            elif kind == "disburse":
                left = a.amount_usd - self.disbursed[a.agreement_id]
                amount = (left * op[2] / 100).quantize(Decimal("0.01"))
                if amount > 0:
                    self.disbursed[a.agreement_id] += amount
                    await deliver(self.svc, disbursed(a, f"{amount}", f"{self.disbursed[a.agreement_id]}"))

    async def sign(self, amount: Decimal, earmark: dict) -> None:
        if not self.previews:
            agreement = signed(f"{amount:.2f}", **earmark)
            await deliver(self.svc, agreement)
            self.agreements.append(agreement)
            return
        r = await self.client.post(
            "/v1/allocation-preview", json={"amount_usd": f"{amount:.2f}", "earmark": earmark}, headers=self.headers
        )
        assert r.status_code == 200, r.text
        preview = r.json()
        agreement = signed(f"{amount:.2f}", **earmark)
        event = envelope(agreement)
        await deliver(self.svc, event)
        self.agreements.append(agreement)
        async with self.svc.runtime.sessions() as s:
            made = defaultdict(lambda: ZERO)
            for e in (await s.execute(select(LedgerEntry).where(LedgerEntry.event_id == event.id))).scalars():
                made[str(e.project_id)] += e.amount_usd
            pool = (await s.get(AgreementFunds, agreement.agreement_id)).pool_usd
        assert {line["project_id"]: line["amount_usd"] for line in preview["projects"]} == {
            k: f"{v:.2f}" for k, v in made.items()
        }, "the preview is the allocation that signing made"
        assert preview["pool_usd"] == f"{pool:.2f}"

    async def check(self) -> None:
        async with self.svc.runtime.sessions() as s:
            funds = list((await s.execute(select(AgreementFunds))).scalars())
            shares = list((await s.execute(select(Share))).scalars())
        held = defaultdict(lambda: ZERO)
        for share in shares:
            held[share.agreement_id] += share.allocated_usd
        for a in funds:
            target = a.amount_usd if a.status == "signed" else ZERO
            assert held[a.agreement_id] + a.pool_usd == target, "Σ allocations + pool = signed USD"
        figures = await self.figures()
        projects = figures["projects"]
        for q in funds:
            if q.pool_usd > 0 and q.earmark_project_id is None:
                e = {k: getattr(q, f"earmark_{k}") for k in ("country", "sector", "appeal", "pillar")}
                for p in projects:
                    matches = all(v is None or p[k] == v for k, v in e.items())
                    assert not (matches and p["status"] == "active" and Decimal(p["unmet_usd"]) > 0), (
                        f"pool {q.pool_key} holds {q.pool_usd} while {p['code']} has a gap"
                    )
        for by in ("country", "sector", "pillar", "appeal", "all"):
            got = {row.pop("key"): row for row in [dict(r) for r in figures[by]]}
            assert got == _expected_rows(projects, funds, by), by
        received = sum((Decimal(p["received_usd"]) for p in projects), ZERO) + sum(
            (q.pool_received_usd for q in funds), ZERO
        )
        assert received == sum(self.disbursed.values(), ZERO), "Σ received = Σ disbursed"
        await asyncio.sleep(0.002)
        self.moments.append((dt.datetime.now(dt.UTC).isoformat(), figures))
        await asyncio.sleep(0.002)


@contextlib.asynccontextmanager
async def _projects_service(database_url: str, key_files):
    """The projects service (API role, its consumer driven by hand) on `database_url`: an httpx client and the
    harness `deliver` hands events to."""
    settings_ = ProjectsSettings(
        AID_MODE=Mode.EMBEDDED, DATABASE_URL=database_url, AID_JWT_PUBLIC_KEY_FILE=str(key_files[1])
    )
    app = create_app(settings_, role="api")
    await runtime_of(app).start()
    try:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:

            class Harness:
                runtime = runtime_of(app)

            yield client, Harness
    finally:
        await runtime_of(app).stop()


async def _open_appeal(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    appeal = {
        "code": "A-2024",
        "title": "Appeal",
        "year": 2024,
        "pillars": [{"code": c, "title": c, "requirements_usd": f"{v}"} for c, v in STATED.items()],
    }
    assert (await client.post("/v1/appeals", json=appeal, headers=headers)).status_code == 201


async def _run(history: list[tuple], key_files, token) -> None:
    url = f"sqlite+aiosqlite:///{key_files[0].parent / f'inv-{uuid.uuid4().hex}.db'}"
    async with _projects_service(url, key_files) as (client, harness):
        world = World(client, harness, auth(token("projects:write projects:read")))
        await _open_appeal(client, world.headers)
        for op in history:
            await world.apply(op)
            await world.check()
        for moment, figures in world.moments:
            assert await world.figures(known_at=moment) == figures, f"known_at {moment}"


# AID_INVARIANT_EXAMPLES raises the count for a longer local run.
@settings(
    max_examples=int(os.environ.get("AID_INVARIANT_EXAMPLES", "25")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(history=st.lists(st.one_of(project_op, ops), min_size=1, max_size=14))
def test_figures_hold_after_every_step_of_any_history(history, key_files, token) -> None:
    asyncio.run(_run(history, key_files, token))


async def _run_concurrently(history: list[tuple], pg_admin_dsn: str, key_files, token) -> None:
    """The same kind of history on PostgreSQL, split in two lanes that run at once — two writers, as two
    consumer replicas and API calls would be, under the scoped ledger locks; then every figure must hold."""
    name = f"inv_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(pg_admin_dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = f"postgresql+asyncpg://{pg_admin_dsn.split('//')[1].rsplit('/', 1)[0]}/{name}"
    try:
        async with _projects_service(url, key_files) as (client, harness):
            headers = auth(token("projects:write projects:read"))
            lanes = [World(client, harness, headers), World(client, harness, headers)]
            lanes[1].projects = lanes[0].projects  # one set of projects; agreements stay in their lane (their key)
            for lane, world in enumerate(lanes):
                world.previews, world.lane = False, "AB"[lane]
            await _open_appeal(client, headers)
            setup = [i for i, op in enumerate(history) if op[0] == "project"][:2]  # something to fund from the start
            for i in setup:
                await lanes[0].apply(history[i])
            rest = [op for i, op in enumerate(history) if i not in setup]

            async def run(lane: int) -> None:
                for op in rest[lane::2]:
                    await lanes[lane].apply(op)

            await asyncio.gather(run(0), run(1))
            lanes[0].disbursed.update(lanes[1].disbursed)
            await lanes[0].check()
    finally:
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except asyncpg.InsufficientPrivilegeError:
            pass  # a server process (autovacuum) was still on it: an empty test database stays behind, harmless
        await admin.close()


# AID_INVARIANT_CONCURRENT_EXAMPLES raises the count for a longer local run.
@settings(
    max_examples=int(os.environ.get("AID_INVARIANT_CONCURRENT_EXAMPLES", "20")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(history=st.lists(st.one_of(project_op, ops), min_size=4, max_size=30))
def test_figures_hold_when_two_writers_run_any_history_at_once(history, pg_admin_dsn, key_files, token) -> None:
    asyncio.run(_run_concurrently(history, pg_admin_dsn, key_files, token))

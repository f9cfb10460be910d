"""The headline flow as a client drives it, against any running platform — OS processes (tests/e2e) or the compose
stack's containers (tests/compose): six projects, three donors, a partner subscribed to funding webhooks; many
agreements signed while something breaks; then every project's funding is exactly the sum of its agreements,
every webhook arrived verified, and duplicates only ever repeat a webhook-id."""

from __future__ import annotations

import asyncio
import json
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

import httpx
from standardwebhooks.webhooks import Webhook

from tests.helpers import eventually
from tests.receiver import Receiver


class Reachable(Protocol):
    url: str


@dataclass
class Platform:
    """The three public APIs, an admin's headers, a webhook receiver the platform can reach."""

    pledges: Reachable
    projects_api: Reachable
    notifications_api: Reachable
    receiver: Receiver
    admin: dict[str, str]
    http: httpx.AsyncClient

    async def post(self, service: Reachable, path: str, body: dict, **headers: str) -> dict:
        r = await self.http.post(service.url + path, json=body, headers={**self.admin, **headers})
        assert r.status_code in (200, 201, 202), f"{path}: {r.status_code} {r.text}"
        return r.json()

    async def post_until_accepted(self, service: Reachable, path: str, body: dict, key: str) -> dict:
        """What a careful client does: on 503 (database away), 409 (same key still in progress), a dropped
        connection, or a 422 on an earmark to a project created a moment ago (the pledges service learns of it from
        the projects service's events), send the same request again with the same Idempotency-Key."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 120
        while True:
            try:
                r = await self.http.post(service.url + path, json=body, headers={**self.admin, "Idempotency-Key": key})
                if r.status_code in (200, 201):
                    return r.json()
                earmark_not_seen_yet = r.status_code == 422 and any(
                    e["location"].startswith("body.earmark") for e in r.json().get("errors") or []
                )
                assert r.status_code in (409, 503) or earmark_not_seen_yet, f"{path}: {r.status_code} {r.text}"
            except httpx.TransportError:
                pass
            assert loop.time() < deadline, f"{path} not accepted within 120 s"
            await asyncio.sleep(0.5)

    async def get(self, service: Reachable, path: str, **params) -> dict:
        r = await self.http.get(service.url + path, params=params, headers=self.admin)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        return r.json()


# One project per (country, sector): an agreement earmarked to that pair can only go to that project, so the
# expected totals do not depend on the order in which agreements are handled.
PROJECTS = [
    ("SY-NW-HEALTH", "SY", "health"),
    ("SY-EDU", "SY", "education"),
    ("YE-WASH", "YE", "wash"),
    ("SD-FOOD", "SD", "food-security"),
    ("LB-SHELTER", "LB", "shelter"),
    ("AF-EDU", "AF", "education"),
]


async def set_up(platform: Platform) -> tuple[dict[str, dict], list[dict], dict]:
    """The projects, the donors, and a partner's subscription to every funding update."""
    projects = {}
    for code, country, sector in PROJECTS:
        body = {"code": code, "title": code, "country": country, "sector": sector, "requirements_usd": "100000000.00"}
        projects[code] = await platform.post(platform.projects_api, "/v1/projects", body)
    donors = [
        await platform.post(platform.pledges, "/v1/donors", d)
        for d in (
            {"name": "State of Kuwait", "kind": "government", "country": "KW", "names": {"ar": "دولة الكويت"}},
            {"name": "Qatar Fund for Development", "kind": "development_bank", "country": "QA"},
            {"name": "Global Islamic Fund for Refugees", "kind": "pooled_fund", "country": "SA"},
        )
    ]
    partner = await platform.post(platform.notifications_api, "/v1/partners", {"name": "Kuwait Red Crescent Society"})
    sub = await platform.post(
        platform.notifications_api,
        "/v1/subscriptions",
        {
            "partner_id": partner["id"],
            "url": platform.receiver.url("/all"),
            "event_types": ["aid.project.funding_updated"],
        },
    )
    return projects, donors, sub


async def sign_many(
    platform: Platform, projects, donors, n: int, chaos: Callable[[int], Awaitable[None]]
) -> dict[str, Decimal]:
    """Sign `n` agreements (8 at a time); `chaos(signed_so_far)` runs after each. Returns USD expected per project."""
    rng = random.Random(20241125)
    expected: dict[str, Decimal] = defaultdict(Decimal)
    signed = 0
    lock = asyncio.Semaphore(8)

    async def sign(i: int) -> None:
        nonlocal signed
        code, country, sector = PROJECTS[i % len(PROJECTS)]
        earmark = {"project_id": projects[code]["id"]} if i % 5 == 0 else {"country": country, "sector": sector}
        currency, places = rng.choice([("USD", 2), ("KWD", 3), ("QAR", 2)])
        amount = Decimal(rng.randint(100_000, 5_000_000)).scaleb(-places)
        body = {
            "donor_id": donors[i % len(donors)]["id"],
            "reference": f"E2E-{i:04d}",
            "title": f"منحة رقم {i}",
            "amount": str(amount),
            "currency": currency,
            "status": "signed",
            "signed_on": "2024-06-01",
            "earmark": earmark,
        }
        async with lock:
            agreement = await platform.post_until_accepted(platform.pledges, "/v1/agreements", body, key=f"e2e-{i}")
        expected[code] += Decimal(agreement["amount_usd"])
        signed += 1
        await chaos(signed)

    await asyncio.gather(*(sign(i) for i in range(n)))
    return expected


async def assert_converged(platform: Platform, projects, sub, expected: dict[str, Decimal], n: int) -> None:
    async def funding_matches() -> bool:
        for code, project in projects.items():
            got = await platform.get(platform.projects_api, f"/v1/projects/{project['id']}")
            if Decimal(got["funded_usd"]) != expected[code]:
                return False
        return True

    await eventually(funding_matches, timeout=240, interval=1)

    def event_ids() -> set[str]:
        return {json.loads(r.body)["id"] for r in platform.receiver.at("/all")}

    await eventually(lambda: len(event_ids()) >= n, timeout=240, interval=1)
    await asyncio.sleep(2)  # let late duplicates show up, if any
    by_webhook: dict[str, set[str]] = defaultdict(set)
    by_event: dict[str, set[str]] = defaultdict(set)
    agreements_seen = set()
    for request in platform.receiver.at("/all"):
        event = Webhook(sub["secret"]).verify(request.body, request.headers)
        by_webhook[request.headers["webhook-id"]].add(event["id"])
        by_event[event["id"]].add(request.headers["webhook-id"])
        agreements_seen.add(event["data"]["agreement_id"])
    assert len(by_event) == n and len(agreements_seen) == n, "one funding_updated webhook per agreement"
    assert all(len(ids) == 1 for ids in by_webhook.values()), "a webhook-id always carries the same event"
    assert all(len(ids) == 1 for ids in by_event.values()), "a repeated event keeps its webhook-id"
    for code, project in projects.items():
        ledger = await platform.get(platform.projects_api, f"/v1/projects/{project['id']}/allocations", limit=500)
        assert sum(Decimal(e["amount_usd"]) for e in ledger["items"]) == expected[code]

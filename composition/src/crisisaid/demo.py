"""The demo data set (demo.json, taken from the seed articles), loaded through the services' own HTTP APIs so
it takes the same path as a partner's data: events, allocations and all."""

from __future__ import annotations

import asyncio
import json
from importlib import resources
from typing import Any

import httpx

EARMARK_WAIT_SECONDS = 30.0


class DemoLoadError(RuntimeError):
    pass


def demo_data() -> dict[str, Any]:
    return json.loads((resources.files("crisisaid") / "demo.json").read_text(encoding="utf-8"))


async def load_demo(urls: dict[str, str], token: str, *, echo=print) -> bool:
    """Load the demo set unless the pledges service already has donors (a restart keeps what is there).
    Returns whether it loaded anything."""
    data = demo_data()
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(headers=headers, timeout=30) as http:

        async def post(service: str, path: str, body: dict, *, wait_for_earmark: bool = False) -> dict:
            # The pledges service learns of appeals and projects from the projects service's events: an
            # earmark to one created a moment ago is accepted as soon as that event has arrived.
            deadline = asyncio.get_running_loop().time() + EARMARK_WAIT_SECONDS
            while True:
                r = await http.post(urls[service] + path, json=body)
                if r.status_code in (200, 201):
                    return r.json()
                pending = r.status_code == 422 and any(
                    e.get("location", "").startswith("body.earmark") for e in r.json().get("errors") or []
                )
                if not (wait_for_earmark and pending and asyncio.get_running_loop().time() < deadline):
                    raise DemoLoadError(f"{service} {path}: {r.status_code} {r.text}")
                await asyncio.sleep(0.2)

        existing = await http.get(urls["pledges"] + "/v1/donors", params={"limit": 1})
        if existing.status_code != 200:
            raise DemoLoadError(f"pledges /v1/donors: {existing.status_code} {existing.text}")
        if existing.json()["items"]:
            return False
        for appeal in data["appeals"]:
            await post("projects", "/v1/appeals", appeal)
        projects = {}
        for p in data["projects"]:
            body = {k: v for k, v in p.items() if k != "key"}
            projects[p["key"]] = (await post("projects", "/v1/projects", body))["id"]
        for partner in data["partners"]:
            await post("notifications", "/v1/partners", partner)
        donors = {}
        for d in data["donors"]:
            donors[d["key"]] = (await post("pledges", "/v1/donors", {k: v for k, v in d.items() if k != "key"}))["id"]
        for a in data["agreements"]:
            earmark = dict(a.get("earmark", {}))
            if "project" in earmark:
                earmark = {"project_id": projects[earmark.pop("project")]}
            body = {k: v for k, v in a.items() if k not in ("donor", "earmark")}
            body = {**body, "donor_id": donors[a["donor"]], "earmark": earmark}
            await post("pledges", "/v1/agreements", body, wait_for_earmark=True)
        echo(
            f"demo data: {len(donors)} donors, {len(data['appeals'])} appeal, {len(projects)} projects, "
            f"{len(data['partners'])} partners, {len(data['agreements'])} agreements"
        )
    return True

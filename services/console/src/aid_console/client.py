"""Calls the services' APIs with the signed-in person's own token (the console never has more rights than they
do). Problems come back as values for the page to show, never as a crash."""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

import httpx

# The address of the person the current page is for: passed on as X-Forwarded-For, so the services count a
# person's failed sign-ins against that person and not against the console everyone shares.
PERSON_ADDRESS: ContextVar[str | None] = ContextVar("person_address", default=None)


class SignInNeeded(Exception):
    """The token is missing, expired or revoked: back to the sign-in page."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def forbidden(self) -> bool:
        return self.status == 403


class Services:
    def __init__(self, http: httpx.AsyncClient, urls: dict[str, str]) -> None:
        self.http, self.urls = http, urls

    async def call(
        self, service: str, method: str, path: str, token: str, params: dict | None = None, json: Any = None
    ) -> Answer:
        params = {k: v for k, v in (params or {}).items() if v not in (None, "")}
        headers = {"Authorization": f"Bearer {token}"}
        if address := PERSON_ADDRESS.get():
            headers["X-Forwarded-For"] = address
        r = await self.http.request(method, self.urls[service] + path, params=params, json=json, headers=headers)
        if r.status_code == 401:
            raise SignInNeeded(r.json().get("detail", "sign in again"))
        try:
            body = r.json()
        except ValueError:
            body = r.text
        return Answer(r.status_code, body)

    async def get(self, service: str, path: str, token: str, **params: Any) -> Answer:
        return await self.call(service, "GET", path, token, params)

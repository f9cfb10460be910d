"""A local webhook receiver for the benchmarks (uvicorn in this process): notes when each webhook first arrives.
`/ok` notes a funding update by its agreement id, `/each` every webhook by its webhook-id; `/hang` holds every call
for 30 s, like a partner system that has stopped answering."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from aid_notifications.subscriptions.secrets import new_encryption_key
from bench.run import until_seen


class Receiver:
    def __init__(self) -> None:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.first: dict[str, float] = {}  # agreement id (or webhook id) → first arrival
        self.arrivals: list[float] = []
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/ok"

    @property
    def each_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/each"

    @property
    def hanging_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hang"

    def allow(self) -> dict[str, str]:
        """Settings the notifications service needs to call this receiver."""
        return {
            "AID_WEBHOOK_ALLOW_PRIVATE": "127.0.0.0/8",
            "AID_WEBHOOK_PORTS": str(self.port),
            "AID_WEBHOOK_SECRETS_KEY": new_encryption_key(),
        }

    def clear(self) -> None:
        self.first.clear()
        self.arrivals.clear()

    async def until(self, count: int, timeout: float) -> None:
        await until_seen(self.first, count, timeout, "receiver")

    async def _ok(self, request: Request) -> Response:
        data = json.loads(await request.body()).get("data") or {}
        return self._note(str(data.get("agreement_id")))

    async def _each(self, request: Request) -> Response:
        return self._note(request.headers.get("webhook-id", ""))

    def _note(self, key: str) -> Response:
        if key not in self.first:
            now = time.perf_counter()
            self.first[key] = now
            self.arrivals.append(now)
        return Response(status_code=204)

    async def _hang(self, request: Request) -> Response:
        await asyncio.sleep(30)
        return Response(status_code=204)

    async def start(self) -> None:
        app = Starlette(
            routes=[
                Route("/ok", self._ok, methods=["POST"]),
                Route("/each", self._each, methods=["POST"]),
                Route("/hang", self._hang, methods=["POST"]),
            ]
        )
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._task = asyncio.create_task(self._server.serve())
        while not self._server.started:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            await self._task

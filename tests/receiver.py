"""A real local webhook receiver (uvicorn on a free port) that records every request and answers as told."""

from __future__ import annotations

import asyncio
import socket
from collections import defaultdict, deque
from dataclasses import dataclass, field

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    # path → answers to give in turn: (status, headers, delay seconds); 200 once they run out
    script: dict[str, deque[tuple[int, dict[str, str], float]]] = field(default_factory=lambda: defaultdict(deque))

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def answer(self, path: str, *answers: int | tuple[int, dict[str, str], float]) -> None:
        for a in answers:
            self.script[path].append(a if isinstance(a, tuple) else (a, {}, 0.0))

    def at(self, path: str) -> list[Received]:
        return [r for r in self.requests if r.path == path]

    async def _handle(self, request: Request) -> Response:
        path = request.url.path
        self.requests.append(Received(path, {k.lower(): v for k, v in request.headers.items()}, await request.body()))
        status, headers, delay = self.script[path].popleft() if self.script[path] else (200, {}, 0.0)
        if delay:
            await asyncio.sleep(delay)
        return Response(status_code=status, headers=headers)

    async def start(self) -> None:
        sock = socket.socket()
        sock.bind((self.host, self.port))
        self.port = sock.getsockname()[1]
        self._sock = sock
        app = Starlette(routes=[Route("/{path:path}", self._handle, methods=["POST", "GET"])])
        self._server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off"))
        self._task = asyncio.create_task(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.01)

    async def stop(self) -> None:
        self._server.should_exit = self._server.force_exit = True  # do not wait for held-open requests
        try:
            await asyncio.wait_for(self._task, 5)
        except TimeoutError:
            self._task.cancel()

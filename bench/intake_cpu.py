"""CPU per `POST /v1/agreements`, in-process: the pledges ASGI app called directly (no HTTP client, no server),
one request at a time, `time.process_time` per request and per step. Steadier than a throughput figure on a
noisy machine, so it is the tool for before/after comparisons of the intake path.

    make infra-up && uv run python -m bench.intake_cpu [requests]
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from typing import Any

from bench.api import agreement_body
from bench.run import Run

STEPS = (  # (module, attribute, label): what is timed inside each request
    ("aid_common.rate_limits:RateLimits", "count_write", "rate-limit counter"),
    ("aid_common.idempotency", "_reserve", "Idempotency-Key reservation"),
    ("aid_common.auth:TokenVerifier", "verify", "token verification"),
    ("aid_pledges.agreements.service", "create", "agreements.service.create"),
    ("aid_pledges.donors.service", "ref_or_422", "  donor read"),
    ("aid_pledges.fx.service", "rate_on", "  FX rate read"),
    ("sqlalchemy.ext.asyncio:AsyncSession", "commit", "commit"),
)


def _time_steps(spent: Counter[str]) -> None:
    import importlib

    for where, name, label in STEPS:
        module, _, cls = where.partition(":")
        owner: Any = importlib.import_module(module)
        owner = getattr(owner, cls) if cls else owner
        setattr(owner, name, _timed(getattr(owner, name), label, spent))


def _timed(original: Any, label: str, spent: Counter[str]) -> Any:
    if not asyncio.iscoroutinefunction(original):

        @functools.wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.process_time()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - start

        return timed

    @functools.wraps(original)
    async def timed_async(*args: Any, **kwargs: Any) -> Any:
        start = time.process_time()
        try:
            return await original(*args, **kwargs)
        finally:
            spent[label] += time.process_time() - start

    return timed_async


async def _call(app: Any, method: str, path: str, body: bytes, headers: list[tuple[bytes, bytes]]) -> dict:
    length = (b"content-length", str(len(body)).encode())
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "app": app,
             "headers": [*headers, (b"content-type", b"application/json"), length],
             "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 80)}  # fmt: skip
    sent, out = False, {}

    async def receive() -> dict:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            out["status"] = message["status"]
        elif message["type"] == "http.response.body":
            out["body"] = out.get("body", b"") + message.get("body", b"")

    await app(scope, receive, send)
    return out


async def measure(requests: int, blocks: int = 5) -> None:
    run = Run()
    env = run.env(await run.database(), run.new_prefix())
    cmd = [sys.executable, "-m", "crisisaid.main", "migrate", "pledges"]
    subprocess.run(cmd, env={**os.environ, **env}, check=True, capture_output=True)
    os.environ.update(env)
    from aid_common.state import runtime_of
    from aid_pledges.app import create_app
    from aid_pledges.settings import PledgesSettings

    app = create_app(PledgesSettings(), role="api")
    runtime_of(app).freeze_heap_at_start = os.environ.get("FREEZE", "1") == "1"  # as `crisisaid serve` does
    auth = [(b"authorization", run.headers["Authorization"].encode())]
    spent: Counter[str] = Counter()
    try:
        async with app.router.lifespan_context(app):
            donor = {"name": "Bench", "kind": "government", "country": "KW"}
            answer = await _call(app, "POST", "/v1/donors", json.dumps(donor).encode(), auth)
            body = agreement_body(json.loads(answer["body"])["id"])

            async def one() -> None:
                own = body.replace("REF", f"R-{uuid.uuid4().hex[:12]}").encode()
                key = [(b"idempotency-key", uuid.uuid4().hex.encode())]
                answer = await _call(app, "POST", "/v1/agreements", own, auth + key)
                if answer["status"] != 201:
                    raise RuntimeError(f"{answer['status']}: {answer.get('body')!r}")

            for _ in range(200):  # warm: prepared statements, caches
                await one()
            _time_steps(spent)
            per_block = []
            for _ in range(blocks):
                start = time.process_time()
                for _ in range(requests // blocks):
                    await one()
                per_block.append((time.process_time() - start) / (requests // blocks) * 1000)
    finally:
        await run.close()
    print(f"CPU per POST /v1/agreements: median {statistics.median(per_block):.2f} ms "
          f"(blocks of {requests // blocks}: {', '.join(f'{x:.2f}' for x in per_block)})")  # fmt: skip
    for label, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {1000 * seconds / requests:6.2f} ms  {label}")


if __name__ == "__main__":
    import uvloop

    uvloop.run(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1500))

"""Prometheus metrics shared by every service; the `service` label tells them apart."""

from __future__ import annotations

import time

from fastapi import FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HTTP_LATENCY = Histogram(
    "aid_http_request_duration_seconds",
    "HTTP request latency",
    ["service", "method", "route", "status"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
EVENTS_PUBLISHED = Counter("aid_events_published_total", "Events published by the outbox relay", ["service", "topic"])
EVENTS_CONSUMED = Counter(
    "aid_events_consumed_total", "Events taken from the bus, by outcome", ["service", "consumer", "type", "outcome"]
)
EVENTS_DEADLETTERED = Counter(
    "aid_events_deadlettered_total", "Messages sent to the dead-letter topic", ["service", "consumer", "reason"]
)
HANDLER_LATENCY = Histogram(
    "aid_event_handler_duration_seconds",
    "Time to handle one event (transaction included)",
    ["service", "type"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
GROUP_COMMIT_BATCH = Histogram(
    "aid_group_commit_batch_size",
    "Units of work committed together in one transaction (aid_common.group_commit)",
    ["service"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
GROUP_COMMIT_REWRITES = Counter(
    "aid_group_commit_rewrites_total",
    "Batches rolled back and written again because a member failed after its rows were written",
    ["service"],
)
OUTBOX_BACKLOG = Gauge("aid_outbox_backlog", "Outbox rows not yet published", ["service"])
OUTBOX_OLDEST_AGE = Gauge("aid_outbox_oldest_pending_seconds", "Age of the oldest unpublished outbox row", ["service"])
CACHE_LOOKUPS = Counter(
    "aid_cache_lookups_total",
    "Reads of an in-process cache (aid_common.notified_cache), by result",
    ["cache", "result"],
)
CACHE_LISTENING = Gauge(
    "aid_cache_listening",
    "1 while an in-process cache hears its change notices; 0: every read goes to the database",
    ["cache"],
)
CONSUMER_LAG = Gauge(
    "aid_consumer_lag", "Messages behind the end of the partition", ["service", "consumer", "topic", "partition"]
)


# Labels come from a closed set, never from what a client sends: an unknown method or path is one series, not one
# per request (a client sending random methods must not grow /metrics without bound).
KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class _HttpMetrics:
    """Request latency by method, route template and status: plain ASGI (no task or stream per request, as
    Starlette's `@app.middleware("http")` would add)."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")  # the router puts the matched route in scope
            method = scope["method"] if scope["method"] in KNOWN_METHODS else "other"
            HTTP_LATENCY.labels(self.service, method, path, str(status)).observe(time.perf_counter() - start)


def install_http_metrics(app: FastAPI, service: str) -> None:
    app.add_middleware(_HttpMetrics, service=service)

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

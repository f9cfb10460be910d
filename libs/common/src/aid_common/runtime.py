"""ServiceRuntime: what every service process needs around its routes and handlers — database, bus,
outbox relay, consumer, auth, errors, metrics, health — wired once here."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal

import structlog
from fastapi import Depends, FastAPI
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from aid_common import proxies, state
from aid_common.auth import TokenVerifier
from aid_common.bus import Bus, BusUnavailable
from aid_common.consumer import EventConsumer
from aid_common.db import create_all, create_engine, ping, session_factory
from aid_common.errors import document_problems, install_problem_handlers, problem_response
from aid_common.events import DEADLETTER_TOPIC, EventRegistry, registry
from aid_common.gate import Gate
from aid_common.group_commit import GroupCommit
from aid_common.kafka import KafkaBus
from aid_common.memory_bus import MemoryBus
from aid_common.metrics import install_http_metrics
from aid_common.middleware import RequestContextMiddleware
from aid_common.outbox import OutboxRelay
from aid_common.rate_limits import RateLimits
from aid_common.request_guards import reject_nul_characters, reject_unknown_query_parameters
from aid_common.settings import Mode, Settings
from aid_common.subscriptions import BatchHook, Subscription, topics_of

log = structlog.get_logger("aid.runtime")

Role = Literal["api", "worker", "all"]
BackgroundTask = Callable[[asyncio.Event], Coroutine[Any, Any, None]]


def bus_from_settings(settings: Settings, *, topics: Sequence[str], client_id: str) -> Bus:
    if settings.uses_kafka:
        return KafkaBus(
            settings.kafka_bootstrap_servers or "",
            topic_prefix=settings.kafka_topic_prefix,
            client_id=client_id,
            create_topics=list(topics) if settings.kafka_create_topics else [],
            partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor,
            security=settings.kafka_security,
        )
    if settings.mode is Mode.EMBEDDED:
        return MemoryBus()
    raise ValueError("KAFKA_BOOTSTRAP_SERVERS is required outside embedded mode (host:port[,host:port])")


class ServiceRuntime:
    def __init__(
        self,
        settings: Settings,
        *,
        service: str,
        metadata: MetaData,
        consumes: Sequence[Subscription] = (),
        topics: Sequence[str] = (),
        role: Role = "all",
        bus: Bus | None = None,
        create_tables: bool | None = None,
        events: EventRegistry = registry,
        token_verifier: TokenVerifier | None = None,
        before_batch: BatchHook | None = None,
    ) -> None:
        self.settings = settings
        self.service = service
        self.metadata = metadata
        self.subscriptions = list(consumes)
        self.consume_topics = topics_of(self.subscriptions)
        self.role = role
        self.events = events
        self.engine: AsyncEngine = create_engine(settings.database_url, pool_size=settings.db_pool_size)
        self.sessions: async_sessionmaker[AsyncSession] = session_factory(self.engine)
        # SQLite has one writer at a time, and a request's own transaction holds it from BEGIN: nothing to gain
        grouped = settings.group_commit and self.engine.dialect.name == "postgresql"
        self.group_commit = (
            GroupCommit(
                # its own connections: requests waiting for their batch hold theirs, and must never take the last
                create_engine(settings.database_url, pool_size=settings.group_commit_connections),
                service=service,
                window=settings.group_commit_window_ms / 1000,
                longest=settings.group_commit_longest_ms / 1000,
                most=settings.group_commit_max,
            )
            if grouped
            else None
        )
        all_topics = sorted({*topics, *self.consume_topics, DEADLETTER_TOPIC})
        self.bus = bus or bus_from_settings(settings, topics=all_topics, client_id=f"crisisaid-{service}")
        self._owns_bus = bus is None
        self.create_tables = settings.mode is Mode.EMBEDDED if create_tables is None else create_tables
        self.freeze_heap_at_start = False  # `crisisaid serve` sets it: see start()
        self.token_verifier = token_verifier or settings.token_verifier()
        self.rate_limits = RateLimits(
            self.engine,
            writes=settings.rate_limit_writes,
            failed_auth=settings.rate_limit_failed_auth,
            group=self.group_commit,
        )
        self.exports = Gate(settings.max_concurrent_exports, what="exports", setting="AID_MAX_CONCURRENT_EXPORTS")
        self.background: list[BackgroundTask] = []
        self.api_background: list[BackgroundTask] = []
        self.startup: list[Callable[[ServiceRuntime], Awaitable[None]]] = []
        self.relay = OutboxRelay(
            service=service,
            sessions=self.sessions,
            bus=self.bus,
            database_url=settings.database_url,
            batch_size=settings.outbox_batch_size,
            poll_seconds=settings.outbox_poll_seconds,
        )
        self.consumer = self._consumer(before_batch) if self.subscriptions else None
        self._stop = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    def _consumer(self, before_batch: BatchHook | None) -> EventConsumer:
        return EventConsumer(
            service=self.service,
            name=self.service,
            bus=self.bus,
            topics=self.consume_topics,
            subscriptions=self.subscriptions,
            sessions=self.sessions,
            registry=self.events,
            max_attempts=self.settings.handler_max_attempts,
            before_batch=before_batch,
        )

    @property
    def runs_workers(self) -> bool:
        return self.role in ("worker", "all")

    @property
    def serves_api(self) -> bool:
        return self.role in ("api", "all")

    def add_background(self, task: BackgroundTask) -> None:
        """A loop to run beside the relay and the consumer in worker processes (e.g. webhook delivery)."""
        self.background.append(task)

    def add_api_background(self, task: BackgroundTask) -> None:
        """A loop to run in processes that serve the API (e.g. a cache's LISTEN connection)."""
        self.api_background.append(task)

    def on_start(self, hook: Callable[[ServiceRuntime], Awaitable[None]]) -> None:
        """Run `hook(runtime)` at start, after the tables exist (e.g. loading reference data)."""
        self.startup.append(hook)

    def app(self, *, title: str, description: str | None) -> FastAPI:
        """The service's FastAPI app on this runtime's lifespan. Its API pages (/docs, /redoc) load Swagger UI and
        ReDoc from the service itself (fastapi-offline ships them), not from a CDN: they work offline."""
        return FastAPIOffline(title=title, version="1", lifespan=self.lifespan, description=description)

    def install(self, app: FastAPI) -> None:
        state.RUNTIME.put(app, self)
        # every route included after this passes these checks first
        app.router.dependencies.extend([Depends(reject_unknown_query_parameters), Depends(reject_nul_characters)])
        state.TOKEN_VERIFIER.put(app, self.token_verifier)
        state.RATE_LIMITS.put(app, self.rate_limits)
        install_problem_handlers(app)
        self._document_problems(app)
        install_http_metrics(app, self.service)
        app.add_middleware(
            RequestContextMiddleware,
            max_body_bytes=self.settings.max_body_bytes,
            max_upload_bytes=self.settings.max_upload_bytes,
        )
        proxies.install(app, self.settings.trusted_proxies)
        self._install_health(app)

    @staticmethod
    def _document_problems(app: FastAPI) -> None:
        default = app.openapi

        def openapi() -> dict:
            if app.openapi_schema is None:
                app.openapi_schema = document_problems(default())
            return app.openapi_schema

        app.openapi = openapi  # type: ignore[method-assign]

    def _install_health(self, app: FastAPI) -> None:
        @app.get("/healthz", tags=["operations"], summary="Liveness: the process answers")
        async def healthz() -> dict[str, str]:
            return {"status": "ok", "service": self.service}

        @app.get("/readyz", tags=["operations"], summary="Readiness: the database and the broker answer")
        async def readyz() -> JSONResponse:
            checks = await self.readiness()
            if all(v == "ok" for v in checks.values()):
                return JSONResponse({"status": "ready", "service": self.service, "checks": checks})
            failing = ", ".join(f"{k}: {v}" for k, v in checks.items() if v != "ok")
            return problem_response(status=503, type_="not-ready", title="Not ready", detail=failing, checks=checks)

    async def readiness(self) -> dict[str, str]:
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(ping(self.engine), 5)
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"unreachable ({type(exc).__name__})"
        try:
            await asyncio.wait_for(self.bus.ping(), 5)
            checks["broker"] = "ok"
        except (BusUnavailable, TimeoutError) as exc:
            checks["broker"] = f"unreachable ({type(exc).__name__})"
        return checks

    async def start(self) -> None:
        if self.create_tables:
            await create_all(self.engine, self.metadata)
        for hook in self.startup:
            await hook(self)
        if self._owns_bus:
            await self.bus.start()
        self._stop.clear()
        loops: list[BackgroundTask] = []
        if self.runs_workers:
            loops += [self.relay.run, *self.background]
            if self.consumer is not None:
                loops.append(self.consumer.run)
        if self.serves_api:
            loops += self.api_background
        self._tasks = [asyncio.create_task(loop(self._stop), name=f"{self.service}:{loop}") for loop in loops]
        if self.freeze_heap_at_start:
            # What is alive now (modules, mappers, schemas, routes: most of the heap, kept for the process's
            # life) leaves the cyclic garbage collector's view, which walked all of it at every full collection:
            # that was 40 % of the CPU of a fan-out to 10 000 subscriptions (0.59 → 0.37 s). Only for a server
            # process: in one that starts and stops services over and over (tests), what is frozen stays.
            gc.collect()
            gc.freeze()
        log.info("service.started", service=self.service, role=self.role)

    async def stop(self) -> None:
        self._stop.set()
        if self._tasks:
            done, pending = await asyncio.wait(self._tasks, timeout=15)
            for t in pending:
                t.cancel()
            for t in done:
                if not t.cancelled() and t.exception() is not None:
                    log.error("service.task_failed", service=self.service, error=repr(t.exception()))
            self._tasks = []
        if self._owns_bus:
            await self.bus.stop()
        await self.engine.dispose()
        if self.group_commit is not None:
            await self.group_commit.engine.dispose()
        log.info("service.stopped", service=self.service)

    @asynccontextmanager
    async def lifespan(self, app: FastAPI) -> AsyncIterator[None]:
        await self.start()
        try:
            yield
        finally:
            await self.stop()

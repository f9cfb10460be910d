"""The delivery loop of worker processes: claim due deliveries, send them concurrently, record the outcomes.
Every state change is `deliveries.service`'s; this module only schedules the work and reports metrics.

Outcomes are recorded in batches by one recorder (one transaction for all that finished meanwhile) rather than a
transaction per webhook: a fan-out of thousands would otherwise spend more on commits and pooled connections than
on sending. An outcome not recorded (the worker dies, the database is away) leaves the delivery leased: it is
sent again after its lease, with the same webhook-id.

Deliveries a fan-out in this process queues while the worker has room are not claimed at all: they are written
leased to it and handed over at commit (`direct.py`), so a webhook's path from its event is one transaction."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from collections.abc import Iterable
from typing import Any

import httpx
import structlog
from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge, Histogram
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_common import commit_signals
from aid_common.db import transaction
from aid_notifications.deliveries import attempts, direct, service
from aid_notifications.deliveries.attempts import Caps, Claimed, fair_share
from aid_notifications.deliveries.sender import Outcome, send
from aid_notifications.settings import NotificationsSettings
from aid_notifications.subscriptions.secrets import SecretBox

log = structlog.get_logger("aid.deliveries")

DELIVERY_OUTCOMES = PromCounter("aid_webhook_attempts_total", "Webhook attempts by outcome", ["outcome"])
ATTEMPT_LATENCY = Histogram(
    "aid_webhook_attempt_duration_seconds",
    "Duration of one webhook attempt",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
QUEUE_DEPTH = Gauge("aid_webhook_queue_depth", "Deliveries waiting (pending or failed)")
OLDEST_PENDING = Gauge("aid_webhook_oldest_pending_seconds", "Age of the oldest waiting delivery")
GAUGES_EVERY_SECONDS = 5.0
CLEANUP_EVERY_SECONDS = 600.0
RECORD_BATCH = 200


class DeliveryWorker:
    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], settings: NotificationsSettings, box: SecretBox
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.box = box
        self.policy = settings.retry_policy
        self.allow = settings.webhook_destinations
        self.lease = dt.timedelta(seconds=settings.delivery_lease_seconds)
        self.in_flight: Counter[uuid.UUID] = Counter()  # open requests and reserved slots, by subscription and partner
        self.tasks: set[asyncio.Task[None]] = set()
        self.reserved = 0  # slots held for deliveries handed in a transaction not yet ended
        self.outcomes: asyncio.Queue[tuple[Claimed, Outcome]] = asyncio.Queue()
        self._wake = asyncio.Event()  # deliveries due now were committed in this process
        self._client: httpx.AsyncClient | None = None  # while it runs: what handed deliveries are sent with
        self._finished = 0  # requests ended since the last claim
        self._need = 0  # how many of them the next claim waits for (`_gather`)
        commit_signals.listen(service.DELIVERIES_SIGNAL, self)

    def wake(self) -> None:
        self._wake.set()

    def free_slots(self) -> int:
        return self.settings.delivery_concurrency - len(self.tasks) - self.reserved

    def reserve(self, offers: Iterable[direct.Offer], *, partners: int) -> list[direct.Offer]:
        """Room for deliveries a fan-out is queueing (`direct.hand_over`): within the free slots and the same caps
        as a claim, each partner's share counted among the partners offered."""
        free = self.free_slots()
        if self._client is None or free <= 0:
            return []
        slots = self.settings.delivery_concurrency
        per_partner = fair_share(self.settings.delivery_per_partner, slots=slots, waiting_partners=partners)
        caps = Caps(self.in_flight, per_subscription=self.settings.delivery_per_subscription, per_partner=per_partner)
        chosen = caps.choose(offers, free)
        self._count(chosen, +1)
        self.reserved += len(chosen)
        return chosen

    def receive(self, items: list[Claimed]) -> None:
        """The fan-out committed: send what it handed (or, stopped meanwhile, leave it to its lease)."""
        self.reserved -= len(items)
        if self._client is None:
            self._count(items, -1)
            return
        for claimed in items:
            self._start(self._client, claimed)

    def release(self, items: list[Any]) -> None:
        """The fan-out rolled back (or could not use a slot): the room goes back."""
        self.reserved -= len(items)
        self._count(items, -1)

    def _count(self, items: list[Any], step: int) -> None:
        for item in items:
            self.in_flight[item.subscription_id] += step
            self.in_flight[item.partner_id] += step

    def _start(self, client: httpx.AsyncClient, claimed: Claimed) -> None:
        task = asyncio.create_task(self._deliver(client, claimed))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def run(self, stop: asyncio.Event) -> None:
        timeout = httpx.Timeout(self.settings.webhook_timeout_seconds)
        limits = httpx.Limits(max_connections=self.settings.delivery_concurrency)
        sent_all = asyncio.Event()
        recorder = asyncio.create_task(self._record_outcomes(sent_all))
        engine = self.sessions.kw["bind"]
        async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False) as client:
            self._client = client
            direct.register(self, engine=engine)
            try:
                await self._turns(client, stop)
            finally:
                direct.unregister(self, engine=engine)
                self._client = None
            if self.tasks:  # let requests in flight finish; what does not is sent again after its lease
                await asyncio.wait(self.tasks, timeout=self.settings.webhook_timeout_seconds + 1)
        sent_all.set()
        await recorder

    async def _turns(self, client: httpx.AsyncClient, stop: asyncio.Event) -> None:
        """Claim what is due while slots are free, and the periodic chores, until the worker stops."""
        last_gauges = last_cleanup = last_digests = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            claimed: list[Claimed] = []
            try:
                free = self.free_slots()
                if self.tasks and (0 < free < self.settings.delivery_concurrency // 4 or self._finished < self._need):
                    await self._gather(stop)
                    free = self.free_slots()
                if free > 0:
                    self._wake.clear()  # what commits from here on wakes the next turn
                    claimed = await self.claim(free)
                if loop.time() - last_gauges > GAUGES_EVERY_SECONDS:
                    await self.report_queue()
                    last_gauges = loop.time()
                if loop.time() - last_digests > self.settings.digest_check_seconds:
                    await self.send_digests()
                    last_digests = loop.time()
                if loop.time() - last_cleanup > CLEANUP_EVERY_SECONDS:
                    await self.forget_old_events()
                    last_cleanup = loop.time()
            except Exception as exc:  # the database is away: keep the loop alive and try again
                log.warning("deliveries.claim_failed", error=str(exc)[:300])
            self._count(claimed, +1)
            for c in claimed:
                self._start(client, c)
            self._finished, self._need = 0, len(self.tasks) // 4
            if not claimed:
                await self._until_a_slot_frees(stop)

    async def _gather(self, stop: asyncio.Event) -> None:
        """A claim per finished request would cost a transaction per webhook — and bound a subscription at its cap
        to one webhook per claim's round trip (~55/s, measured) however fast its endpoint answers. So before the
        next claim, wait until a quarter of the slots are free and a quarter of the requests open at the last
        claim have finished; or less: deliveries due now are committed in this process, the worker stops, or
        the poll interval ends."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.delivery_poll_seconds
        quarter = self.settings.delivery_concurrency // 4
        while self.tasks and not stop.is_set() and not self._wake.is_set() and loop.time() < deadline:
            if self.free_slots() >= quarter and self._finished >= self._need:
                return
            await self._until_a_slot_frees(stop)

    async def _until_a_slot_frees(self, stop: asyncio.Event) -> None:
        """Wait for the poll interval — or less: until a request in flight finishes, deliveries due now are committed
        in this process (a fan-out, a replay: `commit_signals`), or the worker stops. Used
        when few slots are free, and when nothing could be claimed: a subscription at its cap
        (AID_DELIVERY_PER_SUBSCRIPTION) has due deliveries held back until one of its requests ends; sleeping the
        whole interval then capped it at that many webhooks per interval (4 per 0.5 s by default), however fast
        its endpoint answered."""
        stopping, woken = asyncio.ensure_future(stop.wait()), asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait(
                {*self.tasks, stopping, woken},
                timeout=self.settings.delivery_poll_seconds,
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            stopping.cancel()
            woken.cancel()

    async def claim(self, limit: int) -> list[Claimed]:
        async with transaction(self.sessions) as session:
            return await attempts.claim(
                session=session,
                limit=limit,
                in_flight=self.in_flight,
                per_subscription=self.settings.delivery_per_subscription,
                per_partner=self.settings.delivery_per_partner,
                lease=self.lease,
                box=self.box,
                slots=self.settings.delivery_concurrency,
            )

    async def _deliver(self, client: httpx.AsyncClient, claimed: Claimed) -> None:
        try:
            outcome = await send(
                client,
                url=claimed.url,
                webhook_id=claimed.webhook_id,
                body=claimed.body,
                secrets=claimed.secrets,
                allow=self.allow,
                deadline_seconds=self.settings.webhook_timeout_seconds,
            )
            ATTEMPT_LATENCY.observe(outcome.duration_ms / 1000)
            self.outcomes.put_nowait((claimed, outcome))
        finally:
            self._count([claimed], -1)
            self._finished += 1

    async def _record_outcomes(self, sent_all: asyncio.Event) -> None:
        """Record what finished, in batches, until every request is sent and every outcome written."""
        while not (sent_all.is_set() and self.outcomes.empty()):
            try:
                batch = [await asyncio.wait_for(self.outcomes.get(), timeout=0.5)]
            except TimeoutError:
                continue
            while not self.outcomes.empty() and len(batch) < RECORD_BATCH:
                batch.append(self.outcomes.get_nowait())
            await self.record(batch)

    async def record(self, batch: list[tuple[Claimed, Outcome]]) -> None:
        try:
            async with transaction(self.sessions) as session:
                verdicts = await attempts.record_outcomes(session=session, outcomes=batch, policy=self.policy)
        except Exception as exc:  # the database is away: the leases expire and these are sent again
            log.warning("deliveries.record_failed", deliveries=len(batch), error=str(exc)[:300])
            return
        for (claimed, outcome), verdict in zip(batch, verdicts, strict=True):
            if verdict is None:
                continue
            DELIVERY_OUTCOMES.labels(verdict.value).inc()
            log.info(
                "deliveries.attempt",
                delivery_id=str(claimed.delivery_id),
                webhook_id=claimed.webhook_id,
                outcome=verdict.value,
                status_code=outcome.status_code,
                error=outcome.error,
                ms=outcome.duration_ms,
            )

    async def send_digests(self) -> None:
        async with transaction(self.sessions) as session:
            await service.send_digests(session=session)

    async def report_queue(self) -> None:
        async with transaction(self.sessions) as session:
            depth, oldest = await service.queue_figures(session=session)
        QUEUE_DEPTH.set(depth)
        OLDEST_PENDING.set(oldest)

    async def forget_old_events(self) -> None:
        async with transaction(self.sessions) as session:
            await service.forget_old_events(
                session=session, retention=dt.timedelta(days=self.settings.event_retention_days)
            )

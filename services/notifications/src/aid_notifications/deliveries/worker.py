"""The delivery loop of worker processes: claim due deliveries, send them concurrently, record the outcome.

Claims are leases: a claimed row's next_attempt_at moves forward by the lease, in a committed transaction
(FOR UPDATE SKIP LOCKED, so several workers share the queue). A worker that dies mid-request leaves the row to
be claimed again when the lease runs out — at-least-once, with the same webhook-id.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from dataclasses import dataclass

import httpx
import structlog
from prometheus_client import Counter as PromCounter
from prometheus_client import Gauge, Histogram
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from aid_common.aio import sleep_or_stop
from aid_common.db import transaction, utcnow
from aid_notifications.deliveries import service
from aid_notifications.deliveries.models import Delivery, DeliveryAttempt, DeliveryStatus, SeenEvent
from aid_notifications.deliveries.sender import RETRY_AFTER_STATUSES, Outcome, send
from aid_notifications.settings import NotificationsSettings
from aid_notifications.subscriptions import service as subscriptions
from aid_notifications.subscriptions.models import Subscription, SubscriptionStatus
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
WAITING = (DeliveryStatus.PENDING.value, DeliveryStatus.FAILED.value)


@dataclass(frozen=True)
class Claimed:
    delivery_id: uuid.UUID
    webhook_id: str
    subscription_id: uuid.UUID
    url: str
    body: str
    secrets: list[str]


class DeliveryWorker:
    def __init__(
        self, *, sessions: async_sessionmaker[AsyncSession], settings: NotificationsSettings, box: SecretBox
    ) -> None:
        self.sessions = sessions
        self.settings = settings
        self.box = box
        self.delays = settings.retry_delays
        self.allow = settings.allowed_private_networks
        self.in_flight: Counter[uuid.UUID] = Counter()
        self.tasks: set[asyncio.Task[None]] = set()
        self.outcomes: Counter[str] = Counter()

    async def run(self, stop: asyncio.Event) -> None:
        timeout = httpx.Timeout(self.settings.webhook_timeout_seconds)
        limits = httpx.Limits(max_connections=self.settings.delivery_concurrency)
        last_gauges = last_cleanup = 0.0
        loop = asyncio.get_running_loop()
        async with httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, trust_env=False) as client:
            while not stop.is_set():
                claimed: list[Claimed] = []
                try:
                    free = self.settings.delivery_concurrency - len(self.tasks)
                    if free > 0:
                        claimed = await self.claim(free)
                    if loop.time() - last_gauges > 5:
                        await self.report_queue()
                        last_gauges = loop.time()
                    if loop.time() - last_cleanup > 600:
                        await self.forget_old_events()
                        last_cleanup = loop.time()
                except Exception as exc:  # the database is away: keep the loop alive and try again
                    log.warning("deliveries.claim_failed", error=str(exc)[:300])
                for c in claimed:
                    self.in_flight[c.subscription_id] += 1
                    task = asyncio.create_task(self._deliver(client, c))
                    self.tasks.add(task)
                    task.add_done_callback(self.tasks.discard)
                if not claimed:
                    await sleep_or_stop(stop, self.settings.delivery_poll_seconds)
            if self.tasks:  # let requests in flight finish; what does not is sent again after its lease
                await asyncio.wait(self.tasks, timeout=self.settings.webhook_timeout_seconds + 1)

    async def claim(self, limit: int) -> list[Claimed]:
        now = utcnow()
        cap = self.settings.delivery_per_subscription
        out: list[Claimed] = []
        async with transaction(self.sessions) as session:
            rows = (
                await session.execute(
                    select(Delivery)
                    .where(Delivery.status.in_(WAITING), Delivery.next_attempt_at <= now)
                    .order_by(Delivery.next_attempt_at)
                    .limit(limit * 4)
                    .with_for_update(skip_locked=True)
                )
            ).scalars()
            taken: Counter[uuid.UUID] = Counter()
            targets: dict[uuid.UUID, tuple[Subscription | None, list[str]]] = {}  # once per subscription and batch
            for d in rows:
                if len(out) >= limit:
                    break
                if self.in_flight[d.subscription_id] + taken[d.subscription_id] >= cap:
                    continue  # this partner has enough requests open; others go first
                if d.subscription_id not in targets:
                    subscription = await session.get(Subscription, d.subscription_id)
                    active = subscription is not None and subscription.status == SubscriptionStatus.ACTIVE.value
                    secrets = (
                        await subscriptions.signing_secrets(
                            session=session, subscription_id=d.subscription_id, box=self.box
                        )
                        if active
                        else []
                    )
                    targets[d.subscription_id] = (subscription if active else None, secrets)
                subscription, secrets = targets[d.subscription_id]
                if subscription is None:
                    d.status, d.next_attempt_at = DeliveryStatus.DEAD.value, None
                    d.last_error = "the subscription is disabled"
                    continue
                seen = await session.get(SeenEvent, d.event_id)
                d.next_attempt_at = now + dt.timedelta(seconds=self.settings.delivery_lease_seconds)
                taken[d.subscription_id] += 1
                out.append(Claimed(d.id, d.webhook_id, d.subscription_id, subscription.url, seen.body, secrets))
        return out

    async def _deliver(self, client: httpx.AsyncClient, claimed: Claimed) -> None:
        try:
            outcome = await send(
                client,
                url=claimed.url,
                webhook_id=claimed.webhook_id,
                body=claimed.body,
                secrets=claimed.secrets,
                allow=self.allow,
            )
            ATTEMPT_LATENCY.observe(outcome.duration_ms / 1000)
            await self.record(claimed, outcome)
        except Exception as exc:  # recording failed (database away): the lease expires and it is sent again
            log.warning("deliveries.record_failed", delivery_id=str(claimed.delivery_id), error=str(exc)[:300])
        finally:
            self.in_flight[claimed.subscription_id] -= 1

    async def record(self, claimed: Claimed, outcome: Outcome) -> None:
        now = utcnow()
        async with transaction(self.sessions) as session:
            d = await session.get(Delivery, claimed.delivery_id, with_for_update=True)
            if d is None or d.status not in WAITING:
                return
            d.attempts += 1
            number = await service.attempts_made(session=session, delivery_id=d.id) + 1
            session.add(
                DeliveryAttempt(
                    id=uuid.uuid4(),
                    delivery_id=d.id,
                    number=number,
                    status_code=outcome.status_code,
                    error=outcome.error,
                    duration_ms=outcome.duration_ms,
                    created_at=now,
                )
            )
            d.last_attempt_at, d.last_status_code, d.last_error = now, outcome.status_code, outcome.error
            if outcome.delivered:
                result = "delivered"
                d.status, d.delivered_at, d.next_attempt_at = DeliveryStatus.DELIVERED.value, now, None
            elif outcome.status_code == 410:
                result = "gone"
                d.status, d.next_attempt_at = DeliveryStatus.DEAD.value, None
                subscription = await session.get(Subscription, d.subscription_id)
                if subscription is not None:
                    subscription.status = SubscriptionStatus.DISABLED.value
                    subscription.disabled_reason = "the receiver answered 410 Gone"
            elif d.attempts >= len(self.delays):
                result = "dead"
                d.status, d.next_attempt_at = DeliveryStatus.DEAD.value, None
            else:
                result = "failed"
                delay = self.delays[d.attempts]
                if outcome.status_code in RETRY_AFTER_STATUSES and outcome.retry_after_seconds is not None:
                    delay = min(outcome.retry_after_seconds, self.settings.webhook_max_retry_after_seconds)
                d.status, d.next_attempt_at = DeliveryStatus.FAILED.value, now + dt.timedelta(seconds=delay)
        DELIVERY_OUTCOMES.labels(result).inc()
        self.outcomes[result] += 1
        log.info(
            "deliveries.attempt",
            delivery_id=str(claimed.delivery_id),
            webhook_id=claimed.webhook_id,
            outcome=result,
            status_code=outcome.status_code,
            error=outcome.error,
            ms=outcome.duration_ms,
        )

    async def report_queue(self) -> None:
        async with transaction(self.sessions) as session:
            depth, oldest = await service.queue_figures(session)
        QUEUE_DEPTH.set(depth)
        OLDEST_PENDING.set(oldest)

    async def forget_old_events(self) -> None:
        """Events past retention go, with their finished deliveries; anything still waiting stays."""
        cutoff = utcnow() - dt.timedelta(days=self.settings.event_retention_days)
        async with transaction(self.sessions) as session:
            old = select(SeenEvent.event_id).where(SeenEvent.received_at < cutoff)
            waiting = select(Delivery.event_id).where(Delivery.status.in_(WAITING))
            old_deliveries = select(Delivery.id).where(Delivery.event_id.in_(old), Delivery.status.not_in(WAITING))
            await session.execute(delete(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(old_deliveries)))
            await session.execute(delete(Delivery).where(Delivery.event_id.in_(old), Delivery.status.not_in(WAITING)))
            await session.execute(
                delete(SeenEvent).where(SeenEvent.received_at < cutoff, SeenEvent.event_id.not_in(waiting))
            )

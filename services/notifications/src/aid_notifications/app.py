"""The notifications service: partners, their webhook subscriptions, signed deliveries with retries and
replay, and the aid.alerts.v1 topic. Port 8003."""

from __future__ import annotations

from fastapi import FastAPI

from aid_common import state
from aid_common.bus import Bus
from aid_common.gate import Gate
from aid_common.runtime import Role, ServiceRuntime
from aid_contracts import ALERTS_TOPIC, PARTNERS_TOPIC
from aid_notifications import handlers
from aid_notifications.db import Base
from aid_notifications.deliveries import views as deliveries
from aid_notifications.deliveries.worker import DeliveryWorker
from aid_notifications.deps import REPLAYS, SECRET_BOX, SETTINGS
from aid_notifications.partners import views as partners
from aid_notifications.settings import NotificationsSettings
from aid_notifications.subscriptions import views as subscriptions
from aid_notifications.subscriptions.secrets import SecretBox


def create_app(settings: NotificationsSettings | None = None, *, role: Role = "all", bus: Bus | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime(
        settings,
        service="notifications",
        metadata=Base.metadata,
        consumes=handlers.SUBSCRIPTIONS,
        topics=[ALERTS_TOPIC, PARTNERS_TOPIC],
        role=role,
        bus=bus,
    )
    key = settings.webhook_secrets_key
    box = SecretBox(key.get_secret_value() if key else None)
    # The background loops beside the outbox relay and the consumer: webhook delivery.
    runtime.add_background(DeliveryWorker(sessions=runtime.sessions, settings=settings, box=box).run)
    app = runtime.app(title="Notifications", description=__doc__)
    SETTINGS.put(app, settings)
    SECRET_BOX.put(app, box)
    REPLAYS.put(
        app, Gate(settings.max_concurrent_replays, what="replays and recoveries", setting="AID_MAX_CONCURRENT_REPLAYS")
    )
    state.IDEMPOTENCY_SEALER.put(app, box)
    runtime.install(app)
    if runtime.serves_api:
        app.include_router(partners.router)
        app.include_router(subscriptions.router)
        app.include_router(deliveries.router)
        app.include_router(deliveries.subscription_router)
    return app

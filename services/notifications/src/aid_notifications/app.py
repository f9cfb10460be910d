"""The notifications service. Only the shared machinery (health, readiness, metrics, docs) is wired so far."""

from __future__ import annotations

from fastapi import FastAPI

from aid_common.bus import Bus
from aid_common.runtime import Role, ServiceRuntime
from aid_contracts import ALERTS_TOPIC
from aid_notifications import handlers
from aid_notifications.db import Base
from aid_notifications.settings import NotificationsSettings


def create_app(settings: NotificationsSettings | None = None, *, role: Role = "all", bus: Bus | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    runtime = ServiceRuntime(
        settings,
        service="notifications",
        metadata=Base.metadata,
        consumes=handlers.SUBSCRIPTIONS,
        consume_topics=handlers.TOPICS,
        topics=[ALERTS_TOPIC],
        role=role,
        bus=bus,
    )
    app = FastAPI(title="Notifications", version="1", lifespan=runtime.lifespan, description=__doc__)
    runtime.install(app)
    return app

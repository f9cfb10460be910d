"""The projects service. Only the shared machinery (health, readiness, metrics, docs) is wired so far."""

from __future__ import annotations

from fastapi import FastAPI

from aid_common.bus import Bus
from aid_common.runtime import Role, ServiceRuntime
from aid_contracts import PROJECTS_TOPIC
from aid_projects import handlers
from aid_projects.db import Base
from aid_projects.settings import ProjectsSettings


def create_app(settings: ProjectsSettings | None = None, *, role: Role = "all", bus: Bus | None = None) -> FastAPI:
    settings = settings or ProjectsSettings()
    runtime = ServiceRuntime(
        settings,
        service="projects",
        metadata=Base.metadata,
        consumes=handlers.SUBSCRIPTIONS,
        consume_topics=handlers.TOPICS,
        topics=[PROJECTS_TOPIC],
        role=role,
        bus=bus,
    )
    app = FastAPI(title="Projects", version="1", lifespan=runtime.lifespan, description=__doc__)
    runtime.install(app)
    return app

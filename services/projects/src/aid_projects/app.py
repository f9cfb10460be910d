"""The projects service: appeals and pillars, field projects, and the funding ledger fed by donor agreements.
Port 8002."""

from __future__ import annotations

from fastapi import FastAPI

from aid_common.bus import Bus
from aid_common.runtime import Role, ServiceRuntime
from aid_contracts import PROJECTS_TOPIC
from aid_projects import handlers
from aid_projects.appeals import views as appeals
from aid_projects.db import Base
from aid_projects.deps import SETTINGS
from aid_projects.exports import views as exports
from aid_projects.funding import views as funding
from aid_projects.projects import views as projects
from aid_projects.settings import ProjectsSettings


def create_app(settings: ProjectsSettings | None = None, *, role: Role = "all", bus: Bus | None = None) -> FastAPI:
    settings = settings or ProjectsSettings()
    runtime = ServiceRuntime(
        settings,
        service="projects",
        metadata=Base.metadata,
        consumes=handlers.SUBSCRIPTIONS,
        before_batch=handlers.lock_batch,
        topics=[PROJECTS_TOPIC],
        role=role,
        bus=bus,
    )
    app = runtime.app(title="Projects", description=__doc__)
    runtime.install(app)
    SETTINGS.put(app, settings)
    if runtime.serves_api:
        app.include_router(appeals.router)
        app.include_router(projects.router)
        app.include_router(funding.router)
        app.include_router(funding.reports_router)
        app.include_router(exports.router)
    return app

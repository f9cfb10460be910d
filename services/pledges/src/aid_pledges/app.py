"""The pledges service: organisations (donors among them), FX rates, donor agreements and disbursements. Port 8001."""

from __future__ import annotations

from fastapi import FastAPI

from aid_common.bus import Bus
from aid_common.notified_cache import NotifiedCache
from aid_common.runtime import Role, ServiceRuntime
from aid_contracts import PLEDGES_TOPIC
from aid_pledges import handlers
from aid_pledges.agreements import views as agreements
from aid_pledges.db import Base
from aid_pledges.deps import REFERENCE_CACHE
from aid_pledges.donors import views as donors
from aid_pledges.fx import views as fx
from aid_pledges.imports import views as imports
from aid_pledges.organisations import views as organisations
from aid_pledges.reference_cache import CHANNEL
from aid_pledges.seed import seed_reference_data
from aid_pledges.settings import PledgesSettings


def create_app(settings: PledgesSettings | None = None, *, role: Role = "all", bus: Bus | None = None) -> FastAPI:
    settings = settings or PledgesSettings()
    runtime = ServiceRuntime(
        settings,
        service="pledges",
        metadata=Base.metadata,
        consumes=handlers.SUBSCRIPTIONS,
        topics=[PLEDGES_TOPIC],
        role=role,
        bus=bus,
    )
    if settings.seed_fx_rates and runtime.serves_api:
        runtime.on_start(seed_reference_data)
    app = runtime.app(title="Pledges", description=__doc__)
    runtime.install(app)
    if runtime.serves_api:
        # the donor and FX rate of every new agreement, read from memory (see aid_pledges.reference_cache)
        if settings.reference_cache:
            cache = NotifiedCache(CHANNEL, database_url=settings.database_url)
            REFERENCE_CACHE.put(app, cache)
            runtime.add_api_background(cache.run)
        app.include_router(organisations.router)
        app.include_router(donors.router)
        app.include_router(fx.router)
        app.include_router(agreements.router)
        app.include_router(agreements.exports_router)
        app.include_router(imports.router)
    return app

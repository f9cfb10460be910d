"""No route runs a dependency (or itself) in the thread pool: a plain `def` dependency costs every request a hop to
a worker thread and back (measured ~0.5 ms on POST /v1/agreements), and under load it queues behind the pool's 40
threads. Every dependency of the three services is `async def`."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from aid_notifications.app import create_app as notifications_app
from aid_notifications.settings import NotificationsSettings
from aid_pledges.app import create_app as pledges_app
from aid_pledges.settings import PledgesSettings
from aid_projects.app import create_app as projects_app
from aid_projects.settings import ProjectsSettings


def _on_the_loop(call: Any) -> bool:
    if inspect.iscoroutinefunction(call) or inspect.isasyncgenfunction(call):
        return True
    dunder = getattr(call, "__call__", None)  # noqa: B004 - an instance used as a dependency (HTTPBearer)
    return not inspect.isfunction(call) and (inspect.iscoroutinefunction(dunder) or inspect.isasyncgenfunction(dunder))


def _in_thread_pool(dependant: Dependant, where: str) -> list[str]:
    found = []
    for sub in dependant.dependencies:
        if sub.call is not None and not _on_the_loop(sub.call):
            found.append(f"{where}: {getattr(sub.call, '__qualname__', sub.call)}")
        found += _in_thread_pool(sub, where)
    return found


def _routes(routes: list[Any]) -> list[APIRoute]:
    """Every APIRoute, also inside included routers (kept apart from the app's own routes by FastAPI)."""
    found = []
    for r in routes:
        if isinstance(r, APIRoute):
            found.append(r)
        elif hasattr(r, "original_router"):
            found += _routes(r.original_router.routes)
    return found


@pytest.mark.parametrize(
    ("create", "settings"),
    [(pledges_app, PledgesSettings), (projects_app, ProjectsSettings), (notifications_app, NotificationsSettings)],
)
def test_no_route_runs_anything_in_the_thread_pool(create, settings, tmp_path) -> None:
    app = create(settings(DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path}/db.sqlite", AID_MODE="embedded"))
    found = []
    routes = _routes(app.router.routes)
    assert len(routes) > 10
    for route in routes:
        found += _in_thread_pool(route.dependant, f"{sorted(route.methods)} {route.path}")
        if not _on_the_loop(route.endpoint):
            found.append(f"{route.path}: the route itself")
    assert found == []

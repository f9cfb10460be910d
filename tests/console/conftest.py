"""The console over the three services running in-process (SQLite, one in-process bus): each call the console
makes goes to the service app its URL names."""

from __future__ import annotations

import httpx
import pytest

from aid_common.memory_bus import MemoryBus
from aid_console.app import create_app as console_app
from aid_console.settings import ConsoleSettings
from aid_notifications.app import create_app as notifications_app
from aid_notifications.settings import NotificationsSettings
from aid_pledges.app import create_app as pledges_app
from aid_pledges.settings import PledgesSettings
from aid_projects.app import create_app as projects_app
from aid_projects.settings import ProjectsSettings


class ByHost(httpx.AsyncBaseTransport):
    def __init__(self, apps: dict[str, object]) -> None:
        self.transports = {host: httpx.ASGITransport(app=app) for host, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self.transports[request.url.host].handle_async_request(request)


class Platform:
    def __init__(self, pledges, projects, notifications, console, client) -> None:
        self.pledges, self.projects, self.notifications = pledges, projects, notifications
        self.console, self.client = console, client


@pytest.fixture
async def platform(start_service, tmp_path, key_files):
    bus = MemoryBus()
    services = {}
    for name, create, settings in (
        ("pledges", pledges_app, PledgesSettings),
        ("projects", projects_app, ProjectsSettings),
        ("notifications", notifications_app, NotificationsSettings),
    ):
        url = f"sqlite+aiosqlite:///{tmp_path / name}.db"
        services[name] = await start_service(
            create, settings, url, bus=bus, role="all", AID_WEBHOOK_ALLOW_PRIVATE="127.0.0.0/8"
        )
    console = console_app(
        ConsoleSettings(
            AID_PLEDGES_URL="http://pledges",
            AID_PROJECTS_URL="http://projects",
            AID_NOTIFICATIONS_URL="http://notifications",
            AID_CONSOLE_COOKIE_SECURE=False,
            AID_JWT_PUBLIC_KEY_FILE=str(key_files[1]),  # it verifies tokens itself: the menu, the live feed
        ),
        transport=ByHost({name: svc.app for name, svc in services.items()}),
    )
    transport = httpx.ASGITransport(app=console)
    browser = {"origin": "http://console"}  # a browser says where a form comes from; the console needs it
    async with (
        console.router.lifespan_context(console),
        httpx.AsyncClient(transport=transport, base_url="http://console", headers=browser) as client,
    ):
        yield Platform(services["pledges"], services["projects"], services["notifications"], console, client)

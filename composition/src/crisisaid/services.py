"""The services the CLI knows: where their app, settings and migrations live, and their default ports."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class ServiceName(StrEnum):
    PLEDGES = "pledges"
    PROJECTS = "projects"
    NOTIFICATIONS = "notifications"


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    package: str
    settings_class: str
    port: int

    def create_app(self) -> Any:
        return importlib.import_module(f"{self.package}.app").create_app

    def settings(self, **values: Any) -> Any:
        module = importlib.import_module(f"{self.package}.settings")
        return getattr(module, self.settings_class)(**values)


SERVICES = {
    ServiceName.PLEDGES: ServiceSpec("pledges", "aid_pledges", "PledgesSettings", 8001),
    ServiceName.PROJECTS: ServiceSpec("projects", "aid_projects", "ProjectsSettings", 8002),
    ServiceName.NOTIFICATIONS: ServiceSpec("notifications", "aid_notifications", "NotificationsSettings", 8003),
}

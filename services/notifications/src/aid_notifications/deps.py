"""What the notifications routes need — the caller's scope, the secret box, the allowed networks — as Annotated
dependencies (one style for every route)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aid_common.auth import Caller, require_scope
from aid_notifications.settings import NotificationsSettings
from aid_notifications.subscriptions.secrets import SecretBox
from aid_notifications.subscriptions.ssrf import Destinations


def _box(request: Request) -> SecretBox:
    return request.app.state.secret_box


def _destinations(request: Request) -> Destinations:
    return request.app.state.settings.webhook_destinations


Box = Annotated[SecretBox, Depends(_box)]
AllowedDestinations = Annotated[Destinations, Depends(_destinations)]

Reader = Annotated[Caller, require_scope("notifications:read")]
Writer = Annotated[Caller, require_scope("notifications:write")]
Admin = Annotated[Caller, require_scope("admin")]


def _settings(request: Request) -> NotificationsSettings:
    return request.app.state.settings


ServiceSettings = Annotated[NotificationsSettings, Depends(_settings)]

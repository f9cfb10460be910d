"""What the routes need from the service's settings, as Annotated dependencies."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from aid_notifications.subscriptions.secrets import SecretBox
from aid_notifications.subscriptions.ssrf import IPNetwork


def _box(request: Request) -> SecretBox:
    return request.app.state.secret_box


def _allow(request: Request) -> list[IPNetwork]:
    return request.app.state.settings.allowed_private_networks


Box = Annotated[SecretBox, Depends(_box)]
AllowedNetworks = Annotated[list[IPNetwork], Depends(_allow)]

"""Settings of the notifications service (environment variables, read once)."""

from __future__ import annotations

from pydantic import Field

from aid_common.settings import Settings


class NotificationsSettings(Settings):
    port: int = Field(default=8003, alias="PORT")

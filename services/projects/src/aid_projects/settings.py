"""Settings of the projects service (environment variables, read once)."""

from __future__ import annotations

from pydantic import Field

from aid_common.settings import Settings


class ProjectsSettings(Settings):
    port: int = Field(default=8002, alias="PORT")

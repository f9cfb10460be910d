"""Settings of the console (environment variables, read once)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ConsoleSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    port: int = Field(default=8000, alias="PORT")
    pledges_url: str = Field(default="http://127.0.0.1:8001", alias="AID_PLEDGES_URL")
    projects_url: str = Field(default="http://127.0.0.1:8002", alias="AID_PROJECTS_URL")
    notifications_url: str = Field(default="http://127.0.0.1:8003", alias="AID_NOTIFICATIONS_URL")
    # The live feed reads the bus itself (its own consumer group); the tokens it filters by are verified here.
    kafka_bootstrap_servers: str | None = Field(default=None, alias="KAFKA_BOOTSTRAP_SERVERS")
    kafka_topic_prefix: str = Field(default="", alias="AID_KAFKA_TOPIC_PREFIX")
    jwt_public_key_file: Path | None = Field(default=None, alias="AID_JWT_PUBLIC_KEY_FILE")
    # The session cookie is sent over HTTPS only; embedded mode (http://127.0.0.1) turns this off.
    cookie_secure: bool = Field(default=True, alias="AID_CONSOLE_COOKIE_SECURE")

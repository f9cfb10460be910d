"""Settings of the console (environment variables, read once)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from aid_common.settings import EdgeSettings, KafkaClientSettings, TokenSettings


class ConsoleSettings(KafkaClientSettings, TokenSettings, EdgeSettings):
    """The live feed reads the bus itself, as its own principal (KAFKA_* as in every service), and verifies the
    tokens it filters by with the services' own rules (AID_JWT_*, AID_TOKEN_MAX_HOURS, AID_REVOKED_TOKENS_FILE).
    Behind an ingress, AID_TRUSTED_PROXIES names it; the console passes each person's own address on to the
    services, whose AID_TRUSTED_PROXIES then name the console."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    port: int = Field(default=8000, alias="PORT")
    pledges_url: str = Field(default="http://127.0.0.1:8001", alias="AID_PLEDGES_URL")
    projects_url: str = Field(default="http://127.0.0.1:8002", alias="AID_PROJECTS_URL")
    notifications_url: str = Field(default="http://127.0.0.1:8003", alias="AID_NOTIFICATIONS_URL")
    # The session cookie is sent over HTTPS only, and browsers are told to keep to HTTPS (HSTS); embedded mode
    # (http://127.0.0.1) turns this off.
    cookie_secure: bool = Field(default=True, alias="AID_CONSOLE_COOKIE_SECURE")
    # Where people open the console (https://console.example.org), if a proxy in front changes the Host header:
    # a form posted from any other origin is refused. Unset: the origin the request was addressed to.
    public_origin: str | None = Field(default=None, alias="AID_CONSOLE_ORIGIN", pattern=r"^https?://[^/]+$")
    # Live feed streams held open at once: by one token, and in all.
    feed_streams_per_token: int = Field(default=4, alias="AID_CONSOLE_FEED_STREAMS_PER_TOKEN", ge=1)
    feed_streams: int = Field(default=500, alias="AID_CONSOLE_FEED_STREAMS", ge=1)
    # A comment line on an idle stream this often keeps proxies from closing it, and re-checks its token.
    feed_heartbeat_seconds: float = Field(default=15.0, alias="AID_CONSOLE_FEED_HEARTBEAT_SECONDS", gt=0, le=60)

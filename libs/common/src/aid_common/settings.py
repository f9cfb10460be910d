"""Settings every service reads from the environment (pydantic-settings), once, at the edge."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Mode(StrEnum):
    EMBEDDED = "embedded"  # the three services in one process, SQLite, in-process bus (make run)
    PRODUCTION = "production"  # one service per process, PostgreSQL, Kafka


class Settings(BaseSettings):
    """Names follow ../shared/API.md; services subclass this to add their own."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    mode: Mode = Field(default=Mode.PRODUCTION, alias="AID_MODE")
    database_url: str = Field(default="", alias="DATABASE_URL")
    kafka_bootstrap_servers: str | None = Field(default=None, alias="KAFKA_BOOTSTRAP_SERVERS")
    # Prepended to every topic and consumer group name: isolates tests and tenants sharing one cluster.
    kafka_topic_prefix: str = Field(default="", alias="AID_KAFKA_TOPIC_PREFIX")
    kafka_create_topics: bool = Field(default=True, alias="AID_KAFKA_CREATE_TOPICS")
    kafka_topic_partitions: int = Field(default=3, alias="AID_KAFKA_TOPIC_PARTITIONS", ge=1)
    kafka_replication_factor: int = Field(default=1, alias="AID_KAFKA_REPLICATION_FACTOR", ge=1)
    port: int = Field(default=8000, alias="PORT")
    jwt_public_key_file: Path | None = Field(default=None, alias="AID_JWT_PUBLIC_KEY_FILE")
    jwt_private_key_file: Path | None = Field(default=None, alias="AID_JWT_PRIVATE_KEY_FILE")
    jwt_issuer: str = Field(default="crisisaid", alias="AID_JWT_ISSUER")
    jwt_audience: str = Field(default="crisisaid", alias="AID_JWT_AUDIENCE")
    # The longest a bearer token may live (exp − iat), in hours: any token, and a partner's (partner_id) token.
    token_max_hours: int = Field(default=720, alias="AID_TOKEN_MAX_HOURS", ge=1)
    partner_token_max_hours: int = Field(default=24, alias="AID_PARTNER_TOKEN_MAX_HOURS", ge=1)
    # Revoked token ids (jti), one per line; `crisisaid token revoke JTI` appends to it.
    revoked_tokens_file: Path | None = Field(default=None, alias="AID_REVOKED_TOKENS_FILE")
    # Abuse limits (`limits` notation, e.g. "120/minute"): writes per token subject (and partner), failed
    # authentications per client address. Shared by every replica through PostgreSQL.
    rate_limit_writes: str = Field(
        default="120/minute", alias="AID_RATE_LIMIT_WRITES", pattern=r"^\d+\s*(/|per)\s*\d*\s*\w+$"
    )
    rate_limit_failed_auth: str = Field(
        default="30/minute", alias="AID_RATE_LIMIT_FAILED_AUTH", pattern=r"^\d+\s*(/|per)\s*\d*\s*\w+$"
    )
    log_level: str = Field(default="INFO", alias="LOG_LEVEL")
    max_body_bytes: int = Field(default=1_000_000, alias="AID_MAX_BODY_BYTES", ge=1024)
    # A message whose handler fails this many times in a row goes to the dead-letter topic.
    handler_max_attempts: int = Field(default=5, alias="AID_HANDLER_MAX_ATTEMPTS", ge=1)
    outbox_batch_size: int = Field(default=200, alias="AID_OUTBOX_BATCH_SIZE", ge=1)
    outbox_poll_seconds: float = Field(default=1.0, alias="AID_OUTBOX_POLL_SECONDS", gt=0)

    @model_validator(mode="after")
    def _refuse_unsafe_production(self) -> Settings:
        if self.mode is Mode.PRODUCTION:
            if not self.database_url:
                raise ValueError("DATABASE_URL is required (postgresql+asyncpg://user:pass@host:5432/db)")
            if self.jwt_public_key_file is None:
                raise ValueError(
                    "AID_JWT_PUBLIC_KEY_FILE is required outside embedded mode (create one: crisisaid keygen DIR)"
                )
        return self

    @property
    def uses_kafka(self) -> bool:
        return bool(self.kafka_bootstrap_servers)

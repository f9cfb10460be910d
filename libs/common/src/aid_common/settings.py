"""Settings every service reads from the environment (pydantic-settings), once, at the edge."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from aid_common.auth import RevocationList, TokenVerifier
from aid_common.kafka import KafkaSecurity


class Mode(StrEnum):
    EMBEDDED = "embedded"  # the three services in one process, SQLite, in-process bus (make run)
    PRODUCTION = "production"  # one service per process, PostgreSQL, Kafka


class KafkaClientSettings(BaseSettings):
    """How a process reaches the brokers, and as whom (docs/security.md): every service, and the console's feed."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    kafka_bootstrap_servers: str | None = Field(default=None, alias="KAFKA_BOOTSTRAP_SERVERS")
    # Prepended to every topic and consumer group name: isolates tests and tenants sharing one cluster.
    kafka_topic_prefix: str = Field(default="", alias="AID_KAFKA_TOPIC_PREFIX")
    # Transport security towards Kafka (see docs/security.md): PLAINTEXT, SSL or SASL_SSL (SCRAM-SHA-512).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_SSL"] = Field(
        default="PLAINTEXT", alias="KAFKA_SECURITY_PROTOCOL"
    )
    kafka_sasl_mechanism: Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"] = Field(
        default="SCRAM-SHA-512", alias="KAFKA_SASL_MECHANISM"
    )
    kafka_sasl_username: str | None = Field(default=None, alias="KAFKA_SASL_USERNAME")
    kafka_sasl_password: SecretStr | None = Field(default=None, alias="KAFKA_SASL_PASSWORD")
    kafka_sasl_password_file: Path | None = Field(default=None, alias="KAFKA_SASL_PASSWORD_FILE")
    kafka_ssl_cafile: Path | None = Field(default=None, alias="KAFKA_SSL_CAFILE")
    kafka_ssl_certfile: Path | None = Field(default=None, alias="KAFKA_SSL_CERTFILE")
    kafka_ssl_keyfile: Path | None = Field(default=None, alias="KAFKA_SSL_KEYFILE")

    @model_validator(mode="after")
    def _kafka_credentials(self) -> KafkaClientSettings:
        if self.kafka_sasl_password is None and self.kafka_sasl_password_file is not None:
            try:
                self.kafka_sasl_password = SecretStr(self.kafka_sasl_password_file.read_text().strip())
            except OSError as exc:
                raise ValueError(f"KAFKA_SASL_PASSWORD_FILE {self.kafka_sasl_password_file}: {exc.strerror}") from exc
        if self.kafka_security_protocol == "SASL_SSL" and not (self.kafka_sasl_username and self.kafka_sasl_password):
            raise ValueError(
                "KAFKA_SECURITY_PROTOCOL=SASL_SSL needs KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD[_FILE]"
            )
        return self

    @property
    def kafka_security(self) -> KafkaSecurity:
        def path(p: Path | None) -> str | None:
            return str(p) if p else None

        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None,
            cafile=path(self.kafka_ssl_cafile),
            certfile=path(self.kafka_ssl_certfile),
            keyfile=path(self.kafka_ssl_keyfile),
        )


class TokenSettings(BaseSettings):
    """How bearer tokens are verified: the same rules in every service and in the console's live feed."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    jwt_public_key_file: Path | None = Field(default=None, alias="AID_JWT_PUBLIC_KEY_FILE")
    jwt_private_key_file: Path | None = Field(default=None, alias="AID_JWT_PRIVATE_KEY_FILE")
    jwt_issuer: str = Field(default="crisisaid", alias="AID_JWT_ISSUER")
    jwt_audience: str = Field(default="crisisaid", alias="AID_JWT_AUDIENCE")
    # The longest a bearer token may live (exp − iat), in hours: any token, and a partner's (partner_id) token.
    token_max_hours: int = Field(default=720, alias="AID_TOKEN_MAX_HOURS", ge=1)
    partner_token_max_hours: int = Field(default=24, alias="AID_PARTNER_TOKEN_MAX_HOURS", ge=1)
    # Revoked token ids (jti), one per line; `crisisaid token revoke JTI` appends to it.
    revoked_tokens_file: Path | None = Field(default=None, alias="AID_REVOKED_TOKENS_FILE")

    def token_verifier(self) -> TokenVerifier | None:
        """The verifier of the configured public key (None without one: nothing is then accepted)."""
        if not self.jwt_public_key_file:
            return None
        return TokenVerifier.from_file(
            self.jwt_public_key_file,
            issuer=self.jwt_issuer,
            audience=self.jwt_audience,
            max_lifetime=dt.timedelta(hours=self.token_max_hours),
            partner_max_lifetime=dt.timedelta(hours=self.partner_token_max_hours),
            revoked=RevocationList(self.revoked_tokens_file),
        )


class EdgeSettings(BaseSettings):
    """What a process in front of this one may tell it (see aid_common.proxies)."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    # Load balancers and ingresses whose X-Forwarded-For names the real client (addresses or networks,
    # comma-separated): failed authentications are counted per real client, not per proxy. Empty: trust none.
    trusted_proxies: str = Field(default="", alias="AID_TRUSTED_PROXIES", pattern=r"^[0-9A-Fa-f:./, ]*$")


class Settings(KafkaClientSettings, TokenSettings, EdgeSettings):
    """Names follow ../shared/API.md; services subclass this to add their own."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    mode: Mode = Field(default=Mode.PRODUCTION, alias="AID_MODE")
    database_url: str = Field(default="", alias="DATABASE_URL")
    # Connections kept open per process: at least the requests it serves at once, or connections are opened and
    # closed all the time (each a TLS handshake and a SCRAM exchange). Up to half as many again open under peaks.
    db_pool_size: int = Field(default=20, alias="AID_DB_POOL_SIZE", ge=1, le=200)
    # Group commit (`aid_common.group_commit`): concurrent write requests are committed in one transaction. A batch
    # takes requests while they keep coming, each within the window of the one before, for at most the longest
    # wait, or until the max are waiting: a request alone waits one window; under load batches grow. Off (and on
    # SQLite, one writer at a time): each request commits alone.
    group_commit: bool = Field(default=True, alias="AID_GROUP_COMMIT")
    group_commit_window_ms: float = Field(default=1.0, alias="AID_GROUP_COMMIT_WINDOW_MS", gt=0, le=50)
    group_commit_longest_ms: float = Field(default=5.0, alias="AID_GROUP_COMMIT_LONGEST_MS", gt=0, le=100)
    group_commit_max: int = Field(default=64, alias="AID_GROUP_COMMIT_MAX", ge=1, le=1000)
    # Connections of its own (a batch holds one from its first write to its commit), beside AID_DB_POOL_SIZE.
    group_commit_connections: int = Field(default=4, alias="AID_GROUP_COMMIT_CONNECTIONS", ge=1, le=50)
    kafka_create_topics: bool = Field(default=True, alias="AID_KAFKA_CREATE_TOPICS")
    kafka_topic_partitions: int = Field(default=6, alias="AID_KAFKA_TOPIC_PARTITIONS", ge=1)
    kafka_replication_factor: int = Field(default=1, alias="AID_KAFKA_REPLICATION_FACTOR", ge=1)
    port: int = Field(default=8000, alias="PORT")
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
    # files uploaded as multipart/form-data (POST /v1/imports/fts): a year of a country's FTS flows
    max_upload_bytes: int = Field(default=200_000_000, alias="AID_MAX_UPLOAD_BYTES", ge=1024)
    # Streamed exports (CSV, IATI) running at once in a process; more get 429 with Retry-After.
    max_concurrent_exports: int = Field(default=4, alias="AID_MAX_CONCURRENT_EXPORTS", ge=1)
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

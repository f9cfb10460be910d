"""Settings of the notifications service (environment variables, read once)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from cryptography.fernet import Fernet
from pydantic import Field, SecretStr, field_validator, model_validator

from aid_common.settings import Mode, Settings
from aid_notifications.deliveries.policy import DEFAULT_SCHEDULE, RetryPolicy, parse_schedule
from aid_notifications.subscriptions.secrets import keys_of
from aid_notifications.subscriptions.ssrf import Destinations


def _items(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class NotificationsSettings(Settings):
    port: int = Field(default=8003, alias="PORT")
    # CIDRs webhooks may reach although they are not public addresses (e.g. 10.0.0.0/8 for an in-cluster receiver).
    webhook_allow_private: str = Field(default="", alias="AID_WEBHOOK_ALLOW_PRIVATE")
    # Replays and recoveries (each reads up to 7 days of events) running at once in a process; more get 429.
    max_concurrent_replays: int = Field(default=2, alias="AID_MAX_CONCURRENT_REPLAYS", ge=1)
    # Ports webhooks may use on public addresses (the NetworkPolicy opens the same ones); allowlisted ranges: any.
    webhook_ports: str = Field(default="80,443", alias="AID_WEBHOOK_PORTS", pattern=r"^\s*\d{1,5}(\s*,\s*\d{1,5})*\s*$")
    webhook_retry_schedule: str = Field(default=DEFAULT_SCHEDULE, alias="AID_WEBHOOK_RETRY_SCHEDULE")
    webhook_timeout_seconds: float = Field(default=10.0, alias="AID_WEBHOOK_TIMEOUT_SECONDS", gt=0)
    webhook_max_retry_after_seconds: float = Field(default=36000.0, alias="AID_WEBHOOK_MAX_RETRY_AFTER_SECONDS", ge=0)
    delivery_concurrency: int = Field(default=32, alias="AID_DELIVERY_CONCURRENCY", ge=1)
    # Requests in flight to one subscription at most, so one slow partner cannot take every slot.
    delivery_per_subscription: int = Field(default=4, alias="AID_DELIVERY_PER_SUBSCRIPTION", ge=1)
    # Requests in flight to one partner at most (over all its subscriptions): a partner whose endpoints hang holds
    # at most this share of AID_DELIVERY_CONCURRENCY.
    delivery_per_partner: int = Field(default=8, alias="AID_DELIVERY_PER_PARTNER", ge=1)
    # Subscriptions one partner may have (active or disabled, not deleted); more is 429.
    max_subscriptions_per_partner: int = Field(default=25, alias="AID_MAX_SUBSCRIPTIONS_PER_PARTNER", ge=1)
    delivery_poll_seconds: float = Field(default=0.5, alias="AID_DELIVERY_POLL_SECONDS", gt=0)
    # A worker that dies mid-delivery leaves a claim; after this long another worker sends it again (same id).
    delivery_lease_seconds: float = Field(default=60.0, alias="AID_DELIVERY_LEASE_SECONDS", gt=0)
    # How often the worker looks for digests whose period has ended.
    digest_check_seconds: float = Field(default=30.0, alias="AID_DIGEST_CHECK_SECONDS", gt=0)
    event_retention_days: int = Field(default=30, alias="AID_EVENT_RETENTION_DAYS", ge=7)
    # Encrypts the webhook signing secrets at rest (a Fernet key: crisisaid keygen writes one).
    webhook_secrets_key: SecretStr | None = Field(default=None, alias="AID_WEBHOOK_SECRETS_KEY")
    # …or a file holding it (a mounted Kubernetes Secret, `crisisaid keygen` output).
    webhook_secrets_key_file: Path | None = Field(default=None, alias="AID_WEBHOOK_SECRETS_KEY_FILE")

    @field_validator("webhook_retry_schedule")
    @classmethod
    def _schedule(cls, value: str) -> str:
        if not parse_schedule(value):
            raise ValueError("the retry schedule needs at least one attempt")
        return value

    @field_validator("webhook_allow_private")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        for cidr in filter(None, (c.strip() for c in value.split(","))):
            ipaddress.ip_network(cidr, strict=False)
        return value

    @model_validator(mode="after")
    def _secrets_key_outside_development(self) -> NotificationsSettings:
        if self.webhook_secrets_key is None and self.webhook_secrets_key_file is not None:
            try:
                self.webhook_secrets_key = SecretStr(self.webhook_secrets_key_file.read_text().strip())
            except OSError as exc:
                raise ValueError(
                    f"AID_WEBHOOK_SECRETS_KEY_FILE {self.webhook_secrets_key_file}: {exc.strerror}"
                ) from exc
        if self.mode is Mode.PRODUCTION and self.webhook_secrets_key is None:
            raise ValueError(
                "AID_WEBHOOK_SECRETS_KEY or AID_WEBHOOK_SECRETS_KEY_FILE is required outside embedded mode "
                "(a Fernet key: crisisaid keygen DIR writes DIR/webhook-secrets.key)"
            )
        if self.webhook_secrets_key is not None:
            for key in keys_of(self.webhook_secrets_key.get_secret_value()):
                try:
                    Fernet(key.encode())
                except ValueError as exc:
                    raise ValueError(
                        "AID_WEBHOOK_SECRETS_KEY is not a Fernet key, or a comma-separated list of them, newest "
                        "first (32 url-safe base64-encoded bytes each)"
                    ) from exc
        return self

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(parse_schedule(self.webhook_retry_schedule), self.webhook_max_retry_after_seconds)

    @property
    def webhook_destinations(self) -> Destinations:
        return Destinations(
            allow=tuple(
                ipaddress.ip_network(c.strip(), strict=False)
                for c in self.webhook_allow_private.split(",")
                if c.strip()
            ),
            ports=frozenset(int(p) for p in _items(self.webhook_ports)),
        )

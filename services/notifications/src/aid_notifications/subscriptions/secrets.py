"""Webhook signing secrets: Standard Webhooks format (`whsec_` + base64 of 24 random bytes), encrypted at rest."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

# Embedded mode only (settings refuse to run without a real key in production).
_DEVELOPMENT_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"crisisaid embedded mode only").digest())


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_encryption_key() -> str:
    return Fernet.generate_key().decode()


class UnreadableSecret(ValueError):
    """Sealed under a key this service no longer has (a restore, a key mixed up between environments)."""


def keys_of(text: str | None) -> list[str]:
    """`AID_WEBHOOK_SECRETS_KEY`: one Fernet key, or several separated by commas, the newest first."""
    return [k.strip() for k in (text or "").split(",") if k.strip()]


class SecretBox:
    """Seals with the newest key, opens with any of them (MultiFernet): add a new key in front, restart, run
    `crisisaid reseal-secrets`, then drop the old key."""

    def __init__(self, key: str | None) -> None:
        keys = keys_of(key)
        self._fernet = MultiFernet([Fernet(k.encode()) for k in keys] or [Fernet(_DEVELOPMENT_KEY)])

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        try:
            return self._fernet.decrypt(sealed.encode()).decode()
        except InvalidToken:
            raise UnreadableSecret("sealed under a key this service does not have (AID_WEBHOOK_SECRETS_KEY)") from None

    def reseal(self, sealed: str) -> str:
        """The same secret sealed under the newest key."""
        try:
            return self._fernet.rotate(sealed.encode()).decode()
        except InvalidToken:
            raise UnreadableSecret("sealed under a key this service does not have (AID_WEBHOOK_SECRETS_KEY)") from None

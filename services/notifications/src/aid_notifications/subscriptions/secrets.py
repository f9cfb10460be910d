"""Webhook signing secrets: Standard Webhooks format (`whsec_` + base64 of 24 random bytes), encrypted at rest."""

from __future__ import annotations

import base64
import hashlib
import secrets

from cryptography.fernet import Fernet

# Embedded mode only (settings refuse to run without a real key in production).
_DEVELOPMENT_KEY = base64.urlsafe_b64encode(hashlib.sha256(b"crisisaid embedded mode only").digest())


def new_secret() -> str:
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


def new_encryption_key() -> str:
    return Fernet.generate_key().decode()


class SecretBox:
    def __init__(self, key: str | None) -> None:
        self._fernet = Fernet(key.encode() if key else _DEVELOPMENT_KEY)

    def seal(self, secret: str) -> str:
        return self._fernet.encrypt(secret.encode()).decode()

    def open(self, sealed: str) -> str:
        return self._fernet.decrypt(sealed.encode()).decode()

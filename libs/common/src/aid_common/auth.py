"""Bearer JWTs: RS256, verified with a public key by every service, minted with the private key by the CLI.

Claims: `sub`, `scope` (space-separated), optional `partner_id`, `exp`, `iss`, `aud`. The `admin` scope
grants every scope.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from aid_common import state
from aid_common.errors import Forbidden, Unauthorized

ALGORITHM = "RS256"
ADMIN_SCOPE = "admin"


@dataclass(frozen=True)
class Caller:
    subject: str
    scopes: frozenset[str]
    partner_id: uuid.UUID | None = None

    @property
    def is_admin(self) -> bool:
        return ADMIN_SCOPE in self.scopes

    def has(self, scope: str) -> bool:
        return self.is_admin or scope in self.scopes

    @property
    def identity(self) -> str:
        """What idempotency keys and audit lines are scoped to."""
        return f"{self.subject}|{self.partner_id}" if self.partner_id else self.subject


class RevocationList:
    """Token ids (`jti`) that are no longer accepted: one per line in a file every service reads (a mounted
    ConfigMap in Kubernetes, `.data/revoked-tokens` in embedded mode), re-read when it changes.
    `crisisaid token revoke JTI` appends to it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._seen: tuple[float, int] | None = None
        self._ids: frozenset[str] = frozenset()

    def __contains__(self, jti: str) -> bool:
        if self.path is None:
            return False
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            return False
        if self._seen != (stat.st_mtime, stat.st_size):
            lines = self.path.read_text().splitlines()
            self._ids = frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
            self._seen = (stat.st_mtime, stat.st_size)
        return jti in self._ids


@dataclass(frozen=True)
class TokenVerifier:
    public_key: Any
    issuer: str = "crisisaid"
    audience: str = "crisisaid"
    # The longest a token may live (exp − iat): every token, and tokens for a partner's systems.
    max_lifetime: dt.timedelta = dt.timedelta(days=30)
    partner_max_lifetime: dt.timedelta = dt.timedelta(hours=24)
    revoked: RevocationList = field(default_factory=lambda: RevocationList(None))
    # Tokens verified already, by SHA-256 digest (the token itself is a credential and is not kept): their caller,
    # jti and expiry. A partner system sends the same token on every call, and the RS256 check and JWT decoding
    # cost more than the rest of authentication; expiry and revocation are still checked on every request.
    _verified: dict[bytes, tuple[Caller, str, float]] = field(default_factory=dict, compare=False, repr=False)

    VERIFIED_CACHE_SIZE = 4096

    @classmethod
    def from_file(cls, path: Path, **kw: Any) -> TokenVerifier:
        return cls(serialization.load_pem_public_key(path.read_bytes()), **kw)

    def verify(self, token: str) -> Caller:
        return self.verify_until(token)[0]

    def verify_until(self, token: str) -> tuple[Caller, float]:
        """The caller and when its token expires (epoch seconds): for whatever holds a token open, such as a
        stream, and must end at its expiry."""
        digest = hashlib.sha256(token.encode()).digest()
        known = self._verified.get(digest)
        if known is not None:
            caller, jti, expires = known
            if time.time() < expires:
                if jti in self.revoked:
                    raise Unauthorized("the bearer token was revoked")
                return caller, expires
            del self._verified[digest]  # expired: the full check below says so
        caller, jti, expires = self._verify_fully(token)
        if len(self._verified) >= self.VERIFIED_CACHE_SIZE:
            self._verified.clear()  # bounded; refilled by the tokens still in use
        self._verified[digest] = (caller, jti, expires)
        return caller, expires

    def _verify_fully(self, token: str) -> tuple[Caller, str, float]:
        try:
            claims = jwt.decode(
                token,
                self.public_key,
                algorithms=[ALGORITHM],
                issuer=self.issuer,
                audience=self.audience,
                options={"require": ["exp", "iat", "sub", "iss", "aud", "jti"]},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the bearer token has expired") from None
        except jwt.InvalidTokenError as exc:
            raise Unauthorized(f"the bearer token is not valid: {exc}") from None
        if not str(claims["sub"]).strip():
            raise Unauthorized("the bearer token names no subject (sub)")
        if str(claims["jti"]) in self.revoked:
            raise Unauthorized("the bearer token was revoked")
        most = self.partner_max_lifetime if claims.get("partner_id") else self.max_lifetime
        try:
            lifetime = dt.timedelta(seconds=float(claims["exp"]) - float(claims["iat"]))
        except (TypeError, ValueError):
            raise Unauthorized("the bearer token's exp and iat are not times") from None
        if lifetime > most:
            hours, allowed = lifetime.total_seconds() / 3600, most.total_seconds() / 3600
            raise Unauthorized(
                f"the bearer token lives {hours:.0f} h; at most {allowed:.0f} h are accepted: mint a shorter one "
                "(crisisaid token --ttl)"
            )
        partner = claims.get("partner_id")
        try:
            partner_id = uuid.UUID(str(partner)) if partner else None
        except ValueError:
            raise Unauthorized("the token's partner_id claim is not a UUID") from None
        caller = Caller(str(claims["sub"]), frozenset(str(claims.get("scope", "")).split()), partner_id)
        return caller, str(claims["jti"]), float(claims["exp"])  # epoch seconds: a time, not money


def generate_keypair() -> tuple[bytes, bytes]:
    """A new RSA-2048 key pair as (private PEM, public PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def write_keypair(directory: Path) -> tuple[Path, Path]:
    directory.mkdir(parents=True, exist_ok=True)
    private, public = generate_keypair()
    priv_path, pub_path = directory / "private.pem", directory / "public.pem"
    priv_path.touch(mode=0o600, exist_ok=True)
    priv_path.chmod(0o600)
    priv_path.write_bytes(private)
    pub_path.write_bytes(public)
    return priv_path, pub_path


def mint_token(
    private_key_pem: bytes,
    *,
    subject: str,
    scopes: list[str] | str,
    partner_id: uuid.UUID | str | None = None,
    ttl: dt.timedelta = dt.timedelta(hours=1),
    issuer: str = "crisisaid",
    audience: str = "crisisaid",
) -> str:
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "scope": scopes if isinstance(scopes, str) else " ".join(scopes),
        "iss": issuer,
        "aud": audience,
        "iat": now,
        "exp": now + ttl,
        "jti": str(uuid.uuid4()),
    }
    if partner_id:
        claims["partner_id"] = str(partner_id)
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError(f"tokens are signed with {ALGORITHM}: the private key must be an RSA key")
    return jwt.encode(claims, key, algorithm=ALGORITHM)


_bearer = HTTPBearer(auto_error=False)


def _verifier(request: Request) -> TokenVerifier:
    verifier = state.TOKEN_VERIFIER.find(request.app)
    if verifier is None:
        raise RuntimeError("no token verifier installed on this app")
    return verifier


async def current_caller(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    """The verified caller. A valid token is always accepted; a client address (the real one behind trusted
    proxies, aid_common.proxies) that keeps presenting bad tokens is refused for a while (429) — for its bad
    tokens only, so nobody can lock others out by failing on purpose from a shared address."""
    try:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Unauthorized("this route needs an Authorization: Bearer <token> header")
        caller = _verifier(request).verify(credentials.credentials)
    except Unauthorized:
        limits = state.RATE_LIMITS.find(request.app)
        if limits is not None:
            address = request.client.host if request.client else "unknown"
            await limits.refuse_if_failing(address)
            await limits.count_failure(address)
        raise
    request.state.caller = caller
    return caller


async def limit_writes(request: Request, caller: Annotated[Caller, Depends(current_caller)]) -> Caller:
    """The caller, once its write (any method but GET, HEAD, OPTIONS) is counted against its limit (429 past
    it). Every route that names a scope passes through it (`require_scope`)."""
    limits = state.RATE_LIMITS.find(request.app)
    if limits is not None and request.method not in ("GET", "HEAD", "OPTIONS"):
        await limits.count_write(caller.identity)
    return caller


def require_coordinator(scope: str, *, not_for_partners: str) -> Any:
    """A dependency: the caller with `scope`, refused (403) when its token is limited to one partner
    (partner_id) — for what only coordinators do. `not_for_partners` says what a partner's token does not do."""

    scoped = require_scope(scope)  # a default, not an annotation: annotations are strings here, read later

    async def dependency(caller: Caller = scoped) -> Caller:
        if caller.partner_id is not None:
            raise Forbidden(
                f"a partner's token (partner_id) does not {not_for_partners}; a coordinator does, with a token "
                "without partner_id"
            )
        return caller

    dependency.__name__ = f"require_coordinator_{scope.replace(':', '_')}"
    return Depends(dependency)


def require_scope(scope: str) -> Any:
    """A dependency: the verified caller, if its token carries `scope` (or `admin`); 401/403 otherwise."""

    async def dependency(caller: Annotated[Caller, Depends(limit_writes)]) -> Caller:
        if not caller.has(scope):
            held = " ".join(sorted(caller.scopes)) or "none"
            raise Forbidden(f"this route needs the scope {scope!r}; the token has: {held}")
        return caller

    dependency.__name__ = f"require_{scope.replace(':', '_')}"
    return Depends(dependency)

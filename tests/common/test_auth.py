"""TokenVerifier: a token verified once is not decoded again on every request, yet expiry and revocation still
hold on every request, and one token's caller is never handed to another."""

from __future__ import annotations

import datetime as dt
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import load_pem_public_key

from aid_common.auth import RevocationList, TokenVerifier, mint_token
from aid_common.errors import Unauthorized


@pytest.fixture
def verifier(keypair, tmp_path) -> TokenVerifier:
    return TokenVerifier(load_pem_public_key(keypair[1]), revoked=RevocationList(tmp_path / "revoked"))


def test_each_token_gets_its_own_caller_however_often_it_is_seen(verifier, keypair) -> None:
    reader = mint_token(keypair[0], subject="reader", scopes="projects:read")
    partner = mint_token(keypair[0], subject="sys", scopes="agreements:write")
    for _ in range(3):
        assert verifier.verify(reader).subject == "reader" and verifier.verify(reader).scopes == {"projects:read"}
        assert verifier.verify(partner).subject == "sys" and verifier.verify(partner).scopes == {"agreements:write"}
    assert reader not in repr(verifier) and all(isinstance(k, bytes) for k in verifier._verified)


def test_a_token_accepted_before_is_refused_once_it_expires(verifier, keypair) -> None:
    token = mint_token(keypair[0], subject="s", scopes="admin", ttl=dt.timedelta(seconds=2))
    assert verifier.verify(token).subject == "s"
    exp = jwt.decode(token, options={"verify_signature": False})["exp"]
    time.sleep(max(0.0, exp - time.time()) + 0.05)
    with pytest.raises(Unauthorized, match="expired"):
        verifier.verify(token)


def test_a_token_accepted_before_is_refused_once_revoked(verifier, keypair, tmp_path) -> None:
    token = mint_token(keypair[0], subject="s", scopes="admin")
    assert verifier.verify(token).subject == "s"
    (tmp_path / "revoked").write_text(jwt.decode(token, options={"verify_signature": False})["jti"] + "\n")
    with pytest.raises(Unauthorized, match="revoked"):
        verifier.verify(token)


def test_a_forged_token_is_refused_even_after_the_genuine_one_was_accepted(verifier, keypair) -> None:
    token = mint_token(keypair[0], subject="s", scopes="projects:read")
    assert verifier.verify(token).subject == "s"
    header, _, signature = token.split(".")
    claims = jwt.decode(token, options={"verify_signature": False}) | {"scope": "admin"}
    forged_payload = jwt.utils.base64url_encode(json.dumps(claims).encode()).decode()
    with pytest.raises(Unauthorized):
        verifier.verify(f"{header}.{forged_payload}.{signature}")

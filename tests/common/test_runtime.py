"""Auth, problem+json errors, health and metrics on a minimal service built with ServiceRuntime."""

from __future__ import annotations

import datetime as dt

from aid_common import state
from aid_common.auth import mint_token
from tests.helpers import PROBLEM, auth


async def test_no_token_is_401_problem_json(client) -> None:
    r = await client.post("/v1/things", json={"name": "x", "count": 1})
    assert r.status_code == 401
    assert r.headers["content-type"] == PROBLEM
    assert r.json()["status"] == 401 and "Bearer" in r.json()["detail"]
    assert r.headers["www-authenticate"] == "Bearer"


async def test_token_without_the_scope_is_403_problem_json(client, token) -> None:
    r = await client.post("/v1/things", json={"name": "x", "count": 1}, headers=auth(token("things:read")))
    assert r.status_code == 403 and r.headers["content-type"] == PROBLEM
    assert "things:write" in r.json()["detail"]


async def test_token_with_the_scope_or_admin_passes(client, token) -> None:
    for scopes in ("things:write", "admin"):
        r = await client.post("/v1/things", json={"name": "قطر الخيرية", "count": 1}, headers=auth(token(scopes)))
        assert r.status_code == 201 and r.json() == {"name": "قطر الخيرية", "by": "tester"}


async def test_expired_forged_and_garbage_tokens_are_401(client, keypair) -> None:
    expired = mint_token(keypair[0], subject="s", scopes="admin", ttl=dt.timedelta(seconds=-5))
    from aid_common.auth import generate_keypair

    forged = mint_token(generate_keypair()[0], subject="s", scopes="admin")
    for bad in (expired, forged, "not-a-jwt"):
        r = await client.post("/v1/things", json={"name": "x", "count": 1}, headers=auth(bad))
        assert r.status_code == 401 and r.headers["content-type"] == PROBLEM


async def test_validation_errors_are_422_problem_json_naming_the_field(client, token) -> None:
    r = await client.post("/v1/things", json={"name": "", "count": "many"}, headers=auth(token("admin")))
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    locations = {e["location"] for e in r.json()["errors"]}
    assert locations == {"body.name", "body.count"}


async def test_malformed_json_and_huge_bodies_get_clear_errors(client, token) -> None:
    r = await client.post(
        "/v1/things", content=b"{not json", headers={**auth(token("admin")), "content-type": "application/json"}
    )
    assert r.status_code == 422 and r.headers["content-type"] == PROBLEM
    r = await client.post(
        "/v1/things", content=b"x" * 5000, headers={**auth(token("admin")), "content-type": "application/json"}
    )
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM


async def test_unknown_route_is_404_problem_json(client) -> None:
    r = await client.get("/v1/nothing-here")
    assert r.status_code == 404 and r.headers["content-type"] == PROBLEM


async def test_health_readiness_metrics_and_correlation_id(client, token) -> None:
    assert (await client.get("/healthz")).json()["status"] == "ok"
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok", "broker": "ok"}
    r = await client.post(
        "/v1/things", json={"name": "x", "count": 1}, headers={**auth(token("admin")), "X-Correlation-Id": "corr-123"}
    )
    assert r.headers["x-correlation-id"] == "corr-123"
    metrics = (await client.get("/metrics")).text
    assert (
        'aid_http_request_duration_seconds_count{method="POST",route="/v1/things",service="sample",status="201"}'
        in metrics
    )


async def test_tokens_need_an_id_a_subject_and_a_bounded_life(client, keypair) -> None:
    import jwt

    now = dt.datetime.now(dt.UTC)

    def signed(**claims) -> str:
        base = {"sub": "s", "scope": "admin", "iss": "crisisaid", "aud": "crisisaid", "iat": now, "jti": "j-1"}
        base["exp"] = now + dt.timedelta(hours=1)
        body = {k: v for k, v in {**base, **claims}.items() if v is not None}
        key = serialization.load_pem_private_key(keypair[0], password=None)
        return jwt.encode(body, key, algorithm="RS256")

    from cryptography.hazmat.primitives import serialization

    for bad, says in (
        (signed(exp=dt.datetime(9999, 1, 1, tzinfo=dt.UTC)), "at most"),
        (signed(jti=None), "jti"),
        (signed(sub="  "), "subject"),
        (signed(partner_id="6f1c1b2e-6a0e-4a53-9a55-000000000001", exp=now + dt.timedelta(hours=48)), "at most 24 h"),
    ):
        r = await client.post("/v1/things", json={"name": "x", "count": 1}, headers=auth(bad))
        assert r.status_code == 401 and says in r.json()["detail"], r.text
    ok = await client.post("/v1/things", json={"name": "x", "count": 1}, headers=auth(signed()))
    assert ok.status_code == 201


async def test_a_revoked_token_is_refused_within_a_second(sample, keypair, tmp_path) -> None:
    from aid_common.auth import RevocationList, TokenVerifier

    revoked = tmp_path / "revoked-tokens"
    verifier = TokenVerifier(serialization_load(keypair[1]), revoked=RevocationList(revoked))
    state.TOKEN_VERIFIER.put(sample.app, verifier)
    token = mint_token(keypair[0], subject="s", scopes="admin")
    assert (
        await sample.client.post("/v1/things", json={"name": "x", "count": 1}, headers=auth(token))
    ).status_code == 201
    import jwt

    revoked.write_text(jwt.decode(token, options={"verify_signature": False})["jti"] + "\n")
    r = await sample.client.post("/v1/things", json={"name": "x", "count": 1}, headers=auth(token))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]


def serialization_load(public_pem: bytes):
    from cryptography.hazmat.primitives import serialization

    return serialization.load_pem_public_key(public_pem)


async def test_a_chunked_body_over_the_limit_is_413(client, token) -> None:
    async def chunks():
        for _ in range(10):
            yield b"x" * 1000  # 10 000 bytes against a limit of 2 048, without a content-length

    r = await client.post(
        "/v1/things", content=chunks(), headers={**auth(token("admin")), "content-type": "application/json"}
    )
    assert r.status_code == 413 and r.headers["content-type"] == PROBLEM
    small = await client.post(
        "/v1/things",
        content=_one(b'{"name": "x", "count": 1}'),
        headers={**auth(token("admin")), "content-type": "application/json"},
    )
    assert small.status_code == 201, small.text


async def _one(data: bytes):
    yield data

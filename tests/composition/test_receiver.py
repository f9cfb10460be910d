"""`crisisaid receive` accepts what the delivery worker signs and refuses anything else."""

from __future__ import annotations

import datetime as dt
import json

import httpx

from aid_notifications.deliveries.sender import signature_headers
from aid_notifications.subscriptions.secrets import new_secret
from crisisaid.receiver import receiver_app


async def test_signed_webhooks_are_printed_and_tampered_ones_refused(capsys) -> None:
    secret = new_secret()
    body = json.dumps(
        {"id": "e1", "type": "aid.project.funding_updated", "correlationid": "c-1", "data": {"code": "SY-1"}}
    )
    headers = signature_headers(webhook_id="msg_1", body=body, secrets=[secret], now=dt.datetime.now(dt.UTC))
    transport = httpx.ASGITransport(app=receiver_app(secret))
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        assert (await client.post("/hook", content=body, headers=headers)).status_code == 204
        assert (await client.post("/hook", content=body, headers=headers)).status_code == 204
        tampered = body.replace("SY-1", "SY-2")
        assert (await client.post("/hook", content=tampered, headers=headers)).status_code == 401
    out = capsys.readouterr()
    assert "verified msg_1 aid.project.funding_updated SY-1" in out.out and "correlation=c-1" in out.out
    assert "(again: same webhook-id)" in out.out and "REJECTED msg_1" in out.err


async def test_show_prints_each_verified_payload_in_full(capsys) -> None:
    secret = new_secret()
    body = json.dumps({"id": "e2", "type": "aid.digest", "data": {"count": 3, "projects": [{"code": "YE-1"}]}})
    headers = signature_headers(webhook_id="msg_2", body=body, secrets=[secret], now=dt.datetime.now(dt.UTC))
    transport = httpx.ASGITransport(app=receiver_app(secret, show=True))
    async with httpx.AsyncClient(transport=transport, base_url="http://receiver") as client:
        assert (await client.post("/hook", content=body, headers=headers)).status_code == 204
    out = capsys.readouterr().out
    assert '"count": 3' in out and '"code": "YE-1"' in out

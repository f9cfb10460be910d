"""`crisisaid receive`: a webhook receiver for trying out subscriptions — it verifies each request's Standard
Webhooks signature with the subscription's secret and prints one line per event."""

from __future__ import annotations

import json

import typer
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


def receiver_app(secret: str | None, *, show: bool = False) -> Starlette:
    verifier = Webhook(secret) if secret else None
    seen: set[str] = set()

    async def receive(request: Request) -> Response:
        body = await request.body()
        headers = dict(request.headers)
        webhook_id = headers.get("webhook-id", "?")
        try:
            event = verifier.verify(body, headers) if verifier else json.loads(body)
        except (WebhookVerificationError, ValueError) as exc:
            typer.secho(f"REJECTED {webhook_id}: {exc}", fg=typer.colors.RED, err=True)
            return Response(status_code=401)
        data = event.get("data") or {}
        what = data.get("code") or data.get("reference") or event.get("subject")
        amount = data.get("delta_usd") or data.get("amount_usd") or ""
        repeat = " (again: same webhook-id)" if webhook_id in seen else ""
        seen.add(webhook_id)
        status = "verified" if verifier else "unverified"
        typer.echo(
            f"{status} {webhook_id} {event.get('type')} {what} {amount} "
            f"correlation={event.get('correlationid')}{repeat}"
        )
        if show:  # the whole verified payload, as a partner's system receives it
            typer.echo(json.dumps(event, indent=2, ensure_ascii=False))
        return Response(status_code=204)

    return Starlette(routes=[Route("/{path:path}", receive, methods=["POST"])])

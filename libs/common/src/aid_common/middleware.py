"""Pure ASGI middleware: correlation id and trace parent for every request, and a cap on body size."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aid_common.context import bound, clean_correlation_id, clean_traceparent, new_traceparent
from aid_common.errors import PayloadTooLarge, problem_response

CORRELATION_HEADER = "x-correlation-id"


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        correlation = clean_correlation_id(headers.get(CORRELATION_HEADER)) or str(uuid.uuid4())
        trace = clean_traceparent(headers.get("traceparent")) or new_traceparent()

        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            response = problem_response(
                status=413,
                type_=PayloadTooLarge.type_,
                title=PayloadTooLarge.title,
                detail=f"the request body is {length} bytes; the limit is {self.max_body_bytes}",
                instance=scope.get("path"),
            )
            await response(scope, receive, send)
            return

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise PayloadTooLarge(f"the request body is larger than {self.max_body_bytes} bytes")
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (CORRELATION_HEADER.encode(), correlation.encode())]
            await send(message)

        with bound(correlation=correlation, trace=trace):
            await self.app(scope, limited_receive, send_with_id)

"""Pure ASGI middleware: correlation id and trace parent for every request, and a cap on body size."""

from __future__ import annotations

import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from aid_common.context import bound, clean_correlation_id, clean_traceparent, new_traceparent
from aid_common.errors import PayloadTooLarge, problem_response

CORRELATION_HEADER = "x-correlation-id"


async def _too_large(detail: str, scope: Scope, receive: Receive, send: Send) -> None:
    response = problem_response(
        status=413, type_=PayloadTooLarge.type_, title=PayloadTooLarge.title, detail=detail, instance=scope.get("path")
    )
    await response(scope, receive, send)


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int, max_upload_bytes: int | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # uploaded files (multipart/form-data: an FTS import) may be larger than any JSON body
        self.max_upload_bytes = max_upload_bytes or max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        correlation = clean_correlation_id(headers.get(CORRELATION_HEADER)) or str(uuid.uuid4())
        trace = clean_traceparent(headers.get("traceparent")) or new_traceparent()

        limit = (
            self.max_upload_bytes if headers.get("content-type", "").startswith("multipart/") else self.max_body_bytes
        )
        length = headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            detail = f"the request body is {length} bytes; the limit is {limit}"
            await _too_large(detail, scope, receive, send)
            return

        if length is None and scope.get("method") in ("POST", "PUT", "PATCH"):
            # No length given (a chunked body): read it here, up to the limit, so that an oversized body is a 413
            # problem — not whatever the route's body parser makes of an error half-way through.
            chunks, size, more = [], 0, True
            while more:
                message = await receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
                size += len(chunks[-1])
                more = message.get("more_body", False)
                if size > limit:
                    detail = f"the request body is larger than {limit} bytes"
                    await _too_large(detail, scope, receive, send)
                    return
            body, replayed = b"".join(chunks), False

            async def buffered() -> Message:
                nonlocal replayed
                if replayed:
                    return await receive()
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}

            receive = buffered

        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLarge(f"the request body is larger than {limit} bytes")
            return message

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"] = [*message["headers"], (CORRELATION_HEADER.encode(), correlation.encode())]
            await send(message)

        with bound(correlation=correlation, trace=trace):
            await self.app(scope, limited_receive, send_with_id)

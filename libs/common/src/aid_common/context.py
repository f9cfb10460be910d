"""The correlation id and trace parent of the work in hand, carried from HTTP request to event to handler."""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import structlog

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
traceparent: ContextVar[str | None] = ContextVar("traceparent", default=None)

_TRACEPARENT = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$")
_CORRELATION = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


def new_traceparent() -> str:
    return f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-01"


def clean_traceparent(value: str | None) -> str | None:
    return value if value and _TRACEPARENT.match(value) else None


def clean_correlation_id(value: str | None) -> str | None:
    """Accept a caller's id only if it is a plausible token: it ends up in logs and other services."""
    return value if value and _CORRELATION.match(value) else None


def current_correlation_id() -> str:
    return correlation_id.get() or str(uuid.uuid4())


@contextmanager
def bound(*, correlation: str | None, trace: str | None) -> Iterator[None]:
    """Make `correlation` and `trace` the current ones (and part of every log line) inside the block."""
    c_token = correlation_id.set(correlation)
    t_token = traceparent.set(trace)
    with structlog.contextvars.bound_contextvars(correlation_id=correlation):
        try:
            yield
        finally:
            correlation_id.reset(c_token)
            traceparent.reset(t_token)

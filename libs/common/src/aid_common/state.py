"""Typed access to what an application keeps in `app.state`: each thing has one `Slot`, named once, so a reader
gets a typed value (or a clear error naming what was never installed) instead of an untyped attribute look-up.
Services declare their own slots beside their dependencies (`deps.py`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Generic, TypeVar

from starlette.applications import Starlette
from starlette.requests import HTTPConnection

if TYPE_CHECKING:
    from aid_common.auth import TokenVerifier
    from aid_common.idempotency import Sealer
    from aid_common.rate_limits import RateLimits
    from aid_common.runtime import ServiceRuntime

T = TypeVar("T")


class Slot(Generic[T]):
    """One named thing an application holds in `app.state`."""

    def __init__(self, name: str) -> None:
        self.name = name

    def put(self, app: Starlette, value: T | None) -> None:
        """Hold `value` (None: this application has none, as `find` then says)."""
        setattr(app.state, self.name, value)

    def find(self, app: Starlette) -> T | None:
        """The value, or None when this application does not hold one."""
        value: T | None = getattr(app.state, self.name, None)
        return value

    def get(self, app: Starlette) -> T:
        value = self.find(app)
        if value is None:
            raise RuntimeError(f"app.state.{self.name} was never installed on this application")
        return value

    def of(self, request: HTTPConnection) -> T:
        """The value of the request's application."""
        return self.get(request.app)

    def maybe_of(self, request: HTTPConnection) -> T | None:
        """The value of the request's application, or None when it holds none."""
        return self.find(request.app)

    # As FastAPI dependencies (`Depends(SLOT.dependency)`): `async`, so they run on the event loop — a plain method
    # would be run in the thread pool, a hop to a worker thread and back on every request.
    async def dependency(self, request: HTTPConnection) -> T:
        return self.of(request)

    async def maybe_dependency(self, request: HTTPConnection) -> T | None:
        return self.maybe_of(request)


RUNTIME: Slot[ServiceRuntime] = Slot("runtime")
TOKEN_VERIFIER: Slot[TokenVerifier] = Slot("token_verifier")
RATE_LIMITS: Slot[RateLimits] = Slot("rate_limits")
IDEMPOTENCY_SEALER: Slot[Sealer] = Slot("idempotency_sealer")


def runtime_of(app: Starlette) -> ServiceRuntime:
    return RUNTIME.get(app)

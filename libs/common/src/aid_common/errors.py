"""RFC 9457 problem+json for every error, mapped once for all services."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import StatementError
from starlette.exceptions import HTTPException as StarletteHTTPException

from aid_common.db import AmountOutOfRange, is_transient

PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "https://crisisaid.org/problems/"

log = structlog.get_logger("aid.errors")


class ProblemError(Exception):
    """An error a caller can act on. Subclasses fix the status and the problem type."""

    status: int = 400
    type_: str = "bad-request"
    title: str = "Bad request"

    def __init__(self, detail: str, *, errors: list[dict[str, Any]] | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors
        self.extra = extra


class NotFound(ProblemError):
    status, type_, title = 404, "not-found", "Not found"


class Conflict(ProblemError):
    status, type_, title = 409, "conflict", "Conflict"


class Unprocessable(ProblemError):
    status, type_, title = 422, "unprocessable", "Unprocessable content"


class Unauthorized(ProblemError):
    status, type_, title = 401, "unauthorized", "Unauthorized"


class Forbidden(ProblemError):
    status, type_, title = 403, "forbidden", "Forbidden"


class TooManyRequests(ProblemError):
    """A limit was reached; `retry_after` seconds tell the client when to come back."""

    status, type_, title = 429, "too-many-requests", "Too many requests"

    def __init__(self, detail: str, *, retry_after: int = 60, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.retry_after = retry_after


class PayloadTooLarge(ProblemError):
    status, type_, title = 413, "payload-too-large", "Payload too large"


def problem_response(
    *,
    status: int,
    type_: str,
    title: str,
    detail: str,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": TYPE_BASE + type_, "title": title, "status": status, "detail": detail}
    if instance:
        body["instance"] = instance
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors():
        loc = [str(p) for p in err.get("loc", ())]
        out.append({"location": ".".join(loc), "message": err.get("msg", ""), "type": err.get("type", "")})
    return out


def install_problem_handlers(app: FastAPI) -> None:
    """Every error a route can end in becomes a problem+json answer (RFC 9457); nothing else reaches a client."""
    app.add_exception_handler(ProblemError, _on_problem)
    app.add_exception_handler(RequestValidationError, _on_validation)
    app.add_exception_handler(StarletteHTTPException, _on_http)
    # errors of a statement are handled here, not by the catch-all (which also re-raises to the server)
    app.add_exception_handler(StatementError, _on_database)
    app.add_exception_handler(AmountOutOfRange, _on_database)
    app.add_exception_handler(Exception, _on_unexpected)


async def _on_problem(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ProblemError)
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
    if isinstance(exc, TooManyRequests):
        headers = {"Retry-After": str(exc.retry_after)}
    return problem_response(
        status=exc.status,
        type_=exc.type_,
        title=exc.title,
        detail=exc.detail,
        instance=request.url.path,
        headers=headers,
        errors=exc.errors,
        **exc.extra,
    )


async def _on_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _validation_errors(exc)
    detail = "; ".join(f"{e['location']}: {e['message']}" for e in errors) or "invalid request"
    return problem_response(
        status=422,
        type_="validation",
        title="Request validation failed",
        detail=detail,
        instance=request.url.path,
        errors=errors,
    )


async def _on_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    phrase = HTTPStatus(exc.status_code).phrase if exc.status_code in HTTPStatus._value2member_map_ else "Error"
    detail = exc.detail if isinstance(exc.detail, str) else phrase
    return problem_response(
        status=exc.status_code,
        type_=phrase.lower().replace(" ", "-"),
        title=phrase,
        detail=detail,
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


async def _on_database(request: Request, exc: Exception) -> JSONResponse:
    out_of_range = _out_of_range(exc)
    if out_of_range is not None:
        return problem_response(
            status=422,
            type_=Unprocessable.type_,
            title=Unprocessable.title,
            detail=f"a number in the request, or computed from it, is too large: {out_of_range}; nothing was changed",
            instance=request.url.path,
        )
    return await _on_unexpected(request, exc)


async def _on_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if is_transient(exc):  # the database is restarting or unreachable: nothing was written, come back
        log.warning("request.database_unavailable", path=request.url.path, error=str(exc)[:300])
        return problem_response(
            status=503,
            type_="unavailable",
            title="Service unavailable",
            detail="The database cannot be reached right now; nothing was changed. Retry shortly "
            "(with the same Idempotency-Key).",
            instance=request.url.path,
            headers={"Retry-After": "2"},
        )
    log.exception("request.failed", path=request.url.path)
    return problem_response(
        status=500,
        type_="internal",
        title="Internal server error",
        detail="The server failed to handle this request; it has been logged.",
        instance=request.url.path,
    )


def _out_of_range(exc: BaseException) -> str | None:
    """An amount beyond what its column holds (our check, or the database's numeric_value_out_of_range)."""
    from sqlalchemy.exc import DBAPIError

    orig = getattr(exc, "orig", None) if isinstance(exc, StatementError) else exc
    if isinstance(orig, AmountOutOfRange):
        return str(orig)
    if isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) == "22003":
        return "numeric value out of range"
    return None


# The problem+json answers any route may give, documented on every operation of the OpenAPI document so that a
# client (or a fuzzer) knows what to expect: the type, title, status and detail of RFC 9457, plus `errors`.
PROBLEM_SCHEMA = {
    "type": "object",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
        "errors": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"location": {"type": "string"}, "message": {"type": "string"}},
            },
        },
    },
}
PROBLEM_STATUSES = {
    "400": "The request cannot be read",
    "401": "No bearer token, or one that is not valid",
    "403": "The token lacks the scope this route needs",
    "404": "No such object (or not one the caller may see)",
    "405": "The route does not take this method",
    "409": "Conflicts with the current state (a duplicate, a request still in progress)",
    "413": "The body is too large",
    "422": "The request is not acceptable: each problem named in `errors`",
    "429": "A limit was reached; see Retry-After",
    "503": "The database cannot be reached now; nothing was changed; see Retry-After",
}


def document_problems(schema: dict[str, Any]) -> dict[str, Any]:
    """Replace FastAPI's default 422 body with problem+json and declare every problem status on every
    operation."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["Problem"] = PROBLEM_SCHEMA
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    problem = {"content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            if isinstance(operation, dict) and "responses" in operation:
                for status, description in PROBLEM_STATUSES.items():
                    operation["responses"][status] = {"description": description, **problem}
    return schema

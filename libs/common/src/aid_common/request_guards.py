"""Checks every request passes before its route runs, installed once for every route by `ServiceRuntime.install`:

- an unknown query parameter is a 422 naming it (`/v1/projects?pillar=P1` must not silently list everything);
  what a route takes is read from its own signature;
- a NUL character anywhere — body, query, path — is a 422: PostgreSQL cannot store it in text, and no name or
  reference needs it.
"""

from __future__ import annotations

from fastapi import Request
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from aid_common.errors import Unprocessable

_ACCEPTED: dict[int, frozenset[str]] = {}


def _accepted(route: APIRoute) -> frozenset[str]:
    names = _ACCEPTED.get(id(route))
    if names is None:
        names = frozenset(_query_names(route.dependant))
        _ACCEPTED[id(route)] = names
    return names


def _query_names(dependant: Dependant) -> set[str]:
    names = {p.alias for p in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _query_names(sub)
    return names


async def reject_unknown_query_parameters(request: Request) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute) or not request.query_params:
        return
    accepted = _accepted(route)
    unknown = sorted(set(request.query_params.keys()) - accepted)
    if unknown:
        takes = ", ".join(sorted(accepted)) or "none"
        raise Unprocessable(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}; this route takes: {takes}",
            errors=[{"location": f"query.{name}", "message": "unknown query parameter"} for name in unknown],
        )


async def reject_nul_characters(request: Request) -> None:
    where = None
    if "\x00" in request.url.path:
        where = "path"
    elif any("\x00" in k or "\x00" in v for k, v in request.query_params.multi_items()):
        where = "query"
    elif request.method in ("POST", "PUT", "PATCH") and not request.headers.get("content-type", "").startswith(
        "multipart/"  # uploaded files: read by the route as files (the form parser consumed the stream)
    ):
        body = await request.body()  # already read (and cached) for the route's own parsing
        if b"\x00" in body or b"\\u0000" in body.lower():
            where = "body"
    if where is not None:
        raise Unprocessable(
            f"the request's {where} holds a NUL character (U+0000), which no field accepts",
            errors=[{"location": where, "message": "NUL character"}],
        )

"""Unknown query parameters are a 422 naming them: `/v1/projects?pillar=P1` must not silently list everything.
Installed once for every route by `ServiceRuntime.install`; what a route takes is read from its own signature."""

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

"""Which subscriptions an event goes to: a pure function of the subscription and the event."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


def type_matches(patterns: Iterable[str], event_type: str) -> bool:
    """Exact types, or a prefix ending in `*` (`aid.agreement.*`)."""
    return any(event_type.startswith(p[:-1]) if p.endswith("*") else event_type == p for p in patterns)


def dimensions(data: Mapping[str, Any]) -> dict[str, str | None]:
    """country, sector and appeal of an event: a project's own, or an agreement's earmark."""
    earmark = data.get("earmark") or {}
    return {name: data.get(name) or earmark.get(name) for name in ("country", "sector", "appeal")}


def filter_matches(
    *, countries: Iterable[str], sectors: Iterable[str], appeals: Iterable[str], data: Mapping[str, Any]
) -> bool:
    """AND across the given dimensions, OR within one; an event without a value for a filtered dimension does
    not match it (an unearmarked agreement is not a Syria agreement)."""
    found = dimensions(data)
    for name, wanted in (("country", countries), ("sector", sectors), ("appeal", appeals)):
        wanted = set(wanted)
        if wanted and found[name] not in wanted:
            return False
    return True

"""Reading OCHA FTS files, told apart by their content (any name, any order): FTS API v1 flow-search pages (JSON,
streamed with ijson, so a file of any size is read in bounded memory) and FTS's requirements-and-funding tables
(CSV: per plan, per plan x cluster, per plan x global cluster). A record that cannot be read is skipped with its
reason; the others go on."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import IO, Any

import ijson
from pydantic import ValidationError

from aid_pledges.imports.fts_models import FileKind, FtsFlow, PlanRow, Skipped

FLOWS_PREFIX = "data.flows.item"
# FTS's global clusters (the IASC list): a cluster table naming only these is the global-cluster table. A plan's own
# clusters carry the plan's names ("Food Security Sector", "Health and Nutrition Cluster", …) and its own ids.
GLOBAL_CLUSTERS = frozenset(
    {
        "Agriculture",
        "Camp Coordination / Management",
        "Child Protection",
        "Coordination and support services",
        "Early Recovery",
        "Education",
        "Emergency Shelter and NFI",
        "Emergency Telecommunications",
        "Food Security",
        "Gender Based Violence",
        "Health",
        "Logistics",
        "Mine Action",
        "Multi-sector",
        "Nutrition",
        "Other",
        "Protection",
        "Protection - Housing, Land and Property",
        "Water Sanitation Hygiene",
    }
)
UNNAMED_ROWS = frozenset({"Not specified", "Multiple clusters/sectors (shared)"})


class UnreadableFile(ValueError):
    """Not a file the FTS import knows: the message says what it expected."""


def kind_of(head: bytes) -> FileKind:
    """What a file is, from its first bytes (a flow-search page, or which requirements table)."""
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text[:1] in (b"{", b"["):
        return FileKind.FLOWS
    header = next(csv.reader(io.StringIO(text.decode("utf-8", errors="replace").splitlines()[0] if text else "")), [])
    columns = set(header)
    if {"requirements", "funding", "id", "name"} <= columns:
        return FileKind.PLAN_CLUSTERS if "clusterCode" in columns else FileKind.PLANS
    if {"amountUSD", "boundary", "onBoundary"} <= columns:
        raise UnreadableFile(
            "an HDX flows table: it lacks what the import needs (clusters, parent flows, versions); give the FTS "
            "API v1 flow-search pages (JSON) instead"
        )
    raise UnreadableFile("neither an FTS flow-search page (JSON) nor an FTS requirements table (CSV)")


def read_flows(stream: IO[bytes]) -> Iterator[FtsFlow | Skipped]:
    """Every flow of a flow-search page, one at a time."""
    try:
        for raw in ijson.items(stream, FLOWS_PREFIX, use_float=False):
            yield _flow(raw)
    except ijson.JSONError as exc:
        raise UnreadableFile(f"not valid JSON: {exc}") from exc


def _flow(raw: Any) -> FtsFlow | Skipped:
    fts_id = str(raw.get("id", "?")) if isinstance(raw, dict) else "?"
    try:
        return FtsFlow.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return Skipped(fts_id=fts_id, reason=f"{where}: {first['msg']}")


def read_plan_rows(stream: IO[bytes]) -> tuple[FileKind, list[PlanRow | Skipped]]:
    """The rows of a requirements table (small: a country's plans and clusters), and which table it is."""
    rows = list(csv.DictReader(io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")))
    kind = FileKind.PLANS
    if rows and "clusterCode" in rows[0]:
        named = {r.get("cluster") or "" for r in rows} - UNNAMED_ROWS - {""}
        kind = FileKind.GLOBAL_CLUSTERS if named and named <= GLOBAL_CLUSTERS else FileKind.PLAN_CLUSTERS
    return kind, [_plan_row(r) for r in rows]


def _plan_row(r: dict[str, str]) -> PlanRow | Skipped:
    try:
        return PlanRow(
            country=r["countryCode"],
            plan_id=r.get("id") or None,
            plan_code=r.get("code") or None,
            plan_name=r.get("name") or "",
            plan_type=r.get("typeName") or None,
            year=int(r["year"]) if r.get("year") else None,
            cluster_code=r.get("clusterCode") or None,
            cluster=r.get("cluster") or None,
            requirements_usd=_usd(r.get("requirements")),
            funding_usd=_usd(r.get("funding")),
        )
    except (KeyError, ValueError, InvalidOperation, ValidationError) as exc:
        return Skipped(fts_id=f"plan {r.get('id') or '?'}", reason=f"unreadable requirements row: {exc}")


def _usd(text: str | None) -> Decimal | None:
    return Decimal(text) if text not in (None, "") else None

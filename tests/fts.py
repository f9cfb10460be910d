"""The real OCHA FTS data the tests import: the occupied Palestinian territory, 2020 (tests/data/fts/pse, see its
SOURCE.md), read with the import's own reader."""

from __future__ import annotations

from pathlib import Path

from aid_pledges.imports.fts_files import read_flows, read_plan_rows
from aid_pledges.imports.fts_models import FileKind, FtsFlow, PlanRow

PSE = Path(__file__).parent / "data" / "fts" / "pse"
FLOW_PAGES = sorted(PSE.glob("custom-search-*.json"))


def pse_flows() -> list[FtsFlow]:
    flows: list[FtsFlow] = []
    for page in FLOW_PAGES:
        with page.open("rb") as f:
            flows += [flow for flow in read_flows(f) if isinstance(flow, FtsFlow)]
    return flows


def published(kind: FileKind) -> list[PlanRow]:
    """FTS's own published table of this kind, to compare with."""
    for table in PSE.glob("fts_requirements_funding*.csv"):
        with table.open("rb") as f:
            found, rows = read_plan_rows(f)
        if found is kind:
            return [r for r in rows if isinstance(r, PlanRow)]
    raise LookupError(kind)

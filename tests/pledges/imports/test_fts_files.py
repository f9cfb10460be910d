"""Reading FTS files: told apart by content whatever their names, flows read one at a time with exact amounts,
a bad record skipped with its reason."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from aid_pledges.imports.fts_files import UnreadableFile, kind_of, read_flows, read_plan_rows
from aid_pledges.imports.fts_models import FileKind, FtsFlow, Skipped
from tests.fts import FLOW_PAGES, PSE, pse_flows


def test_each_file_is_known_by_its_content_not_its_name() -> None:
    kinds = {}
    for path in PSE.iterdir():
        if path.suffix in (".json", ".csv"):
            try:
                kinds[path.name] = kind_of(path.read_bytes()[:4096])
            except UnreadableFile as exc:
                kinds[path.name] = str(exc)
    assert {kinds[p.name] for p in FLOW_PAGES} == {FileKind.FLOWS}
    assert kinds["fts_requirements_funding_pse.csv"] is FileKind.PLANS
    assert kinds["fts_requirements_funding_cluster_pse.csv"] is FileKind.PLAN_CLUSTERS
    assert "HDX flows table" in kinds["fts_incoming_funding_pse.csv"]
    with (PSE / "fts_requirements_funding_globalcluster_pse.csv").open("rb") as f:
        assert read_plan_rows(f)[0] is FileKind.GLOBAL_CLUSTERS
    with (PSE / "fts_requirements_funding_cluster_pse.csv").open("rb") as f:
        assert read_plan_rows(f)[0] is FileKind.PLAN_CLUSTERS
    with pytest.raises(UnreadableFile, match="neither"):
        kind_of(b"name,amount\nKuwait,1\n")


def test_the_three_pages_hold_424_flows_with_fts_amounts_exactly() -> None:
    flows = pse_flows()
    assert len(flows) == 424 and len({f.id for f in flows}) == 424
    by_id = {f.id: f for f in flows}
    parked = by_id["138397"]
    assert parked.flow_type == "Parked" and parked.amount_usd == Decimal("0")
    assert parked.child_flow_ids == ["190286", "190287", "190288", "201781", "201782"]
    assert all(isinstance(f.amount_usd, Decimal) for f in flows)
    assert sum(f.amount_usd for f in flows if f.status != "pledge") > Decimal("380000000")


def test_a_bad_flow_is_skipped_with_its_reason_and_the_others_are_read() -> None:
    good = json.loads(FLOW_PAGES[0].read_bytes())["data"]["flows"][1]
    bad = {**good, "id": "999001", "status": "promised"}
    negative = {**good, "id": "999002", "amountUSD": -5}
    page = json.dumps({"data": {"flows": [bad, good, negative]}}).encode()
    read = list(read_flows(io.BytesIO(page)))
    assert [type(r) for r in read] == [Skipped, FtsFlow, Skipped]
    assert read[0].fts_id == "999001" and "status" in read[0].reason
    assert read[2].fts_id == "999002" and "amountUSD" in read[2].reason


def test_a_truncated_page_is_refused_as_not_json() -> None:
    page = FLOW_PAGES[-1].read_bytes()
    with pytest.raises(UnreadableFile, match="not valid JSON"):
        list(read_flows(io.BytesIO(page[: len(page) // 2])))

"""`crisisaid import fts` and `crisisaid report plan-clusters` against `crisisaid dev` (what `make run` starts), as
a coordinator would use them: the PSE files imported, a summary as JSON on the last line, the report as CSV with
HXL hashtags matching FTS's published table."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal

from aid_pledges.imports.fts_models import FileKind
from tests.composition.test_dev import _free_base, _start, _stop
from tests.fts import FLOW_PAGES, PSE, pse_flows, published
from tests.helpers import eventually
from tests.processes import REPO


def _crisisaid(*args: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "crisisaid.main", *args, "--token", token],
        cwd=REPO,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


async def test_a_coordinator_imports_fts_files_and_reads_the_plan_table(tmp_path) -> None:
    data_dir, base = tmp_path / ".data", _free_base()
    proc, _ = await _start(data_dir, base, tmp_path / "dev.log")
    try:
        token = (data_dir / "admin-token").read_text().strip()
        files = [str(p) for p in [*FLOW_PAGES, *sorted(PSE.glob("fts_requirements_funding*.csv"))]]
        done = _crisisaid("import", "fts", *files, "--json", "--url", f"http://127.0.0.1:{base}", token=token)
        assert done.returncode == 0, done.stderr
        summary = json.loads(done.stdout.strip().splitlines()[-1])
        assert (summary["created"], summary["plans"], summary["skipped"]) == (len(pse_flows()), 2, [])

        expected = {r.cluster: r.funding_usd for r in published(FileKind.PLAN_CLUSTERS)}

        async def reproduced() -> bool:
            report = _crisisaid(
                "report", "plan-clusters", "--country", "PSE", "--url", f"http://127.0.0.1:{base + 1}", token=token
            )
            rows = list(csv.DictReader(io.StringIO(report.stdout)))
            if report.returncode != 0 or not rows or not rows[0]["plan_code"].startswith("#"):
                return False
            mine = {r["cluster"]: Decimal(r["funding_usd"]) for r in rows[1:] if r["plan_code"] == "HPSE20"}
            return all(abs(mine.get(k, Decimal(0)) - v) <= 1 for k, v in expected.items())

        await eventually(reproduced, timeout=120, interval=1)
        wrong = _crisisaid(
            "report", "plan-clusters", "--country", "QQ", "--url", f"http://127.0.0.1:{base + 1}", token=token
        )
        assert wrong.returncode == 2 and "not an ISO 3166-1" in wrong.stderr
        missing = _crisisaid("import", "fts", str(tmp_path / "nothing.json"), token=token)
        assert missing.returncode == 2 and "no such file" in missing.stderr
    finally:
        _stop(proc)

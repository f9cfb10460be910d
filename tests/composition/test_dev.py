"""`crisisaid dev` (what `make run` calls): three services in one process with the demo data from the seeds;
it keeps its data across a restart and does not load the demo twice."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import httpx

from tests.helpers import eventually
from tests.processes import REPO, free_port


def _free_base() -> int:
    while True:
        base = free_port()
        if base < 65000 and all(_is_free(base + i) for i in (1, 2)):
            return base


def _is_free(port: int) -> bool:
    import socket

    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


async def _start(data_dir: Path, base: int, log: Path) -> tuple[subprocess.Popen, float]:
    started = time.monotonic()
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "crisisaid.main", "dev", "--data-dir", str(data_dir), "--base-port", str(base)],
            cwd=REPO,
            env={k: v for k, v in os.environ.items() if not k.startswith(("AID_", "DATABASE_URL", "KAFKA_"))}
            | {"PYTHONUNBUFFERED": "1"},
            stdout=out,
            stderr=subprocess.STDOUT,
        )

    async def loaded() -> bool:
        return "demo data:" in log.read_text(errors="replace")

    await eventually(loaded, timeout=60)
    return proc, time.monotonic() - started


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0


async def test_dev_serves_the_demo_and_keeps_it_across_a_restart(tmp_path) -> None:
    data_dir, base, log = tmp_path / "data", _free_base(), tmp_path / "dev.log"
    proc, took = await _start(data_dir, base, log)
    try:
        text = log.read_text()
        assert f"http://127.0.0.1:{base}" in text and f"http://127.0.0.1:{base + 2}" in text
        token = (data_dir / "admin-token").read_text().strip()
        assert token in text
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(headers=headers) as http:

            async def funded() -> dict | None:
                r = await http.get(f"http://127.0.0.1:{base + 1}/v1/projects", params={"country": "SY"})
                items = r.json()["items"]
                return items if items and all(p["funded_usd"] != "0.00" for p in items) else None

            syria = await eventually(funded, timeout=30)
            assert {p["region"] for p in syria} == {"north-west Syria"}
            assert any(p["names"]["ar"] == "الرعاية الصحية الأولية للأسر النازحة في شمال غرب سوريا" for p in syria)
            egypt = (await http.get(f"http://127.0.0.1:{base + 1}/v1/projects", params={"country": "EG"})).json()
            assert egypt["items"][0]["pledged_usd"] == "1000000.00" and egypt["items"][0]["funded_usd"] == "0.00"
            appeal = (await http.get(f"http://127.0.0.1:{base + 1}/v1/appeals/IOM-GA-2024")).json()
            assert [p["requirements_usd"] for p in appeal["pillars"]] == [
                "3400000000.00",
                "2700000000.00",
                "1600000000.00",
                "163000000.00",
            ]
            partners = (await http.get(f"http://127.0.0.1:{base + 2}/v1/partners")).json()["items"]
            assert {p["names"]["ar"] for p in partners} >= {"الهلال الأحمر المصري", "قطر الخيرية"}
            # by the dates money moved: nothing by 2023's end, Kuwait's (signed 20 Feb 2024) by February's
            by_day = {}
            for day in ("2023-12-31", "2024-02-29", "2024-06-30"):
                r = await http.get(f"http://127.0.0.1:{base + 1}/v1/coverage", params={"by": "all", "as_of": day})
                by_day[day] = Decimal(r.json()["items"][0]["funded_usd"])
            assert by_day["2023-12-31"] == 0 < by_day["2024-02-29"] < by_day["2024-06-30"]
            before = (await http.get(f"http://127.0.0.1:{base}/v1/agreements", params={"limit": 500})).json()
            funded_before = {p["code"]: p["funded_usd"] for p in syria}
    finally:
        _stop(proc)

    log = tmp_path / "dev-again.log"
    proc, _ = await _start(data_dir, base, log)
    try:
        assert "demo data: already there" in log.read_text()
        async with httpx.AsyncClient(headers=headers) as http:
            after = (await http.get(f"http://127.0.0.1:{base}/v1/agreements", params={"limit": 500})).json()
            assert [a["id"] for a in after["items"]] == [a["id"] for a in before["items"]]
            syria = (await http.get(f"http://127.0.0.1:{base + 1}/v1/projects", params={"country": "SY"})).json()
            assert {p["code"]: p["funded_usd"] for p in syria["items"]} == funded_before
    finally:
        _stop(proc)
    print(f"crisisaid dev: demo loaded {took:.1f} s after start")

"""Services as real OS processes (`crisisaid serve`), for tests that kill them with SIGKILL."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from bench.processes import REPO, Process, free_port

__all__ = ["REPO", "ServiceProcess", "free_port", "migrate"]


class ServiceProcess(Process):
    def __init__(self, service: str, role: str, env: dict[str, str], log_dir: Path, port: int | None = None) -> None:
        self.service, self.role = service, role
        port = port or free_port()
        cmd = [sys.executable, "-m", "crisisaid.main", "serve", service, "--role", role]
        cmd += ["--port", str(port), "--host", "127.0.0.1"]
        super().__init__(cmd, {**os.environ, **env}, port, log_dir / f"{service}-{role}-{port}.log")

    async def start(self, timeout: float = 60.0) -> ServiceProcess:  # type: ignore[override]
        await super().start("/readyz", timeout)
        return self


def migrate(service: str, url: str) -> None:
    """`crisisaid migrate SERVICE` against the database at `url`, as an operator runs it before a deploy."""
    out = subprocess.run(
        [sys.executable, "-m", "crisisaid.main", "migrate", service],
        cwd=REPO,
        env={"DATABASE_URL": url, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stdout + out.stderr

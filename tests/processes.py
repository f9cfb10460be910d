"""Services as real OS processes (`crisisaid serve`), for tests that kill them with SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ServiceProcess:
    def __init__(self, service: str, role: str, env: dict[str, str], log_dir: Path, port: int | None = None) -> None:
        self.service, self.role, self.env = service, role, env
        self.port = port or free_port()
        self.log_path = log_dir / f"{service}-{role}-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, timeout: float = 60.0) -> ServiceProcess:
        cmd = [sys.executable, "-m", "aid_cli.main", "serve", self.service, "--role", self.role]
        cmd += ["--port", str(self.port), "--host", "127.0.0.1"]
        env = {**os.environ, **self.env}
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        async with httpx.AsyncClient() as client:
            while loop.time() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.service} {self.role} exited at start:\n{self.tail()}")
                try:
                    if (await client.get(self.url + "/readyz", timeout=2)).status_code == 200:
                        return self
                except httpx.HTTPError:
                    pass
                await asyncio.sleep(0.2)
        raise RuntimeError(f"{self.service} {self.role} not ready after {timeout}s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flush, no commit — a crash."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()

    def tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

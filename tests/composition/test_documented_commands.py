"""Every `crisisaid` command the documentation shows, run as written (hardening item 15: docker-compose.yml's header
command failed with `--subject is required`). Minting and revoking tokens and making keys run for real against a
scratch key; the other commands (servers, imports) are parsed by the real command line — their options and
arguments must exist and suffice — with their bodies replaced, since they start servers or call remote ones."""

from __future__ import annotations

import re
import shlex
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
import typer.testing

from aid_common.auth import write_keypair
from crisisaid.main import app
from tests.conftest import REPO

RUN_FOR_REAL = {("token",), ("token", "revoke"), ("keygen",)}
_FENCE = re.compile(r"^```[a-z]*\n(.*?)^```", re.S | re.M)
_INLINE = re.compile(r"`(crisisaid [^`]+)`")
_PLACEHOLDER = re.compile(r"…|\.\.\.|\[|\\\||\bN\b|\bXX\b|\bNAME\b|\bDIR\b|<\w+>")


def _lines(text: str) -> Iterator[str]:
    for line in re.sub(r"\\\n\s*", " ", text).splitlines():
        yield re.sub(r"\s+#.*$", "", line).strip()


def documented() -> Iterator[tuple[str, str]]:
    """(where, the command line after `crisisaid`) for each command a reader would paste."""
    for path in sorted([REPO / "README.md", *(REPO / "docs").rglob("*.md")]):
        text = path.read_text()
        blocks = _FENCE.findall(text)
        inline = [m for m in _INLINE.findall(_FENCE.sub("", text)) if "--" in m and not _PLACEHOLDER.search(m)]
        for line in [ln for b in blocks for ln in _lines(b)] + inline:
            yield from _commands(path.relative_to(REPO), line)
    compose = REPO / "docker-compose.yml"
    header = "\n".join(ln.lstrip("#") for ln in compose.read_text().splitlines() if ln.startswith("#"))
    for line in _lines(header):
        yield from _commands(compose.relative_to(REPO), line)


_COMMAND = re.compile(
    r"^(?:\w+=\S+\s+)*(?:\S*/)?crisisaid\s+(?P<args>[a-z].*)"  # crisisaid …, VAR=x crisisaid …, .venv/bin/crisisaid …
    r"|--entrypoint\s+crisisaid\s+[\w-]+\s+(?P<compose>[a-z].*)"  # docker compose run --entrypoint crisisaid SERVICE …
)


def _commands(where: Path, line: str) -> Iterator[tuple[str, str]]:
    for segment in re.split(r"&&|;|\|\|?|&(?!\w)|\$\(|\)", line):
        if match := _COMMAND.search(segment.strip()):
            yield f"{where}: {line}", (match["args"] or match["compose"]).strip()


def _argv(args: str, scratch: Path) -> list[str]:
    words = shlex.split(re.sub(r"\$\{?(\w+)\}?", r"$\1", args))
    out: list[str] = []
    for i, word in enumerate(words):
        before = words[i - 1] if i else ""
        if before == "--partner-id" or word == "JTI":
            word = str(uuid.uuid4())
        elif before == "--key-file":
            word = str(scratch / "keys/private.pem")
        elif word.startswith("$"):
            word = "value"
        elif before == "keygen":
            word = str(scratch / "new-keys")
        out.append(word)
    return out


def _path(command: Any, argv: list[str]) -> tuple[str, ...]:
    names: list[str] = []
    while argv and argv[0] in getattr(command, "commands", {}):
        names.append(argv[0])
        command, argv = command.commands[argv[0]], argv[1:]
    return tuple(names)


def _stub_bodies(command: Any, here: tuple[str, ...] = ()) -> None:
    if here and here not in RUN_FOR_REAL:
        command.callback = lambda *a, **kw: None
    for name, sub in getattr(command, "commands", {}).items():
        _stub_bodies(sub, (*here, name))


COMMANDS = sorted(set(documented()))


def test_the_documentation_shows_the_commands_people_need() -> None:
    shown = {_path(typer.main.get_command(app), shlex.split(args)) for _, args in COMMANDS}
    assert {("token",), ("token", "revoke"), ("keygen",), ("serve",), ("migrate",), ("import", "fts")} <= shown


@pytest.mark.parametrize(("where", "args"), COMMANDS)
def test_a_documented_command_runs_as_written(where: str, args: str, tmp_path: Path, monkeypatch) -> None:
    write_keypair(tmp_path / "keys")
    for name in ("AID_MODE", "AID_JWT_PRIVATE_KEY_FILE", "AID_REVOKED_TOKENS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AID_JWT_PRIVATE_KEY_FILE", str(tmp_path / "keys/private.pem"))
    monkeypatch.setenv("AID_REVOKED_TOKENS_FILE", str(tmp_path / "revoked-tokens"))
    monkeypatch.chdir(tmp_path)  # outside the checkout: no embedded-mode key to fall back on
    cli = typer.main.get_command(app)
    argv = _argv(args, tmp_path)
    _stub_bodies(cli)
    monkeypatch.setattr(typer.testing, "_get_command", lambda _: cli)  # the command line with its bodies stubbed
    result = typer.testing.CliRunner().invoke(app, argv, catch_exceptions=False)
    assert result.exit_code == 0, f"{where}\n  crisisaid {' '.join(argv)}\n{result.output}"

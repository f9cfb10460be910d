"""Commands that talk to running services over HTTP: `crisisaid import fts FILE...` and `crisisaid report
plan-clusters`. By default they reach embedded mode (`make run`: its ports, and the admin token it wrote to
.data/admin-token, looked for from here up); `--url` and `--token` (or AID_TOKEN) reach any deployment."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path
from typing import Annotated, Any, NoReturn

import httpx
import typer

import_app = typer.Typer(help="Import data from elsewhere: `crisisaid import fts FILE...`.")
report_app = typer.Typer(help="Reports: `crisisaid report plan-clusters --country PS`.")
EMBEDDED_TOKEN = Path(".data/admin-token")
PLEDGES_URL = "http://127.0.0.1:8001"
PROJECTS_URL = "http://127.0.0.1:8002"
Token = Annotated[
    str | None, typer.Option(envvar="AID_TOKEN", help="a bearer token (default: embedded mode's admin token)")
]


def _fail(message: str) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(2)


def _token(given: str | None) -> str:
    if given:
        return given
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / EMBEDDED_TOKEN).exists():
            return (folder / EMBEDDED_TOKEN).read_text().strip()
    _fail("no token: give --token (or AID_TOKEN), or run `make run` once in the checkout (it writes .data/admin-token)")


def _problem(r: httpx.Response) -> str:
    try:
        return str(r.json().get("detail") or r.text)
    except ValueError:
        return r.text[:500]


@import_app.command("fts")
def import_fts(
    files: Annotated[list[Path], typer.Argument(help="FTS flow-search pages (JSON) and requirements tables (CSV)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the summary as one JSON object, last line")] = False,
    url: Annotated[str, typer.Option(help="the pledges service")] = PLEDGES_URL,
    token: Token = None,
) -> None:
    """Import OCHA FTS files, told apart by content (any names, any order), one request per file under one
    correlation id. Prints what was created, amended, unchanged and skipped (with reasons)."""
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        _fail(f"no such file: {', '.join(missing)}")
    headers = {"Authorization": f"Bearer {_token(token)}", "X-Correlation-Id": f"import-{uuid.uuid4()}"}
    total: dict[str, Any] = {"created": 0, "amended": 0, "unchanged": 0, "plans": 0, "skipped": []}
    with httpx.Client(base_url=url, headers=headers, timeout=600) as http:
        shown = typer.progressbar(files, label="importing", file=sys.stderr) if sys.stderr.isatty() else None
        with shown if shown is not None else _Quiet(files) as each:
            for path in each:
                total = _merge(total, _post(http, path))
    if as_json:
        typer.echo(json.dumps(total, ensure_ascii=False))
        return
    typer.echo(
        f"created {total['created']}, amended {total['amended']}, unchanged {total['unchanged']}, "
        f"plans {total['plans']}, skipped {len(total['skipped'])}"
    )
    for skipped in total["skipped"]:
        typer.echo(f"  skipped {skipped['fts_id']}: {skipped['reason']}")


class _Quiet:
    """The files, without a progress bar (not a terminal)."""

    def __init__(self, items: list[Path]) -> None:
        self.items = items

    def __enter__(self) -> list[Path]:
        return self.items

    def __exit__(self, *exc: object) -> None:
        return None


def _post(http: httpx.Client, path: Path) -> dict[str, Any]:
    with path.open("rb") as f:
        try:
            r = http.post(
                "/v1/imports/fts", files=[("files", (path.name, f))], headers={"Idempotency-Key": str(uuid.uuid4())}
            )
        except httpx.HTTPError as exc:
            _fail(f"{http.base_url} cannot be reached ({exc}); is the pledges service running (`make run`)?")
    if r.status_code != 200:
        _fail(f"{path.name}: {r.status_code} {_problem(r)}")
    answer: dict[str, Any] = r.json()
    return answer


def _merge(total: dict[str, Any], one: dict[str, Any]) -> dict[str, Any]:
    return {
        **{k: total[k] + one.get(k, 0) for k in ("created", "amended", "unchanged", "plans")},
        "skipped": [*total["skipped"], *one.get("skipped", [])],
    }


@report_app.command("plan-clusters")
def plan_clusters(
    country: Annotated[str, typer.Option(help="ISO 3166-1 alpha-2 or alpha-3, e.g. PS or PSE")],
    fmt: Annotated[str, typer.Option("--format", help="csv (with HXL hashtags) or json")] = "csv",
    as_of: Annotated[str | None, typer.Option(help="money moved by this date")] = None,
    url: Annotated[str, typer.Option(help="the projects service")] = PROJECTS_URL,
    token: Token = None,
) -> None:
    """A country's plan x cluster table as FTS publishes it, computed by the platform from its own ledger."""
    if fmt not in ("csv", "json"):
        _fail("--format is csv or json")
    params = {"country": country, "format": fmt} | ({"as_of": as_of} if as_of else {})
    try:
        r = httpx.get(
            f"{url}/v1/reports/plan-clusters",
            params=params,
            headers={"Authorization": f"Bearer {_token(token)}"},
            timeout=120,
        )
    except httpx.HTTPError as exc:
        _fail(f"{url} cannot be reached ({exc}); is the projects service running (`make run`)?")
    if r.status_code != 200:
        _fail(f"{r.status_code} {_problem(r)}")
    sys.stdout.write(r.text if fmt == "csv" else json.dumps(r.json(), indent=2, ensure_ascii=False) + "\n")

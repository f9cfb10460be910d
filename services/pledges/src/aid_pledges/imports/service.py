"""Importing OCHA FTS files: flows become agreements (keyed by FTS flow id and version, `agreements.imported`),
their source organisations donors; requirements tables are published to the projects service as plans
(`aid.plan.published`). One unit of work: a file that cannot be read at all refuses the whole import (422,
nothing written); a record that cannot be imported is skipped with its reason, and the others go on."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import IO

import pycountry
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.auth import Caller
from aid_common.errors import ProblemError, Unprocessable
from aid_contracts.pledges import PlanCluster, PlanPublished
from aid_pledges.agreements import imported
from aid_pledges.donors import service as donors
from aid_pledges.imports.fts_files import UnreadableFile, kind_of, read_flows, read_plan_rows
from aid_pledges.imports.fts_mapping import country_code
from aid_pledges.imports.fts_models import FileKind, FtsFlow, FtsObject, ImportSummary, PlanRow, Skipped

HEAD = 4096
# The donor of flows whose source organisation FTS does not name.
UNNAMED_SOURCE = FtsObject(type="Organization", id="unnamed", name="Source not named in FTS")


async def import_files(
    *, session: AsyncSession, files: Sequence[tuple[str, IO[bytes]]], caller: Caller
) -> ImportSummary:
    kinds = [_kind(name, f, i) for i, (name, f) in enumerate(files)]
    summary = ImportSummary()
    for (name, f), kind in zip(files, kinds, strict=True):
        if kind is FileKind.FLOWS:
            await _flows(session, name, f, caller, summary)
        else:
            _plans(session, f, summary)
    return summary


def _kind(name: str, f: IO[bytes], position: int) -> FileKind:
    head = f.read(HEAD)
    f.seek(0)
    try:
        return kind_of(head)
    except UnreadableFile as exc:
        raise Unprocessable(
            f"{name}: {exc}; nothing was imported",
            errors=[{"location": f"body.files[{position}]", "message": str(exc)}],
        ) from None


async def _flows(session: AsyncSession, name: str, f: IO[bytes], caller: Caller, summary: ImportSummary) -> None:
    try:
        for item in read_flows(f):
            outcome = item if isinstance(item, Skipped) else await _flow(session, item, caller)
            if isinstance(outcome, Skipped):
                summary.skipped.append(outcome)
            else:
                setattr(summary, outcome, getattr(summary, outcome) + 1)
    except UnreadableFile as exc:
        raise Unprocessable(f"{name}: {exc}; nothing was imported") from None


async def _flow(session: AsyncSession, flow: FtsFlow, caller: Caller) -> imported.Outcome | Skipped:
    """One flow in a savepoint of its own: if it cannot be imported, it alone is undone."""
    organisations = flow.objects("source", "Organization")
    source = organisations[0] if organisations else UNNAMED_SOURCE  # FTS counts the money all the same
    places = {country_code(o.name) for o in flow.objects("source", "Location")} - {None}
    try:
        async with session.begin_nested():
            donor = await donors.for_fts_organisation(
                session=session,
                fts_org_id=source.id,
                name=source.name,
                types=source.organization_types,
                country=places.pop() if len(places) == 1 and organisations else None,
            )
            return await imported.apply_flow(session=session, flow=flow, donor=donor, caller=caller)
    except (imported.NotImportable, ProblemError, IntegrityError, ValueError) as exc:
        return Skipped(fts_id=flow.id, reason=str(getattr(exc, "detail", None) or exc).splitlines()[0][:500])


def _plans(session: AsyncSession, f: IO[bytes], summary: ImportSummary) -> None:
    """A requirements table: one aid.plan.published per plan and country (the global-cluster table adds nothing:
    a plan's clusters are its own)."""
    kind, rows = read_plan_rows(f)
    if kind is FileKind.GLOBAL_CLUSTERS:
        return
    groups: dict[tuple[str, str], list[PlanRow]] = defaultdict(list)
    for row in rows:
        if isinstance(row, Skipped):
            summary.skipped.append(row)
        elif row.plan_id:  # the row without a plan is FTS's own figure for money outside every plan
            groups[(row.plan_id, row.country)].append(row)
    for (plan_id, alpha_3), plan_rows in groups.items():
        country = pycountry.countries.get(alpha_3=alpha_3)
        if country is None:
            summary.skipped.append(Skipped(fts_id=f"plan {plan_id}", reason=f"unknown country code {alpha_3!r}"))
            continue
        outbox.add(session, _plan(plan_id, str(country.alpha_2), plan_rows, whole=kind is FileKind.PLANS))
        summary.plans += 1


def _plan(plan_id: str, country: str, rows: list[PlanRow], *, whole: bool) -> PlanPublished:
    first = rows[0]
    return PlanPublished(
        fts_plan_id=plan_id,
        code=first.plan_code or f"FTS-{plan_id}",
        name=first.plan_name or f"FTS plan {plan_id}",
        plan_type=first.plan_type,
        year=first.year or 0,
        country=country,
        plan_row=whole,
        requirements_usd=first.requirements_usd if whole else None,
        published_funding_usd=first.funding_usd if whole else None,
        clusters=None
        if whole
        else [
            PlanCluster(
                key=r.cluster_code,
                name=r.cluster or r.cluster_code,
                requirements_usd=r.requirements_usd,
                published_funding_usd=r.funding_usd,
            )
            for r in rows
            if r.cluster_code
        ],
    )

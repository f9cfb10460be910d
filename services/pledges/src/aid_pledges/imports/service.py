"""Importing OCHA FTS files: flows become agreements (keyed by FTS flow id and version, `agreements.imported`),
their source organisations donors; requirements tables are published to the projects service as plans
(`aid.plan.published`). One unit of work: a file that cannot be read at all refuses the whole import (422,
nothing written); a record that cannot be imported is skipped with its reason, and the others go on."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import IO

import pycountry
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from aid_common import outbox
from aid_common.auth import Caller
from aid_common.db import is_transient
from aid_common.errors import ProblemError, Unprocessable
from aid_contracts.pledges import PlanCluster, PlanPublished
from aid_pledges.agreements import imported
from aid_pledges.imports.fts_files import UnreadableFile, kind_of, read_flows, read_plan_rows
from aid_pledges.imports.fts_mapping import country_code
from aid_pledges.imports.fts_models import FileKind, FtsFlow, FtsObject, ImportSummary, PlanRow, Skipped
from aid_pledges.organisations import service as organisations
from aid_pledges.organisations.models import Organisation, Role

HEAD = 4096
PAGE = 200  # flows whose known versions and donors are read together
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
    page = _Page(session, caller, summary)
    try:
        for item in read_flows(f):
            if isinstance(item, Skipped):
                summary.skipped.append(item)
            else:
                await page.add(item)
        await page.flush()
    except UnreadableFile as exc:
        raise Unprocessable(f"{name}: {exc}; nothing was imported") from None


class _Page:
    """Flows taken PAGE at a time: what is already known of them (recorded versions, organisations) read in one
    statement each. New flows are written together, a statement per table (`imported.create_many`), with the
    organisations they make or give a new role — planned in memory, stored only for flows that can be imported; a
    flow known before (an amendment) goes in a savepoint of its own — if it cannot be imported, it alone is undone."""

    def __init__(self, session: AsyncSession, caller: Caller, summary: ImportSummary) -> None:
        self.session, self.caller, self.summary = session, caller, summary
        self.dialect = session.get_bind().dialect
        self.flows: list[FtsFlow] = []
        # for the whole import, by FTS organisation id: an organisation once created or read, with the roles seen
        self.organisations: dict[str, Organisation] = {}
        # what the flows waiting to be written make of organisations: new ones (by FTS id), roles they now play
        self.new_organisations: dict[str, Organisation] = {}
        self.granted: dict[str, Organisation] = {}

    async def add(self, flow: FtsFlow) -> None:
        self.flows.append(flow)
        if len(self.flows) >= PAGE:
            await self.flush()

    async def flush(self) -> None:
        flows, self.flows = self.flows, []
        if not flows:
            return
        known = await imported.known_versions(session=self.session, flow_ids=[f.id for f in flows])
        wanted = {o.id for f in flows for o in (_source(f)[0], *_recipient(f))} - self.organisations.keys()
        if wanted:
            self.organisations |= await organisations.by_fts_organisation(session=self.session, fts_org_ids=wanted)
        donors = {f.id: self.organisations.get(_source(f)[0].id) for f in flows if known.get(f.id) is None}
        taken = await imported.taken_references(
            session=self.session,
            pairs=[(d.id, imported.reference_of(flow_id)) for flow_id, d in donors.items() if d is not None],
        )
        batch: dict[str, imported.NewFlow] = {}
        for flow in flows:
            if known.get(flow.id) is None and flow.id not in batch:
                new = self._new(flow, taken)
                if isinstance(new, Skipped):
                    self.summary.skipped.append(new)
                else:
                    batch[flow.id] = new
                continue
            await self._create(list(batch.values()), known)
            batch = {}
            self._count(flow, await self._one(flow, known.get(flow.id)), known)
        await self._create(list(batch.values()), known)

    def _count(self, flow: FtsFlow, outcome: imported.Outcome | Skipped, known: dict[str, int]) -> None:
        if isinstance(outcome, Skipped):
            self.summary.skipped.append(outcome)
            return
        setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)
        if outcome != "unchanged":
            known[flow.id] = flow.version  # a later copy of the same flow in this import is not new

    def _new(self, flow: FtsFlow, taken: set[tuple[uuid.UUID, str]]) -> imported.NewFlow | Skipped:
        """A new flow ready to write, with its organisations as they will be (nothing stored yet); skipped before
        anything is planned for it when its donor already used its reference (`taken`, read for the page)."""
        source, country = _source(flow)
        parts = [(source, Role.DONOR, country), *((o, Role.RECIPIENT, None) for o in _recipient(flow))]
        seen: dict[str, Organisation] = {}  # a flow may name one organisation at both ends
        for o, _, code in parts:
            if o.id not in seen:
                seen[o.id] = self._organisation(o, code)
        playing = [seen[o.id] for o, _, _ in parts]
        if (playing[0].id, imported.reference_of(flow.id)) in taken:
            return _skipped(flow, imported.reference_taken(flow.id, playing[0].id))
        try:
            new = imported.new_flow(
                flow,
                playing[0],
                playing[1] if len(playing) > 1 else None,
                self.caller,
                self.dialect,
            )
        except (imported.NotImportable, ProblemError, ValueError) as exc:
            return _skipped(flow, exc)
        for (o, role, _), organisation in zip(parts, playing, strict=True):
            if o.id not in self.organisations:
                self.new_organisations[o.id] = organisation
            if not organisation.plays(role):
                organisation.grant(role)
                if o.id in self.organisations:
                    self.granted[o.id] = organisation
        return new

    def _organisation(self, o: FtsObject, country: str | None) -> Organisation:
        """The organisation FTS names `o`: known, or the new one this page's flows share (not stored yet)."""
        known = self.organisations.get(o.id) or self.new_organisations.get(o.id)
        if known is not None:
            return known
        return organisations.from_fts(fts_org_id=o.id, name=o.name, types=o.organization_types, country=country)

    async def _create(self, batch: list[imported.NewFlow], known: dict[str, int]) -> None:
        """New flows in one write; if the database refuses a row of it, each again in a savepoint of its own, so
        that the flow it belongs to alone is skipped."""
        if not batch:
            return
        made, granted = self.new_organisations, self.granted
        self.new_organisations, self.granted = {}, {}
        try:
            async with self.session.begin_nested():
                organisations.add_new(self.session, list(made.values()))
                for organisation in granted.values():
                    organisations.announce(self.session, organisation, created=False)
                written = await imported.create_many(session=self.session, flows=batch)
        except DBAPIError as exc:
            if is_transient(exc):
                raise
            for fts_id in made.keys() | granted.keys():  # undone with the savepoint: read again
                self.organisations.pop(fts_id, None)
            for new in batch:
                self._count(new.flow, await self._one(new.flow, None), known)
            return
        self.organisations |= made
        for new, ok in zip(batch, written, strict=True):
            self._count(new.flow, "created" if ok else _skipped(new.flow, imported.taken(new)), known)

    async def _one(self, flow: FtsFlow, known: int | None) -> imported.Outcome | Skipped:
        source, country = _source(flow)
        try:
            async with self.session.begin_nested():
                donor = await self._playing(source, Role.DONOR, country)
                recipient = None
                for o in _recipient(flow):
                    recipient = await self._playing(o, Role.RECIPIENT, None)
                outcome = await imported.apply_flow(
                    session=self.session, flow=flow, donor=donor, recipient=recipient, caller=self.caller, known=known
                )
        except (imported.NotImportable, ProblemError, DBAPIError, ValueError) as exc:
            if isinstance(exc, DBAPIError) and is_transient(exc):
                raise  # the database away: the whole import fails and is retried, nothing of it written
            for o in (source, *_recipient(flow)):  # what its savepoint made or granted is undone: read again
                self.organisations.pop(o.id, None)
            return _skipped(flow, exc)
        return outcome

    async def _playing(self, o: FtsObject, role: Role, country: str | None) -> Organisation:
        """The organisation FTS names `o`, now playing `role`: from this import's own map when it is there."""
        known = self.organisations.get(o.id)
        if known is not None:
            await organisations.grant(self.session, known, role)
            return known
        organisation = await organisations.for_fts_organisation(
            session=self.session, fts_org_id=o.id, name=o.name, types=o.organization_types, country=country, role=role
        )
        self.organisations[o.id] = organisation
        return organisation


def _skipped(flow: FtsFlow, exc: Exception) -> Skipped:
    return Skipped(fts_id=flow.id, reason=str(getattr(exc, "detail", None) or exc).splitlines()[0][:500])


def _recipient(flow: FtsFlow) -> list[FtsObject]:
    """The organisation the money goes to, when FTS names one (the first: a flow to several names them all in its
    details)."""
    return flow.objects("destination", "Organization")[:1]


def _source(flow: FtsFlow) -> tuple[FtsObject, str | None]:
    """The organisation the money comes from (FTS counts it even when it names none) and its country."""
    organisations = flow.objects("source", "Organization")
    if not organisations:
        return UNNAMED_SOURCE, None
    places = {country_code(o.name) for o in flow.objects("source", "Location")} - {None}
    return organisations[0], places.pop() if len(places) == 1 else None


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
